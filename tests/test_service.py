"""The durable chat flow: what is stored when, with scripted and with the real model."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from app.core.errors import ContextOverflow, EmptyMessage, KeepsakeError
from app.service import ChatService
from memory.store import Store

from fakes import ScriptedBackend


def test_user_message_is_committed_before_the_reply_streams(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("Hello there my dear")
    svc = scripted_service
    uid = svc.store.user_id()
    live = svc.send(uid, "Hi Grandpa")
    thread = svc.store.thread(uid, live.conversation_id)
    assert [(m.role, m.content, m.status) for m in thread] == [("user", "Hi Grandpa", "complete"), ("assistant", "", "streaming")]
    pieces = list(live)
    assert "".join(pieces) == "Hello there my dear" and len(pieces) == 4
    last = svc.store.thread(uid, live.conversation_id)[-1]
    assert (last.content, last.status, last.token_count) == ("Hello there my dear", "complete", 4)
    assert scripted.calls[0][0]["role"] == "system" and scripted.calls[0][-1] == {"role": "user", "content": "Hi Grandpa"}


def test_history_is_sent_on_the_next_turn(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("first answer", "second answer")
    svc = scripted_service
    uid = svc.store.user_id()
    first = svc.send(uid, "first question")
    first.run()
    svc.send(uid, "second question", conversation_id=first.conversation_id).run()
    sent = scripted.calls[1]
    assert [m["content"] for m in sent[1:]] == ["first question", "first answer", "second question"]
    assert [c.id for c in svc.store.list_conversations(uid)] == [first.conversation_id]  # continued, not a new one


def test_stopping_early_keeps_the_partial_reply_marked(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("one two three four five six")
    svc = scripted_service
    uid = svc.store.user_id()
    live = svc.send(uid, "count")
    stream = iter(live)
    next(stream), next(stream)
    stream.close()
    last = svc.store.thread(uid, live.conversation_id)[-1]
    assert (last.content, last.status) == ("one two", "interrupted")


def test_bad_input_stores_nothing(scripted_service: ChatService) -> None:
    svc = scripted_service
    uid = svc.store.user_id()
    with pytest.raises(EmptyMessage):
        svc.send(uid, "   ")
    svc.backend.context_size = 64
    with pytest.raises(ContextOverflow):
        svc.send(uid, "word " * 200)
    assert svc.store.list_conversations(uid) == []


def test_regenerate_keeps_the_old_reply(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("first try", "second try")
    svc = scripted_service
    uid = svc.store.user_id()
    live = svc.send(uid, "tell me a joke")
    live.run()
    svc.regenerate(uid, live.conversation_id).run()
    thread = svc.store.thread(uid, live.conversation_id)
    assert [m.content for m in thread] == ["tell me a joke", "second try"]
    assert [m.content for m in svc.store.alternatives(uid, thread[-1].id)] == ["first try", "second try"]
    assert scripted.calls[1] == scripted.calls[0]



def test_a_regenerated_reply_never_draws_the_seed_of_an_empty_reply_retry(scripted_service: ChatService,
                                                                          scripted: ScriptedBackend) -> None:
    """With a fixed seed, an empty reply is drawn again at seed + 1; the alternative must not reuse it (it
    once gave the same reply back)."""
    seeds, stream = [], scripted.stream
    scripted.stream = lambda messages, sampling, **kw: (seeds.append(sampling.seed), stream(messages, sampling, **kw))[1]
    scripted.enqueue("", "first try", "second try")
    svc = scripted_service
    uid = svc.store.user_id()
    fixed = svc.settings.sampling.model_copy(update={"seed": 5})
    live = svc.send(uid, "tell me a joke", sampling=fixed)
    live.run()
    svc.regenerate(uid, live.conversation_id, sampling=fixed).run()
    assert [m.content for m in svc.store.alternatives(uid, svc.store.thread(uid, live.conversation_id)[-1].id)] \
        == ["first try", "second try"]
    assert seeds == [5, 6, 1005]

@pytest.mark.model
def test_real_model_conversation_is_persisted(settings, llama, tmp_path) -> None:
    svc = ChatService(settings, backend=llama, store=Store(f"sqlite:///{tmp_path / 'real.db'}"))
    uid = svc.store.user_id()
    live = svc.send(uid, "Hello! What is your favourite flower?", sampling=settings.sampling.model_copy(update={"seed": 2, "max_tokens": 40}))
    reply = live.run()
    assert reply.text and reply.completion_tokens > 3 and reply.ttft_s < reply.total_s
    stored = svc.store.thread(uid, live.conversation_id)[-1]
    assert stored.content == reply.text and stored.model == "SmolLM2-135M-Instruct.Q4_1"
    assert stored.prompt_tokens == reply.prompt_tokens and stored.ttft_ms > 0


@pytest.mark.model
def test_sigkill_mid_reply_loses_nothing_committed(tmp_path, keepsake_home) -> None:
    """A real process generating with the real model is killed -9 mid-reply; the store recovers."""
    db = tmp_path / "kill.db"
    env = {**os.environ, "KEEPSAKE_HOME": str(keepsake_home), "KEEPSAKE_DATABASE_URL": f"sqlite:///{db}"}
    # A first, complete turn, then a long one that we kill while it streams.
    subprocess.run([sys.executable, "-m", "app", "ask", "Hi there", "--max-tokens", "16", "--seed", "1"],
                   env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([sys.executable, "-m", "app", "ask", "Write a long essay about the history of lighthouses, with at least ten paragraphs.",
                             "--conversation", "1", "--max-tokens", "1500", "--temperature", "0"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = Store(f"sqlite:///{db}")
    deadline = time.monotonic() + 60
    partial = ""
    while time.monotonic() < deadline and not partial:
        assert proc.poll() is None, f"the chat process ended early: {proc.stderr.read().decode()[-2000:]}"
        with store.engine.connect() as conn:
            partial = conn.execute(text("SELECT content FROM messages WHERE status = 'streaming'")).scalar() or ""
        time.sleep(0.05)
    assert partial, "the reply never started streaming"
    assert store.recover() == 0  # another live process's reply is left alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    store.close()
    reopened = Store(f"sqlite:///{db}")
    assert reopened.recovered == 1
    with reopened.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    uid = reopened.user_id()
    thread = reopened.thread(uid, 1)
    assert [m.role for m in thread] == ["user", "assistant", "user", "assistant"]
    assert [m.status for m in thread] == ["complete", "complete", "complete", "interrupted"]
    assert thread[-1].content.startswith(partial)


def test_edit_branches_from_the_edited_message(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("A1", "A2", "A2 edited")
    svc = scripted_service
    uid = svc.store.user_id()
    first = svc.send(uid, "Q1")
    first.run()
    second = svc.send(uid, "Q2", conversation_id=first.conversation_id)
    second.run()
    svc.edit(uid, second.user_message.id, "Q2 edited").run()
    assert [m.content for m in svc.store.thread(uid, first.conversation_id)] == ["Q1", "A1", "Q2 edited", "A2 edited"]
    assert [m["content"] for m in scripted.calls[2][1:]] == ["Q1", "A1", "Q2 edited"]
    assert [m.content for m in svc.store.alternatives(uid, second.user_message.id)] == ["Q2", "Q2 edited"]
    with pytest.raises(KeepsakeError, match="only your own messages"):
        svc.edit(uid, second.message_id, "rewrite the bot")


def test_an_empty_reply_is_drawn_again(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    # "-": what a stop at the speaker label leaves of a reply that opened "- User: What does that mean?"
    scripted.enqueue("", "-", "Here I am, love.")
    svc = scripted_service
    uid = svc.store.user_id()
    live = svc.send(uid, "Are you there?")
    assert "".join(live).strip() == "Here I am, love."
    assert len(scripted.calls) == 3 and scripted.calls[2] == scripted.calls[0]  # the same prompt, drawn again
    assert svc.store.thread(uid, live.conversation_id)[-1].content.strip() == "Here I am, love."
    # A model that never writes: two more draws, then the empty reply is kept, not looped on.
    scripted.enqueue("", "", "", "never shown")
    svc.send(uid, "And now?", conversation_id=live.conversation_id).run()
    assert len(scripted.calls) == 6 and scripted.replies == ["never shown"]
