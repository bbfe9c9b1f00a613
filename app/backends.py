"""The chat-model protocol, the registry of backends, and the fakes used in tests.

A backend renders a list of chat messages with its model's own template, counts tokens exactly, and
streams the reply as text pieces. Real implementations: ``app.llama`` (llama.cpp on a local GGUF) and
``app.remote`` (any OpenAI-compatible server). Fakes: ``EchoBackend`` (``--model echo``, runs without
weights) and ``ScriptedBackend`` (a reply queue and a call log, for unit tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict, runtime_checkable

from app.errors import SettingsError

if TYPE_CHECKING:
    from app.settings import Sampling, Settings


class Message(TypedDict):
    """One chat message, in the shape OpenAI, llama.cpp templates and Gradio all use."""

    role: Literal["system", "user", "assistant"]
    content: str


@runtime_checkable
class ChatBackend(Protocol):
    """A chat model that streams text."""

    name: str
    """Identifies the model in stored messages and in the API."""
    context_size: int
    """The context window in tokens: prompt and reply together must fit."""

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of the prompt these messages render to, generation prompt included."""

    def count_text(self, text: str) -> int:
        """Tokens of a bare piece of text (used for stored token counts)."""

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        """Yield the reply piece by piece. Closing the iterator early stops generation.

        ``json_schema`` asks for output constrained to that schema where the backend can (llama.cpp
        grammars, OpenAI-style ``response_format``); callers still validate what comes back.
        """


_REGISTRY: dict[str, Callable[[Settings], ChatBackend]] = {}


def register(name: str) -> Callable[[Callable[[Settings], ChatBackend]], Callable[[Settings], ChatBackend]]:
    """Decorator: make a backend factory available as ``backend = NAME`` in settings."""

    def wrap(factory: Callable[[Settings], ChatBackend]) -> Callable[[Settings], ChatBackend]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def load_backend(settings: Settings) -> ChatBackend:
    """Build the backend the settings ask for. ``--model echo`` is a shortcut for the echo fake."""
    # Importing the modules fills the registry; they are imported here so that the fakes need no llama.cpp.
    import app.llama  # noqa: F401
    import app.remote  # noqa: F401

    name = "echo" if settings.model is not None and str(settings.model) == "echo" else settings.backend
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise SettingsError(f"unknown backend {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}") from None
    return factory(settings)


def _word_count(text: str) -> int:
    return len(text.split())


class FakeBackend:
    """Shared by the fakes: token counts are word counts plus 4 per message, like a chat template."""

    context_size = 4096

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(4 + _word_count(m["content"]) for m in messages) + 2

    def count_text(self, text: str) -> int:
        return _word_count(text)


class EchoBackend(FakeBackend):
    """Replies with the last user message, word by word. Runs without model weights."""

    name = "echo"

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        words = f"echo: {last}".split(" ")
        for i, word in enumerate(words[: sampling.max_tokens]):
            yield word if i == 0 else " " + word


@dataclass
class ScriptedBackend(FakeBackend):
    """Replies from a queue (``enqueue``) and records every call, for tests of what the engine sends."""

    name: str = "scripted"
    context_size: int = 4096
    replies: list[str] = field(default_factory=list)
    calls: list[list[Message]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enqueue(self, *replies: str) -> ScriptedBackend:
        self.replies.extend(replies)
        return self

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        with self._lock:
            self.calls.append([dict(m) for m in messages])  # type: ignore[misc]
            reply = self.replies.pop(0) if self.replies else "ok"
        for i, word in enumerate(reply.split(" ")):
            yield word if i == 0 else " " + word


@register("echo")
def _echo(settings: Settings) -> ChatBackend:
    return EchoBackend()
