"""Building a persona from seed files, and storing it all or nothing.

``build`` is pure: seeds in, a ``Persona`` and the text chunks for its memory out. ``create``
embeds the chunks (the slow part, with a progress callback) and then writes the persona row and
every seed memory in one transaction, so a failure at any point leaves nothing half-made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.core.errors import NotFound, PersonaError
from memory.memories import LongTermMemory, content_hash
from memory.schema import Memory
from personas import facts as fact_finder
from personas import persona as personas
from personas import style as styles
from personas.persona import Persona
from personas.seed import Seed, chunks

Progress = Callable[[int, int], None]


@dataclass
class Built:
    persona: Persona
    chunks: list[str]
    name_source: str  # "flag", "signature", "speaker" or "file name"
    name_note: str = ""  # why the name may be wrong and how to set it, for the person creating the persona


OPENERS = {"en": "it's so good to hear from you.", "zh": "收到你的消息真高兴。"}


def greeting(style: dict) -> str:
    """The first message of a chat: the letters' usual greeting, then a plain opener in their language."""
    if not style.get("greeting"):
        return ""
    opener = OPENERS.get(style.get("language", ""), "")
    space = "" if style["greeting"][-1:] in "：，！" else " "  # no space after full-width punctuation
    return f"{style['greeting']}{space}{opener}".strip() if opener else style["greeting"]


def example_dialogue(passages: Sequence[str]) -> str:
    """Passages as Character Card example dialogue: the character writing, unprompted."""
    return "\n".join(f"<START>\n{{{{user}}}}: Write to me.\n{{{{char}}}}: {p.strip()}" for p in passages)


WORLD = 10  # people and places named in the system prompt


def world(found: Sequence[dict], name: str, most: int = WORLD) -> list[str]:
    """The people and places the letters name most often (fact candidates said at least three times),
    without the writer and bare titles ("St", "Mr").

    >>> world([{"text": "Mary", "kind": "name", "count": 9}, {"text": "St", "kind": "name", "count": 18},
    ...        {"text": "1798", "kind": "date", "count": 5}, {"text": "Lamb", "kind": "name", "count": 4}], "Charles Lamb")
    ['Mary']
    """
    own = set(name.split())
    keep = [f["text"] for f in sorted(found, key=lambda f: -f.get("count", 0))
            if f.get("kind") in ("name", "place") and f.get("count", 0) >= 3 and len(f["text"]) > 2
            and f["text"].rstrip(".") not in fact_finder.TITLES and not set(f["text"].split()) & own]
    return keep[:most]


def build(seeds: Sequence[Seed], *, name: str | None = None, description: str = "", real_person: bool = False,
          exemplar_tokens: int = 1400, exemplars: int = 8) -> Built:
    """A persona and its memory chunks from decoded seeds."""
    pieces = [p.text for seed in seeds for p in seed.pieces]
    if not pieces:
        raise PersonaError("the seed files contain no text by the persona")
    style = styles.profile(pieces)
    name, source, note = (name, "flag", "") if name else persona_name(seeds, style)
    name = personas.validate_name(name)
    # Eight passages as example turns scored 0.51 on the fidelity dev questions, three 0.48 (80 replies
    # each, SmolLM2-135M); about 1,400 tokens read once per model load, then held in the KV cache.
    passages = styles.exemplars(pieces, style, budget_tokens=exemplar_tokens, most=exemplars)
    found = fact_finder.candidates(pieces)
    persona = Persona(
        name=name,
        description=description,
        system_prompt=styles.system_prompt(name, style, description, world(found, name)),
        greeting=greeting(style),
        example_dialogue=example_dialogue(passages),
        real_person=real_person,
        sources=[seed.source_record() for seed in seeds],
        style=style,
        facts=[{**f, "status": "candidate"} for f in found],
        tags=["from-seed"],
    )
    memory_chunks = [c for seed in seeds for p in seed.pieces for c in chunks(p)]
    return Built(persona, memory_chunks, source, note)


