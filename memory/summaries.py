"""Summaries of older turns, written by the chat model, checked, with a fallback that cannot break.

When the history no longer fits the context, the oldest turns are folded into a short neutral
third-person summary that replaces them in the prompt. A 135M model asked for free text drifts into
role-play, so the request is constrained to a JSON object by a llama.cpp grammar (``json_schema``);
the result is then validated, and if it still looks wrong (empty, too short, repetitive, template
tokens) an extractive summary built from the messages themselves is used instead. Which of the two
was used is returned (``Folded.by_model``) and logged, with the reason when the model's was rejected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import NamedTuple

from app.core.backends import ChatBackend, Message
from app.core.settings import Sampling
from app.core.text import sentences

log = logging.getLogger(__name__)

MAX_CHARS = 700
SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 20, "maxLength": MAX_CHARS}},
    "required": ["summary"],
}
INSTRUCTIONS = (
    "You summarize conversations between a user and an assistant. Write two to four plain sentences in the "
    "third person ('The user ...', 'The assistant ...'): who said what, names, facts, feelings and promises. "
    'Answer with JSON: {"summary": "..."}'
)


def transcript(previous: str, messages: Sequence[Message]) -> str:
    lines = [f"Earlier summary: {previous}", ""] if previous else []
    lines += [f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in messages]
    return "\n".join(lines)


class Folded(NamedTuple):
    """A summary of older turns, and whether the model wrote it (else it is the extractive fallback)."""

    text: str
    by_model: bool


def flaw(summary: str) -> str:
    """What a small model got wrong in ``summary`` (nothing, a fragment, template tokens, a loop of words), or ""."""
    words = summary.split()
    if len(words) < 5:
        return "fewer than five words"
    if len(summary) > MAX_CHARS:
        return f"longer than {MAX_CHARS} characters"
    if "<|" in summary or "```" in summary:
        return "template tokens in it"
    if len(set(w.lower() for w in words)) / len(words) <= 0.4:
        return "repetitive"
    return ""


def extractive(previous: str, messages: Sequence[Message], limit: int = MAX_CHARS) -> str:
    """A summary that is always well formed: the first sentence of each message, attributed.

    >>> extractive("", [{"role": "user", "content": "I got a dog. He is brown."}])
    'The user said: I got a dog.'
    """
    parts = [previous] if previous else []
    for m in messages:
        first = next(iter(sentences(m["content"])), "")[:160]
        if first:
            parts.append(f"The {'user' if m['role'] == 'user' else 'assistant'} said: {first}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def summarize(backend: ChatBackend, previous: str, messages: Sequence[Message]) -> Folded:
    """The model's summary of ``messages``; ``extractive`` when the model's output fails the checks."""
    request: list[Message] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": transcript(previous, messages)},
    ]
    try:
        raw = "".join(backend.stream(request, Sampling(temperature=0.0, max_tokens=300), json_schema=SCHEMA))
        summary = " ".join(str(json.loads(raw)["summary"]).split())
        problem = flaw(summary)
    except (ValueError, KeyError, TypeError):
        problem = "not the JSON asked for"
    if not problem:
        log.info("summary of %d messages written by the model", len(messages))
        return Folded(summary, True)
    log.info("summary of %d messages is extractive; the model's was rejected: %s", len(messages), problem)
    return Folded(extractive(previous, messages), False)


def fold_count(history_len: int, dropped: int) -> int:
    """How many of the oldest messages to fold into the summary when ``dropped`` did not fit.

    Folds what was dropped plus half of what was kept, rounded up to whole user/assistant pairs, so
    the next turns fit without folding again (each fold changes the prompt prefix once).

    >>> fold_count(20, 6)
    14
    """
    n = dropped + (history_len - dropped) // 2
    n += n % 2
    return min(n, history_len)
