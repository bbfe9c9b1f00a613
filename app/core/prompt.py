"""Prompt assembly within the model's context budget, with exact token counts.

Two orders matter and they differ:

* **Priority** (what survives when space is short): the system prompt (persona card and stable facts)
  and the new user message always; then the persona's example exchanges (the first ones that fit:
  without them the persona loses its voice, but not what was said); then the summary of older turns;
  then retrieved memories (at most ``memory_share`` of what is left); then as much recent history as
  fits, newest first. The oldest history is dropped first; the user's message is never cut. If the
  system prompt and the message alone do not fit, ``ContextOverflow`` says so.
* **Position** (what the model reads, top to bottom): system, summary, examples, history, then the
  retrieved memories attached to the new message. Everything that changes every turn sits at the end,
  so the prefix of one turn's prompt is the prefix of the next turn's, and llama.cpp reuses its KV cache
  instead of re-reading the whole conversation: time to first token stays flat as a chat grows.

Token counts come from a ``count_tokens(messages)`` callable (the backend's, which renders the model's
own chat template), so the budget is exact, not estimated. Worked example, with a 100-token budget::

    system 30 + message 20 -> 50 left; summary 15 -> 35 left; memories capped at 25% -> up to 8;
    history: the newest messages whose total fits the remaining ~27 tokens; older ones are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from app.core.backends import Message
from app.core.errors import ContextOverflow

CountTokens = Callable[[list[Message]], int]

MEMORY_HEADER = "[Things you remember that may be relevant]"


@dataclass(frozen=True)
class PromptParts:
    """What a turn's prompt can be made of, before budgeting."""

    system: str
    user: str
    history: Sequence[Message] = ()
    summary: str = ""
    memories: Sequence[str] = ()
    instructions: str = ""  # a persona's post-history instructions: read last, right before the message
    examples: Sequence[Message] = ()  # example exchanges: read after the system message, before the history


@dataclass
class PromptPlan:
    """The messages to send, and what was kept or dropped to fit (shown in the prompt inspector)."""

    messages: list[Message]
    tokens: int
    budget: int
    context_size: int
    history_kept: int
    history_dropped: int
    memories_kept: list[str] = field(default_factory=list)
    memories_dropped: int = 0
    summary_used: bool = False
    examples_dropped: int = 0  # example exchanges left out to fit

    def report(self) -> dict:
        """A JSON-ready account of the plan."""
        return {
            "tokens": self.tokens,
            "budget": self.budget,
            "context_size": self.context_size,
            "history_kept": self.history_kept,
            "history_dropped": self.history_dropped,
            "memories_kept": list(self.memories_kept),
            "memories_dropped": self.memories_dropped,
            "summary_used": self.summary_used,
            "examples_dropped": self.examples_dropped,
            "messages": [dict(m) for m in self.messages],
        }


def assemble(parts: PromptParts, history: Sequence[Message], memories: Sequence[str], summary: str) -> list[Message]:
    """Lay the parts out in position order (see the module docstring)."""
    system = parts.system
    if summary:
        system = f"{system}\n\n[Summary of the earlier conversation]\n{summary}"
    messages: list[Message] = [{"role": "system", "content": system}] if system else []
    messages.extend(parts.examples)
    messages.extend(history)
    user = parts.user
    if parts.instructions:
        user = f"[{parts.instructions}]\n\n{user}"
    if memories:
        notes = "\n".join(f"- {m}" for m in memories)
        user = f"{MEMORY_HEADER}\n{notes}\n\n{user}"
    messages.append({"role": "user", "content": user})
    return messages


def _largest_fitting(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in [0, n] with fits(k), for a monotone ``fits`` (fits(0) assumed true)."""
    if n == 0 or fits(n):  # the usual case, everything fits: one count instead of a search
        return n
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def build_prompt(
    parts: PromptParts,
    count_tokens: CountTokens,
    context_size: int,
    reply_reserve: int,
    memory_share: float = 0.25,
) -> PromptPlan:
    """Fit ``parts`` into ``context_size - reply_reserve`` tokens; see the module docstring for the rules."""
    budget = context_size - reply_reserve
    # Counting renders and tokenizes the whole prompt, which grows with the conversation: never count
    # the same messages twice.
    counted: dict[tuple, int] = {}

    def count(messages: list) -> int:
        key = tuple((m["role"], m["content"]) for m in messages)
        if key not in counted:
            counted[key] = count_tokens(messages)
        return counted[key]

    exchanges = _exchanges(parts.examples)
    n_ex = _largest_fitting(len(exchanges), lambda k: count(assemble(
        replace(parts, examples=[m for e in exchanges[:k] for m in e]), [], [], "")) <= budget)
    parts = replace(parts, examples=[m for e in exchanges[:n_ex] for m in e])
    base = count(assemble(parts, [], [], ""))
    if base > budget:
        message_tokens = count([{"role": "user", "content": parts.user}])
        raise ContextOverflow(
            f"your message is about {message_tokens} tokens; with the persona's instructions and room for a "
            f"{reply_reserve}-token reply it does not fit the model's {context_size}-token context. "
            "Shorten the message, or raise n_ctx (--n-ctx / KEEPSAKE_N_CTX)"
        )
    summary = parts.summary if parts.summary and count(assemble(parts, [], [], parts.summary)) <= budget else ""
    with_summary = count(assemble(parts, [], [], summary))

    memory_budget = with_summary + int((budget - with_summary) * memory_share)
    memories = list(parts.memories)
    n_mem = _largest_fitting(len(memories), lambda k: count(assemble(parts, [], memories[:k], summary)) <= memory_budget)
    kept_memories = memories[:n_mem]

    history = list(parts.history)

    def fits(k: int) -> bool:
        return count(assemble(parts, history[len(history) - k:], kept_memories, summary)) <= budget

    keep = _largest_fitting(len(history), fits)
    recent = history[len(history) - keep:]
    # Drop a leading assistant turn left over from a cut pair: some chat templates require the
    # conversation after the system prompt to start with the user.
    if keep < len(history) and recent and recent[0]["role"] == "assistant":
        recent = recent[1:]
    messages = assemble(parts, recent, kept_memories, summary)
    return PromptPlan(
        messages=messages,
        tokens=count(messages),
        budget=budget,
        context_size=context_size,
        history_kept=len(recent),
        history_dropped=len(history) - len(recent),
        memories_kept=kept_memories,
        memories_dropped=len(memories) - n_mem,
        summary_used=bool(summary),
        examples_dropped=len(exchanges) - n_ex,
    )


def _exchanges(messages: Sequence[Message]) -> list[list[Message]]:
    """Example turns in exchanges, each starting at a user turn: they are kept or dropped whole."""
    out: list[list[Message]] = []
    for m in messages:
        if m["role"] == "user" or not out:
            out.append([])
        out[-1].append(m)
    return out