def _same_writer(a: str, b: str) -> bool:
    """Two signatures of one writer: "L. V. Beethoven" and "Beethoven"; "J. A." and "J. Ashworth"."""
    initials = "".join(w[0] for w in b.split()).casefold()
    return a.split()[-1].casefold() == b.split()[-1].casefold() or a.replace(".", "").replace(" ", "").casefold() == initials


def persona_name(seeds: Sequence[Seed], style: dict) -> tuple[str, str, str]:
    """(name, where it came from, a note when it is uncertain): the writer, never the greeting or addressee.

    The signature of the letters names the writer (an e-mailed letter signed "Mother" is Mother, not the
    sender's address book name); in a chat export, the chosen speaker; the file name is the last resort.
    """
    how = "Set the name with --name NAME"
    signers: dict[str, int] = style.get("signers", {})
    pieces = max(style.get("pieces", 0), 1)
    signed = sum(signers.values())
    speakers = {p.author for seed in seeds if seed.kind != "text" for p in seed.pieces}
    if len(speakers) == 1 and signed < pieces * 0.5 and all(seed.kind != "text" for seed in seeds):
        return speakers.pop(), "speaker", ""
    if signers:
        top = next(iter(signers))
        # "L. V. Beethoven" and "Beethoven" are one writer signing more or less fully
        count = sum(n for s, n in signers.items() if _same_writer(s, top))
        if len(signers) > 1 and signed - count >= signed * 0.2:  # a fifth of the letters signed otherwise
            others = ", ".join(f"{s} ({n})" for s, n in signers.items())
            return top, "signature", (f"the letters are signed by several names: {others}; the persona is named {top}. "
                                      f"{how}, or keep one writer's letters with --speaker NAME")
        if count < 2 and pieces > 1 or signed < pieces * 0.5:
            return top, "signature", (f"only {count} of {pieces} letters are signed {top}; if that is not the writer, "
                                      f"{how[0].lower()}{how[1:]}")
        return top, "signature", ""
    stem = seeds[0].path.stem.replace("_", " ").replace("-", " ").strip()
    name = stem.title() if stem.isascii() else stem
    return name, "file name", f"no signature found in the letters, so the persona is named after the file. {how}"


def create(memory: LongTermMemory, user_id: int, built: Built, progress: Progress | None = None,
           batch: int = 64) -> int:
    """Embed the chunks, then store persona and memories in one transaction; returns the persona id."""
    try:
        personas.find(memory.store, user_id, built.persona.name)
    except NotFound:
        pass  # checked before the slow embedding; insert() checks again inside the transaction
    else:
        raise PersonaError(f"you already have a persona named {built.persona.name!r}; choose another --name or delete it")
    unique = list(dict.fromkeys(c for c in built.chunks if c.strip()))
    vectors = []
    for start in range(0, len(unique), batch):
        vectors.append(memory.embedder.embed(unique[start:start + batch]))
        if progress:
            progress(min(start + batch, len(unique)), len(unique))
    matrix = np.vstack(vectors) if vectors else np.zeros((0, memory.embedder.dim), dtype=np.float32)
    with memory.store.session() as s:
        persona_id = personas.insert(s, user_id, built.persona)
        s.add_all(Memory(persona_id=persona_id, user_id=None, kind="seed", text=text, content_hash=content_hash(text),
                         vector=vec.astype(np.float32).tobytes()) for text, vec in zip(unique, matrix))
    memory.rebuild_index(persona_id, None)
    return persona_id


def add_seed(memory: LongTermMemory, user_id: int, persona_id: int, seed: Seed) -> int:
    """Add another seed file to a persona: its chunks become memories, its checksum a source."""
    persona = personas.get(memory.store, user_id, persona_id)
    if any(src.get("sha256") == seed.sha256 for src in persona.sources):
        raise PersonaError(f"{seed.path.name} is already a seed of {persona.name}")
    texts = [c for p in seed.pieces for c in chunks(p)]
    memory.add(texts, persona_id=persona_id, user_id=None, kind="seed")
    persona.sources = [*persona.sources, seed.source_record()]
    personas.save(memory.store, user_id, persona_id, persona)
    return len(texts)
