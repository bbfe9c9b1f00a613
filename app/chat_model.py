"""LangChain interop: a persona as a LangChain chat model, for LCEL chains.

    model = ChatPersona(service=service, persona="Grandpa", temperature=0.2)
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | model | StrOutputParser()
    chain.invoke({"question": "What did you grow on the farm?"})

Each call goes through ``ChatService.complete``, like a request to the API: the persona's prompt and
memory, the safety filter, and a stored conversation (``conversation_id`` continues one, so the
persona remembers what was said). The filter's verdict and the ids are in the reply's
``response_metadata["keepsake"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from app.core.backends import Message
from app.core.errors import KeepsakeError
from app.service import WITHDRAWN, ChatService, LiveReply

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def as_message(message: BaseMessage) -> Message:
    """A LangChain message as a chat message; tool and function messages have no place in a persona chat."""
    if message.type not in ROLES:
        raise KeepsakeError(f"a persona chat takes system, human and AI messages, not {message.type!r} messages")
    return {"role": ROLES[message.type], "content": message.text}  # type: ignore[typeddict-item]


class ChatPersona(BaseChatModel):
    """One user's persona (or the raw model, with ``persona=None``) as a LangChain chat model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: ChatService
    persona: str | None = None
    user: str = "local"
    conversation_id: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "keepsake-persona"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"persona": self.persona, "user": self.user, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": self.seed}

    def _start(self, messages: list[BaseMessage], stop: list[str] | None) -> LiveReply:
        uid = self.service.store.user_id(self.user)
        persona_id = self.service.persona_id(uid, self.persona) if self.persona else None
        sampling = self.service.sampling_with(self.service.persona(uid, persona_id), temperature=self.temperature, top_p=self.top_p,
                                              max_tokens=self.max_tokens, seed=self.seed, stop=stop)
        return self.service.complete(uid, [as_message(m) for m in messages], conversation_id=self.conversation_id,
                                     persona_id=persona_id, sampling=sampling)

    @staticmethod
    def _metadata(live: LiveReply) -> dict[str, Any]:
        """The token counts and the ``keepsake`` record of a finished reply, as AIMessage fields."""
        assert live.reply is not None
        return {
            "usage_metadata": {"input_tokens": live.reply.prompt_tokens, "output_tokens": live.reply.completion_tokens,
                               "total_tokens": live.reply.prompt_tokens + live.reply.completion_tokens},
            "response_metadata": {"model_name": live.turn.backend.name, "keepsake": ChatService.reply_info(live)},
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        live = self._start(messages, stop)
        live.run()
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=live.text, **self._metadata(live)))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        live = self._start(messages, stop)
        pieces = iter(live)
        try:
            for piece in pieces:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        finally:
            pieces.close()  # a consumer that stops early: the stored reply is marked interrupted
        # the filter withdrew what was streamed: say so, then give the reply that replaces it
        tail = WITHDRAWN + live.text if live.replaced else ""
        yield ChatGenerationChunk(message=AIMessageChunk(content=tail, **self._metadata(live)))
