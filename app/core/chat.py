"""The chat engine: one turn = budget the prompt, stream the reply, report counts and timings.

``ChatEngine.start`` does everything that can fail on bad input (empty message, a message too long
for the context) before any token is generated, and returns a ``Turn``. Iterating the turn streams
the reply; closing it early stops generation and marks the turn interrupted. ``Turn.result()`` then
holds the text with token counts and timings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from app.core.backends import ChatBackend, Message
from app.core.errors import EmptyMessage
from app.core.prompt import PromptParts, PromptPlan, build_prompt
from app.core.settings import Sampling
from app.core.text import boundary


@dataclass(frozen=True)
class Reply:
    """A finished (or interrupted) reply with what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float
    total_s: float
    interrupted: bool = False

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        decode = self.total_s - self.ttft_s
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "tokens_per_s": round(self.tokens_per_s, 2)}


# The last tokens a reply may have (a third of them at most, so a short reply still streams) are held
# back until a sentence ends, so that a reply cut at max_tokens ends at its last whole sentence
# instead of mid-word (a persona's replies are kept to a paragraph: 9 in 10 reached the limit on the
# fidelity test questions).
HOLD_TOKENS = 48


class Turn:
    """One reply being generated. Iterate it for text pieces; then call ``result()``."""

    def __init__(self, backend: ChatBackend, plan: PromptPlan, sampling: Sampling) -> None:
        self.backend = backend
        self.plan = plan
        self.sampling = sampling
        self.text = ""
        self._ttft: float | None = None
        self._total: float | None = None
        self._done = False
        self._interrupted = False

    def __iter__(self) -> Iterator[str]:
        if self._done or self._total is not None:
            raise RuntimeError("a turn can be streamed once")
        start = time.perf_counter()
        pieces = self.backend.stream(self.plan.messages, self.sampling)
        hold_from = self.sampling.max_tokens - min(HOLD_TOKENS, self.sampling.max_tokens // 3)
        held, count = "", 0
        try:
            for count, piece in enumerate(pieces, 1):  # noqa: B007 - count is read after the loop
                if self._ttft is None:
                    self._ttft = time.perf_counter() - start
                self.text += piece
                if count <= hold_from:
                    yield piece
                    continue
                held += piece
                end = boundary(held)
                if end:
                    ready, held = held[:end], held[end:]
                    yield ready
            self._done = True
            shown = self.text[:len(self.text) - len(held)]
            if held and count >= self.sampling.max_tokens and shown.strip() and boundary(shown + " ") == len(shown):
                self.text = shown  # cut at the limit: end at the last whole sentence
            elif held:
                yield held
        finally:
            if not self._done:
                self._interrupted = True
                self.text = self.text[:len(self.text) - len(held)]  # kept as far as it was shown
                close = getattr(pieces, "close", None)
                if close:
                    close()  # releases the llama.cpp context at once rather than at garbage collection
            self._total = time.perf_counter() - start

    def run(self) -> Reply:
        """Generate the whole reply without streaming."""
        for _ in self:
            pass
        return self.result()

    def result(self) -> Reply:
        total = self._total or 0.0
        return Reply(
            text=self.text,
            prompt_tokens=self.plan.tokens,
            completion_tokens=self.backend.count_text(self.text),
            ttft_s=self._ttft if self._ttft is not None else total,
            total_s=total,
            interrupted=self._interrupted,
        )


# A small model runs on past its turn and writes the user's next line ("- User: What is your favorite
# memory?" ended a funeral reply of the 135M default on the page, 2026-12-05): a reply ends where one begins.
# "User:" wherever it stands: asked how to read a wife's texts through the API, the whole reply was
# "- User: What does that mean?" (a label can open the reply, with no line break before it).
TURN_STOPS = ("User:", "\nuser:", "\nYou:", "\nAssistant:")


def blank(text: str) -> bool:
    """Whether a reply has nothing to read, not a letter or a digit: what is left ("- ") when the model's
    first words were a speaker label it was stopped at."""
    return not any(c.isalnum() for c in text)


class ChatEngine:
    """Builds prompts within the context budget and runs turns on a backend."""

    def __init__(self, backend: ChatBackend, sampling: Sampling | None = None) -> None:
        self.backend = backend
        self.sampling = sampling or Sampling()

    def reply_reserve(self, sampling: Sampling) -> int:
        """Tokens kept free for the reply: max_tokens (+1, see LlamaCppBackend.stream), at most half the context."""
        return min(sampling.max_tokens + 1, self.backend.context_size // 2)

    def start(
        self,
        *,
        system: str,
        user: str,
        history: Sequence[Message] = (),
        summary: str = "",
        memories: Sequence[str] = (),
        instructions: str = "",
        examples: Sequence[Message] = (),
        sampling: Sampling | None = None,
    ) -> Turn:
        """Plan a turn; raises EmptyMessage or ContextOverflow before anything is generated."""
        if not user or not user.strip():
            raise EmptyMessage("the message is empty; type something to say")
        sampling = sampling or self.sampling
        sampling = sampling.model_copy(update={"stop": list(dict.fromkeys([*sampling.stop, *TURN_STOPS]))})
        plan = build_prompt(
            PromptParts(system=system, user=user, history=tuple(history), summary=summary, memories=tuple(memories),
                        instructions=instructions, examples=tuple(examples)),
            self.backend.count_tokens,
            self.backend.context_size,
            self.reply_reserve(sampling),
        )
        return Turn(self.backend, plan, sampling)
