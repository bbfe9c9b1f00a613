"""The chat-model protocol, the registry of backends, and the fakes used in tests.

A backend renders a list of chat messages with its model's own template, counts tokens exactly, and
streams the reply as text pieces. Real implementations: ``app.core.llama`` (llama.cpp on a local GGUF) and
``app.core.remote`` (any OpenAI-compatible server). The fake a user can choose: ``EchoBackend``
(``--model echo``, runs without weights); the tests' scripted fake is in ``tests/fakes.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from app.core.settings import Sampling, Settings


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


REGISTRY: dict[str, Callable[[Settings], ChatBackend]] = {}


def register(name: str) -> Callable[[Callable[[Settings], ChatBackend]], Callable[[Settings], ChatBackend]]:
    """Decorator: make a backend factory available as ``backend = NAME`` in settings."""

    def wrap(factory: Callable[[Settings], ChatBackend]) -> Callable[[Settings], ChatBackend]:
        REGISTRY[name] = factory
        return factory

    return wrap


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


@register("echo")
def _echo(settings: Settings) -> ChatBackend:
    return EchoBackend()
