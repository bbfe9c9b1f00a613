"""Reliability: a crash mid-reply, eight users at once, and faults (database gone, disk full, model file removed).

Fuzzing of the inputs lives in test_fuzz.py. These tests run real servers and the real model, each bounded
in time; the load test runs for a minute (``--soak SECONDS`` runs it longer, for local runs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from app.core.errors import KeepsakeError, ModelNotFound, StoreError
from app.core.settings import load_settings
from app.service import ChatService
from memory.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _start_server(home: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "KEEPSAKE_HOME": str(home), "KEEPSAKE_N_CTX": "2048", "KEEPSAKE_N_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"the server did not start: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start within 120 s")


@pytest.mark.model
def test_kill_9_mid_reply_keeps_every_committed_turn(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    proc = _start_server(home, port, "--no-safety")
    model = httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"][-1]["id"]
    try:
        first = httpx.post(url, json={"model": model, "max_tokens": 24, "seed": 1,
                                      "messages": [{"role": "user", "content": "Hello! I grow roses in my garden."}]},
                           timeout=120).json()
        conversation = first["keepsake"]["conversation_id"]
        watcher = Store(load_settings(home=home).db_url)  # reads beside the server (WAL), takes nothing over
        received = ""
        with httpx.stream("POST", url, timeout=120, json={
                "model": model, "max_tokens": 600, "seed": 2, "stream": True, "conversation_id": conversation,
                "messages": [{"role": "user", "content": "Write a very long story about a lighthouse keeper."}]}) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    received += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                reply = watcher.thread(watcher.user_id(), conversation)[-1]
                if reply.role == "assistant" and reply.status == "streaming" and reply.content:
                    os.kill(proc.pid, signal.SIGKILL)  # a partial text is saved and the reply is still going
                    break
        proc.wait(timeout=30)
        watcher.close()
    finally:
        proc.kill()

    proc = _start_server(home, port, "--no-safety")  # the restart recovers what the dead process left
    try:
        settings = load_settings(home=home)
        store = Store(settings.db_url)
        uid = store.user_id()
        thread = store.thread(uid, conversation)
        assert [(m.role, m.status) for m in thread] == [("user", "complete"), ("assistant", "complete"),
                                                        ("user", "complete"), ("assistant", "interrupted")]
        assert thread[1].content == first["choices"][0]["message"]["content"]
        assert thread[3].content and received.startswith(thread[3].content[:40])  # the partial text was saved
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # The FAISS index matches the database: the committed turn is a memory, found by meaning.
        from memory.embedder import load_embedder
        from memory.memories import LongTermMemory

        memory = LongTermMemory(store, load_embedder(""), home)
        index = memory.index(None, uid)
        index.ensure_fresh()
        assert index.index.ntotal == memory.count(None, uid) >= 1
        assert "roses" in memory.search("flowers in the garden", persona_id=None, user_id=uid, min_score=0.1)[0].text
        # The conversation goes on after the crash.
        more = httpx.post(url, json={"model": model, "max_tokens": 8, "conversation_id": conversation,
                                     "messages": [{"role": "user", "content": "Are you still there?"}]}, timeout=120)
        assert more.status_code == 200 and store.thread(uid, conversation)[-1].status == "complete"
    finally:
        proc.send_signal(signal.SIGTERM)  # not SIGINT: a runner started in the background ignores it, and so would the server
        proc.wait(timeout=30)


@pytest.mark.model
def test_sigterm_mid_reply_stops_cleanly_and_stores_the_partial_reply(tmp_path: Path) -> None:
    """What systemd and container runtimes send: the server exits 0 and the cut reply is kept as interrupted."""
    home, port = tmp_path / "home", free_port()
    proc = _start_server(home, port, "--no-safety", "--no-memory")
    try:
        model = httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"][-1]["id"]
        received, signalled_at = "", None
        with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", timeout=120, json={
                "model": model, "max_tokens": 600, "temperature": 0, "stream": True,
                "messages": [{"role": "user", "content": "Write a very long story about a lighthouse keeper."}]}) as r:
            try:
                for line in r.iter_lines():
                    if line.startswith("data: {"):
                        received += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                    if len(received) > 80 and signalled_at is None:
                        proc.send_signal(signal.SIGTERM)
                        signalled_at = time.monotonic()
            except httpx.RemoteProtocolError:
                pass  # the stream is cut when the grace period ends
        assert signalled_at is not None, f"the reply ended before it could be interrupted: {received!r}"
        assert proc.wait(timeout=60) == 0
        said = proc.stderr.read()
        assert "Traceback" not in said, said
    finally:
        proc.kill()
    store = Store(load_settings(home=home).db_url)
    assert store.recovered == 0  # the server closed its own reply; nothing is left for the next start to repair
    uid = store.user_id()
    (conversation,) = store.list_conversations(uid)
    question, reply = store.thread(uid, conversation.id)
    assert question.status == "complete"
    assert reply.status == "interrupted" and reply.content.startswith(received) and reply.token_count < 600


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.model
def test_eight_users_at_once_over_the_web_and_the_api(request, model_path: Path, real_embedder, tmp_path: Path) -> None:  # noqa: ANN001
    """Four users on the API, four on the web page's own endpoint, all at once, for a bounded time."""
    import openai
    from gradio_client import Client

    from app.accounts import add_user, create_api_key
    from app.core.llama import LlamaCppBackend
    from app.server import serve
    from memory.memories import LongTermMemory
    from safety.baseline import PreviousJudge
    from safety.filter import SafetyFilter

    duration = request.config.getoption("--soak") or 60.0
    settings = load_settings(home=tmp_path / "home", port=free_port(), auth=True, parallel=2, max_tokens=12, seed=3)
    store = Store(settings.db_url)
    service = ChatService(settings, backend=LlamaCppBackend(model_path, n_ctx=1024, n_threads=2, parallel=2),
                          store=store, memory=LongTermMemory(store, real_embedder, settings.home),
                          safety=SafetyFilter(PreviousJudge(real_embedder), settings.safety_settings))
    names = [f"user{i}" for i in range(8)]
    keys = {}
    for name in names:
        add_user(store, name, f"{name}-password")
        keys[name] = create_api_key(store, name)
    server = serve(service, block=False)
    sent: dict[str, list[str]] = {n: [] for n in names}
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    deadline = time.monotonic() + duration

    def api_user(name: str) -> None:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=keys[name], max_retries=0, timeout=120)
        n = 0
        while time.monotonic() < deadline:
            text = f"{name} says hello, message {n}"
            try:
                if n % 2:
                    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
                        model=service.backend.name, messages=[{"role": "user", "content": text}], stream=True) if c.choices]
                    assert "".join(pieces).strip()
                else:
                    reply = client.chat.completions.create(model=service.backend.name, messages=[{"role": "user", "content": text}])
                    assert reply.choices[0].message.content.strip()
                sent[name].append(text)
            except openai.APIStatusError as exc:
                if exc.status_code not in (429, 503):  # a clean "busy" is allowed, anything else is an error
                    errors.append(f"{name}: {exc}")
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(f"{name}: {exc!r}")
            n += 1

    def web_user(name: str) -> None:
        client = Client(server.url, auth=(name, f"{name}-password"), verbose=False)
        history: list = []
        n = 0
        while time.monotonic() < deadline:
            text = f"{name} says hello, message {n}"
            try:
                history = client.predict(text, history, None, api_name="/handler")[0]  # (the State output is the client's own)
                assert history[-1]["role"] == "assistant" and "⚠️" not in str(history[-1]["content"])
                sent[name].append(text)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{name}: {exc!r}")
            n += 1

    def sample_memory() -> None:
        while time.monotonic() < deadline:
            rss.append((time.monotonic(), _rss_mb()))
            time.sleep(1)

    threads = [threading.Thread(target=api_user if i < 4 else web_user, args=(name,)) for i, name in enumerate(names)]
    threads.append(threading.Thread(target=sample_memory))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=duration + 300)
    finally:
        server.close()
    assert not errors, errors[:5]
    for name in names:
        assert sent[name], f"{name} got no reply in {duration:.0f} s"
        uid = store.user_id(name, create=False)
        stored = [m for c in store.list_conversations(uid) for m in store.thread(uid, c.id)]
        asked = [m.content for m in stored if m.role == "user"]
        # Nothing lost, nothing twice: every completed request is stored once, with its finished reply.
        assert sorted(asked) == sorted(sent[name]), name
        assert all(m.status == "complete" for m in stored if m.role == "assistant")
        assert sum(m.role == "assistant" for m in stored) == len(sent[name])
    # Memory levels off: the second half of the run grows by less than the first half's level allows.
    half = [mb for t, mb in rss if t > deadline - duration / 2]
    assert max(half) - half[0] < 150, f"memory kept growing: {rss[0][1]:.0f} -> {max(half):.0f} MB"


