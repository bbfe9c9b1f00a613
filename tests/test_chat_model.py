"""A persona as a LangChain chat model: an LCEL chain on the real model, and what it sends (scripted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from app.chat_model import ChatPersona
from app.core.errors import KeepsakeError, NotFound
from app.service import ChatService
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store
from safety.baseline import PreviousJudge
from safety.filter import SafetyFilter

from fakes import ScriptedBackend

DATA = Path(__file__).parent / "data"


def with_grandpa(service: ChatService) -> int:
    from personas.builder import build, create
    from personas.seed import read_seed

    return create(service.memory, service.store.user_id(), build([read_seed(DATA / "grandpa_letters.txt")]))


@pytest.mark.model
def test_an_lcel_chain_through_the_persona(llama, real_embedder, settings, tmp_path) -> None:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path / 'lc.db'}")
    service = ChatService(settings, backend=llama, store=store,
                          memory=LongTermMemory(store, WordLengthEmbedder(), settings.home),
                          safety=SafetyFilter(PreviousJudge(real_embedder), settings.safety_settings))
    with_grandpa(service)
    prompt = ChatPromptTemplate.from_messages([("system", "Answer in one or two sentences."), ("human", "{question}")])
    model = ChatPersona(service=service, persona="Grandpa", seed=4, max_tokens=40, temperature=0.3)
    chain = prompt | model | StrOutputParser()
    answer = chain.invoke({"question": "What do you remember about the farm?"})
    assert isinstance(answer, str) and answer.strip()
    pieces = list(chain.stream({"question": "Tell me about your garden."}))
    assert len([p for p in pieces if p]) > 3, "the chain did not stream"
    uid = store.user_id()
    first, second = sorted(store.list_conversations(uid), key=lambda c: c.id)
    assert store.thread(uid, first.id)[-1].content == answer and first.persona_id is not None
    assert store.thread(uid, second.id)[-1].content.strip() == "".join(pieces).strip()
    # The whole message carries the counts and the filter's verdict; a conversation can be continued.
    message = model.invoke("Hello Grandpa!")
    assert isinstance(message, AIMessage) and message.usage_metadata["output_tokens"] > 0
    keepsake = message.response_metadata["keepsake"]
    assert keepsake["verdict"]["action"] in ("passed", "repaired")
    follow = ChatPersona(service=service, persona="Grandpa", conversation_id=keepsake["conversation_id"], max_tokens=10)
    follow.invoke("Do you remember me?")
    assert [m.content for m in store.thread(uid, keepsake["conversation_id"])][2] == "Do you remember me?"


def test_messages_become_the_history_and_the_system_prompt(unfiltered, tmp_path) -> None:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    scripted = ScriptedBackend().enqueue("I do, Annie.")
    service = ChatService(unfiltered, backend=scripted, store=store,
                          memory=LongTermMemory(store, WordLengthEmbedder(), unfiltered.home))
    with_grandpa(service)
    model = ChatPersona(service=service, persona="Grandpa")
    reply = model.invoke([SystemMessage("Be brief."), HumanMessage("I'm Annie."), AIMessage("Hello Annie!"),
                          HumanMessage("Remember the farm?")], stop=["\n\n"])
    assert reply.content == "I do, Annie."
    sent = scripted.calls[0]
    assert sent[0]["role"] == "system" and sent[0]["content"].startswith("You are Grandpa")
    assert sent[0]["content"].endswith("Be brief.")
    assert [m["content"] for m in sent[-3:-1]] == ["I'm Annie.", "Hello Annie!"]
    assert sent[-1]["content"].endswith("Remember the farm?") and "Biscuit" in sent[-1]["content"]  # recalled letters
    with pytest.raises(KeepsakeError, match="not 'tool' messages"):
        model.invoke([ToolMessage("42", tool_call_id="1")])
    with pytest.raises(NotFound):
        ChatPersona(service=service, persona="Grandpa", user="someone-else").invoke("hi")
