"""What a persona contributes to a turn's prompt.

The static part (card prompt, description, personality, scenario, always-on lore) goes into the
system message and the example dialogue into the turns after it; both stay identical from turn to
turn, so they are the KV-cache prefix of every prompt. Lore entries triggered by a
keyword in the recent conversation change every turn, so they travel with the recalled memories at
the end of the prompt. Card text is data: ``{{char}}``/``{{user}}`` are filled in, nothing in it is
interpreted as an instruction to Keepsake itself (the safety filter does not read it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.core.backends import Message
from app.core.settings import Sampling
from personas.persona import Persona

DEFAULT_USER = "you"
STYLE_BIAS = 1.5  # logit added to a persona's distinctive words (see ``sampling``)
REPLY_TOKENS = (96, 160)  # bounds on a persona's reply length: one paragraph of its letters, about 110 words at most


def fill(text: str, persona: Persona, user: str = DEFAULT_USER) -> str:
    """Replace the card placeholders: ``{{char}}`` is the persona, ``{{user}}`` the person chatting."""
    return re.sub(r"\{\{\s*char\s*\}\}|<BOT>", persona.name, re.sub(r"\{\{\s*user\s*\}\}|<USER>", user, text, flags=re.I), flags=re.I)


def system_prompt(persona: Persona) -> str:
    """The stable system message for a persona."""
    parts = [persona.system_prompt or f"You are {persona.name}. Stay in character."]
    for label, value in (("About you", persona.description), ("Your personality", persona.personality),
                         ("The situation", persona.scenario)):
        if value.strip() and value.strip() not in parts[0]:
            parts.append(f"{label}: {value.strip()}")
    constant = [e.content for e in persona.lorebook if e.enabled and e.constant]
    if constant:
        parts.append("Facts you always know:\n" + "\n".join(f"- {c}" for c in constant))
    return fill("\n\n".join(parts), persona)


def example_turns(persona: Persona, user: str = DEFAULT_USER) -> list[Message]:
    """The card's example dialogue as chat turns, read after the system message (as SillyTavern sends
    example messages to a chat-completion model).

    Shown as the persona's own earlier replies, the passages set the voice of the next one: on the
    fidelity dev questions, eight letter passages as turns scored 0.51 against 0.41 for three quoted
    in the system prompt (SmolLM2-135M, 80 replies each). A passage with no line before it answers
    "Write to me.", the line ``personas create`` writes. Static, so they stay in the KV-cache prefix.
    """
    turns: list[Message] = []
    for block, lines in _script(persona.example_dialogue):
        if not lines and block.strip():
            lines = [("char", block)]
        opened = False  # has this block a turn yet
        for who, text in lines:
            role, text = ("user" if who == "user" else "assistant"), fill(text, persona, user)
            if not text:
                continue
            if opened and turns[-1]["role"] == role:  # two lines of one speaker in a row: one turn
                turns[-1]["content"] += "\n" + text
                continue
            if role == "assistant" and (not turns or turns[-1]["role"] == "assistant"):
                turns.append({"role": "user", "content": "Write to me."})
            elif role == "user" and turns and turns[-1]["role"] == "user":
                turns.pop()  # a block that ended on the user's line: nobody answered it
            turns.append({"role": role, "content": text})
            opened = True
    return turns if turns and turns[-1]["role"] == "assistant" else turns[:-1]


def sampling(persona: Persona | None, base: Sampling, chosen: frozenset[str] | set[str] = frozenset()) -> Sampling:
    """The sampler for a reply of a persona built from seed text when the request brings none: ``base``
    with the persona's defaults for the fields the user did not set (``chosen``: the settings given by
    flag, environment or file).

    A persona with example passages replies at about the length of one of them, a paragraph of its
    letters, with room to finish the sentence: a small model left to write 500 tokens drifts into
    generic prose that sounds like nobody. Temperature and repeat penalty stay the user's: on the
    fidelity dev questions a cooler sampler without repeat penalty (0.5, 1.0) did no better than the
    defaults (0.40 against 0.60 for Walpole, 5 questions).

    >>> sampling(Persona(name="A", tags=["from-seed"], example_dialogue="{{char}}: " + "word " * 100), Sampling()).max_tokens
    160
    """
    if persona is None or "from-seed" not in persona.tags:  # cards and hand-made personas keep the user's sampler
        return base
    passages = example_passages(persona.example_dialogue)
    update: dict = {}
    if passages and "max_tokens" not in chosen:
        lengths = sorted(len(p.split()) + len(re.findall(r"[\u3400-\u9fff]", p)) for p in passages)
        tokens = int(1.4 * lengths[len(lengths) // 2] * 1.5)  # ~1.4 tokens a word, half as much again to finish
        update["max_tokens"] = max(REPLY_TOKENS[0], min(REPLY_TOKENS[1], tokens, base.max_tokens))
    if persona.style.get("distinctive_words") and "word_bias" not in chosen:
        update["word_bias"] = {w: STYLE_BIAS for w in persona.style["distinctive_words"]}
    return base.model_copy(update=update)


def example_passages(dialogue: str) -> list[str]:
    """The character's lines of card-style example dialogue, as plain passages.

    Small models copy the "Name: line" script format into their replies, so the examples are shown
    as what the character wrote, without the speaker labels.
    """
    passages = []
    for block, lines in _script(dialogue):
        found = [text for who, text in lines if who == "char"]
        passages += [f for f in found if f]
        if not found and block.strip():
            passages.append(block.strip())
    return passages


SCRIPT_LINE = re.compile(r"\{\{\s*(user|char)\s*\}\}:\s*(.*?)(?=\n\{\{\s*(?:user|char)\s*\}\}:|\Z)", re.S | re.I)


def _script(dialogue: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Card example dialogue as its ``<START>`` blocks, each with its labelled lines: ("user"|"char", text)."""
    return [(block, [(who.lower(), text.strip()) for who, text in SCRIPT_LINE.findall(block)])
            for block in re.split(r"<START>", dialogue)]


def triggered_lore(persona: Persona, recent: Sequence[str]) -> list[str]:
    """Lore entries whose keys appear in the new message or the last few messages (case-insensitive)."""
    text = "\n".join(recent).casefold()
    return [fill(e.content, persona) for e in persona.lorebook
            if e.enabled and not e.constant and any(k.strip() and k.casefold() in text for k in e.keys)]


def disclosure(persona: Persona) -> str:
    """The notice that opens a conversation with a portrait of a real person."""
    pieces = sum(int(src.get("pieces", 0)) for src in persona.sources)
    basis = f" based on {pieces} letters and messages they wrote" if pieces else ""
    return (f"This is an AI simulation of {persona.name}{basis}. It is not {persona.name}: it can be wrong, and it "
            "does not know anything they did not write down. You can pause or end this conversation at any time.")