# -- faults ------------------------------------------------------------------------------------------


@pytest.fixture
def own_postgres():  # noqa: ANN201
    """A PostgreSQL server of this test's own, which it may stop and start again."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: run the suite through scripts/test")
        pytest.skip("PostgreSQL is not installed (scripts/system-deps installs it)")
    folder = tempfile.mkdtemp(prefix="keepsake-pg-")
    script = str(ROOT / "scripts" / "postgres")
    url = subprocess.run([script, "start", folder], check=True, capture_output=True, text=True).stdout.strip()
    yield url, lambda action: subprocess.run([script, action, folder], check=True, capture_output=True)
    subprocess.run([script, "stop", folder], capture_output=True)


@pytest.mark.postgres
def test_the_database_going_away_mid_run_is_reported_and_survived(own_postgres, scripted, unfiltered) -> None:  # noqa: ANN001
    url, control = own_postgres
    scripted.enqueue("first reply", "second reply")
    service = ChatService(unfiltered.model_copy(update={"memory": False}), backend=scripted, store=Store(url))
    uid = service.store.user_id()
    live = service.send(uid, "Hello")
    live.run()
    conv = live.conversation_id
    control("pause")
    with pytest.raises(StoreError, match="database error"):
        service.send(uid, "Are you there?", conversation_id=conv)
    from app.web import respond

    frames = list(respond(service, uid, "Still there?", [], conv))  # the page says so, it does not hang or crash
    assert "database error" in frames[-1][0][-1]["content"]
    control("resume")
    service.send(uid, "Back again", conversation_id=conv).run()  # the pool reconnects by itself
    assert [m.content for m in service.store.thread(uid, conv)] == ["Hello", "first reply", "Back again", "second reply"]


def test_a_full_disk_during_export_leaves_no_half_file_and_loses_nothing(scripted_service, scripted, tmp_path) -> None:  # noqa: ANN001
    from app.core.files import WriteError
    from app.web import export_conversation

    scripted.enqueue("a reply worth keeping")
    svc = scripted_service
    uid = svc.store.user_id()
    live = svc.send(uid, "Please remember this")
    live.run()
    folder = svc.settings.home / "exports" / str(uid)
    folder.mkdir(parents=True)
    target = folder / f"conversation-{live.conversation_id}.md"
    (folder / f".{target.name}.partial").symlink_to("/dev/full")  # every write there fails with ENOSPC
    with pytest.raises(WriteError, match="No space left on device"):
        export_conversation(svc, uid, live.conversation_id, "markdown")
    assert not target.exists() and not (folder / f".{target.name}.partial").exists()
    assert [m.content for m in svc.store.thread(uid, live.conversation_id)] == ["Please remember this",
                                                                               "a reply worth keeping"]
    path = export_conversation(svc, uid, live.conversation_id, "markdown")  # space is back: it works
    assert "a reply worth keeping" in Path(path).read_text()
    result = subprocess.run([sys.executable, "-m", "app", "conversations", "export", str(live.conversation_id),
                             "--database-url", svc.store.url, "--output", "/dev/full"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert Path("/dev/full").is_char_device()  # written to, not replaced


@pytest.mark.model
def test_a_model_file_removed_after_start(model_path: Path, unfiltered, tmp_path: Path) -> None:  # noqa: ANN001
    copy = tmp_path / "models" / "chat.gguf"
    copy.parent.mkdir()
    shutil.copy(model_path, copy)
    settings = unfiltered.model_copy(update={"model": copy, "memory": False, "n_ctx": 512, "max_tokens": 8})
    service = ChatService(settings, store=Store(f"sqlite:///{tmp_path / 'm.db'}"))
    uid = service.store.user_id()
    assert service.send(uid, "Hello").run().text
    copy.unlink()
    # The loaded model is memory-mapped: chats go on.
    assert service.send(uid, "Still there?").run().text
    # A new start, or a user choosing that file, says what is wrong instead of crashing.
    with pytest.raises(ModelNotFound, match="chat.gguf"):
        ChatService(settings, store=service.store).send(uid, "Hello again")
    with pytest.raises(KeepsakeError):
        from app import preferences

        preferences.Variants(service).for_user(preferences.Preferences(model=str(copy), n_ctx=256))
    shutil.copy(model_path, copy)  # the file is back: so is the model
    assert ChatService(settings, store=service.store).send(uid, "Hello again").run().text
