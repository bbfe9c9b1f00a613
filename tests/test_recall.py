"""Long-term memory in the chat flow: past turns come back in later conversations."""

import pytest

from app.core.prompt import MEMORY_HEADER
from app.service import ChatService
from memory.memories import LongTermMemory
from memory.store import Store

from fakes import ScriptedBackend


def test_past_turn_is_recalled_in_a_new_conversation(unfiltered, tmp_path, real_embedder) -> None:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    scripted = ScriptedBackend().enqueue("What a lovely name for a dog!", "Nice weather.", "I remember.")
    svc = ChatService(unfiltered, backend=scripted, store=store, memory=LongTermMemory(store, real_embedder, unfiltered.home))
    uid = store.user_id()
    first = svc.send(uid, "My dog is called Biscuit and he loves the beach.")
    first.run()
    # Same conversation: the turn is visible history, so it is not repeated as a memory.
    svc.send(uid, "It is sunny today.", conversation_id=first.conversation_id).run()
    assert MEMORY_HEADER not in scripted.calls[1][-1]["content"]
    # A new conversation: the earlier exchange comes back as a memory.
    svc.send(uid, "What is my dog's name?").run()
    last = scripted.calls[2][-1]["content"]
    assert last.startswith(MEMORY_HEADER) and "Biscuit" in last and last.endswith("What is my dog's name?")
    # Another user never gets it.
    scripted.enqueue("?")
    svc.send(store.user_id("someone-else"), "What is my dog's name?").run()
    assert "Biscuit" not in scripted.calls[3][-1]["content"]


def test_one_shot_commands_defer_embedding(unfiltered, tmp_path) -> None:  # noqa: ANN001
    from memory.embedder import SentenceTransformerEmbedder

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    embedder = SentenceTransformerEmbedder()
    svc = ChatService(unfiltered, backend=ScriptedBackend().enqueue("hello"), store=store,
                      memory=LongTermMemory(store, embedder, unfiltered.home))
    svc.send(store.user_id(), "first message ever").run()
    assert not embedder.loaded  # nothing to recall, and the turn was stored for later embedding
    assert svc.memory.count(None, store.user_id()) == 1


@pytest.mark.model
def test_real_model_answers_from_a_recalled_memory(settings, llama, tmp_path, real_embedder) -> None:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    svc = ChatService(settings, backend=llama, store=store, memory=LongTermMemory(store, real_embedder, settings.home))
    uid = store.user_id()
    svc.memory.add(["The user's dog is called Biscuit."], persona_id=None, user_id=uid, kind="note")
    live = svc.send(uid, "What is the name of my dog?", sampling=settings.sampling.model_copy(update={"seed": 1, "temperature": 0.0, "max_tokens": 40}))
    reply = live.run()
    assert "Biscuit" in live.turn.plan.messages[-1]["content"]
    assert "Biscuit" in reply.text


def test_a_regenerated_reply_is_not_recalled_in_its_own_conversation(unfiltered, tmp_path) -> None:  # noqa: ANN001
    from memory.embedder import WordLengthEmbedder

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    scripted = ScriptedBackend().enqueue("the cat sat", "one dog ran")
    svc = ChatService(unfiltered, backend=scripted, store=store,
                      memory=LongTermMemory(store, WordLengthEmbedder(), unfiltered.home))
    uid = store.user_id()
    live = svc.send(uid, "big red fox")
    live.run()
    svc.regenerate(uid, live.conversation_id).run()
    assert MEMORY_HEADER not in scripted.calls[1][-1]["content"]  # the abandoned reply stays abandoned
