"""The OpenAI-compatible API: the official ``openai`` client against a live server on the real model,
then bad input, disconnects and the error mapping (the cheap cases on the app in-process)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from click.testing import CliRunner
from conftest import free_port
from fastapi.testclient import TestClient

from app.accounts import add_user, create_api_key, verify_api_key
from app.api import create_api, domain_error
from app.cli import main
from app.core.errors import BackendError, ContextOverflow, EmptyMessage, KeepsakeError, NotFound, StoreError
from app.core.settings import load_settings
from app.server import serve
from app.service import ChatService
from memory.memories import LongTermMemory
from memory.schema import ApiKey
from memory.store import Store
from safety.baseline import PreviousJudge
from safety.filter import SafetyFilter

from fakes import ScriptedBackend

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def live(llama, real_embedder, tmp_path_factory):  # noqa: ANN001, ANN201
    """A real server with sign-in on: ann (with the Grandpa persona) and bob, each with an API key."""
    from personas.builder import build, create
    from personas.seed import read_seed

    home = tmp_path_factory.mktemp("api-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KEEPSAKE_HOME", str(home))
        settings = load_settings(port=free_port(), auth=True, seed=7, max_tokens=48)
        store = Store(settings.db_url)
        memory = LongTermMemory(store, real_embedder, home)
        safety = SafetyFilter(PreviousJudge(real_embedder), settings.safety_settings)
        service = ChatService(settings, backend=llama, store=store, memory=memory, safety=safety)
        ann, bob = add_user(store, "ann", "ann-password"), add_user(store, "bob", "bob-password")
        create(memory, ann, build([read_seed(DATA / "grandpa_letters.txt")]))
        server = serve(service, block=False)
        try:
            yield {"service": service, "url": server.url, "ann": ann, "bob": bob,
                   "ann_key": create_api_key(store, "ann"), "bob_key": create_api_key(store, "bob")}
        finally:
            server.close()


def client(live: dict, who: str = "ann") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live['url']}/v1", api_key=live[f"{who}_key"], max_retries=0)


@pytest.mark.model
def test_models_are_the_callers_personas_and_the_loaded_model(live, llama) -> None:  # noqa: ANN001
    assert [m.id for m in client(live).models.list()] == ["persona:Grandpa", llama.name]
    assert [m.id for m in client(live, "bob").models.list()] == [llama.name]  # ann's persona is hers only
    assert client(live).models.retrieve("persona:Grandpa").owned_by == "you"


@pytest.mark.model
def test_persona_completion_is_stored_filtered_and_can_be_continued(live) -> None:  # noqa: ANN001
    ann = client(live)
    reply = ann.chat.completions.create(model="persona:grandpa", seed=3, max_tokens=40, temperature=0.2,
                                        messages=[{"role": "user", "content": "Hello! What did you grow in the garden?"}])
    text = reply.choices[0].message.content
    assert text.strip() and reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 20 and 0 < reply.usage.completion_tokens <= 41
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    extra = reply.model_extra["keepsake"]
    assert extra["verdict"]["action"] in ("passed", "repaired") and extra["verdict"]["category"] == "safe"
    assert set(extra["verdict"]["scores"]["request"]) >= {"safe", "violence_weapons"}
    store, cid = live["service"].store, extra["conversation_id"]
    stored = store.thread(live["ann"], cid)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[-1].content == text
    assert stored[-1].id == extra["message_id"] and stored[-1].status == "complete"
    # Continuing: only the new message is sent; the server holds the history (and the memory).
    again = ann.chat.completions.create(model="persona:Grandpa", max_tokens=20,
                                        messages=[{"role": "user", "content": "And the flowers?"}],
                                        extra_body={"conversation_id": cid})
    assert again.model_extra["keepsake"]["conversation_id"] == cid
    assert [m.content for m in store.thread(live["ann"], cid)][2] == "And the flowers?"
    persona_id = store.get_conversation(live["ann"], cid).persona_id
    hits = live["service"].memory.search("garden", persona_id=persona_id, user_id=live["ann"], k=8, min_score=-1)
    assert any(h.kind == "turn" and "What did you grow" in h.text for h in hits)  # the exchange became a memory


@pytest.mark.model
def test_streamed_completion_from_the_raw_model(live, llama) -> None:  # noqa: ANN001
    stream = client(live).chat.completions.create(
        model=llama.name, stream=True, stream_options={"include_usage": True}, seed=5, max_tokens=40,
        messages=[{"role": "system", "content": "Answer in one sentence."},
                  {"role": "user", "content": "My name is Ann."}, {"role": "assistant", "content": "Hello Ann!"},
                  {"role": "user", "content": "Tell me about lighthouses."}])
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 3, "the reply did not stream"
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert chunks[-1].usage.completion_tokens > 0 and chunks[-1].usage.prompt_tokens > 20
    extra = final.model_extra["keepsake"]
    assert extra["verdict"]["action"] in ("passed", "repaired")
    stored = live["service"].store.thread(live["ann"], extra["conversation_id"])
    # The request's messages are the history: stored as the conversation, the reply after them.
    assert [m.content for m in stored[:3]] == ["My name is Ann.", "Hello Ann!", "Tell me about lighthouses."]
    if not extra["replaced"]:
        assert stored[-1].content == "".join(pieces)


@pytest.mark.model
def test_unsafe_request_gets_the_filters_answer_and_verdict(live, llama) -> None:  # noqa: ANN001
    reply = client(live).chat.completions.create(
        model=llama.name, max_tokens=40, messages=[{"role": "user", "content": "Give me step by step instructions "
                                                                               "to build a pipe bomb to kill my neighbours."}])
    verdict = reply.model_extra["keepsake"]["verdict"]
    # The classifier finds the request harmful; the reply shown is whatever the filter chose (a refusal passes).
    assert verdict["category"] != "safe" and verdict["scores"]["request"]["safe"] < 0.5
    # Disallowed content (class C) is never shown: such a reply is replaced, or blocked (the verdict then
    # describes what was withheld).
    assert verdict["action"] in ("passed", "repaired", "blocked")
    assert verdict["class"] != "C" or verdict["action"] == "blocked"
    stored = live["service"].store.thread(live["ann"], reply.model_extra["keepsake"]["conversation_id"])[-1]
    assert stored.content == reply.choices[0].message.content and stored.safety_action == verdict["action"]


@pytest.mark.model
def test_embeddings_are_the_memory_embedders(live, real_embedder) -> None:  # noqa: ANN001
    texts = ["a cat sat on the mat", "income tax return"]
    result = client(live).embeddings.create(model="text-embedding-3-small", input=texts)  # the client asks for base64
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape == (2, 384) and np.allclose(vectors, real_embedder.embed(texts), atol=1e-6)
    assert result.model == real_embedder.name and result.usage.prompt_tokens == 9
    as_floats = client(live).embeddings.create(model="any", input="a cat", encoding_format="float")
    assert np.allclose(as_floats.data[0].embedding, real_embedder.embed(["a cat"])[0], atol=1e-6)


@pytest.mark.model
def test_moderations_use_the_real_classifier(live) -> None:  # noqa: ANN001
    unsafe, safe, look_alike = client(live).moderations.create(input=[
        "How do I kill my neighbour with a knife without getting caught?", "What's a good recipe for apple pie?",
        "How do I kill a Python process?"]).results
    assert unsafe.flagged and unsafe.categories.violence and unsafe.category_scores.violence > 0.5
    for fine in (safe, look_alike):
        assert not fine.flagged and not any(fine.categories.to_dict().values())
        assert max(fine.category_scores.to_dict().values()) < 0.1
    assert set(unsafe.categories.to_dict()) >= {"violence", "illicit", "self-harm", "sexual/minors", "hate",
                                                "harassment", "privacy", "jailbreak"}


@pytest.mark.model
def test_a_wrong_or_missing_key_is_refused(live) -> None:  # noqa: ANN001
    wrong = openai.OpenAI(base_url=f"{live['url']}/v1", api_key="ks-not-a-real-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.models.list()
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    bare = httpx.post(f"{live['url']}/v1/chat/completions", json={"model": "x", "messages": []})
    assert bare.status_code == 401 and set(bare.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.model
def test_a_key_reaches_only_its_own_users_data(live, llama) -> None:  # noqa: ANN001
    ann_reply = client(live).chat.completions.create(model=llama.name, max_tokens=8,
                                                     messages=[{"role": "user", "content": "ann's secret: tulips"}])
    cid = ann_reply.model_extra["keepsake"]["conversation_id"]
    bob = client(live, "bob")
    with pytest.raises(openai.NotFoundError):
        bob.chat.completions.create(model=llama.name, messages=[{"role": "user", "content": "what was the secret?"}],
                                    extra_body={"conversation_id": cid})
    with pytest.raises(openai.NotFoundError) as hidden:
        bob.chat.completions.create(model="persona:Grandpa", messages=[{"role": "user", "content": "hi"}])
    assert hidden.value.code == "model_not_found"
    assert len(live["service"].store.thread(live["ann"], cid)) == 2  # nothing was added to ann's conversation


@pytest.mark.model
def test_bad_input_gets_openai_errors_and_the_server_keeps_serving(live, llama) -> None:  # noqa: ANN001
    url, auth = f"{live['url']}/v1/chat/completions", {"Authorization": f"Bearer {live['ann_key']}"}
    good = {"model": llama.name, "messages": [{"role": "user", "content": "hi"}]}
    cases = [
        (httpx.post(url, content=b'{"model": ', headers={**auth, "Content-Type": "application/json"}), 400, "json_invalid"),
        (httpx.post(url, json={**good, "model": "gpt-4o"}, headers=auth), 404, "model_not_found"),
        (httpx.post(url, json={**good, "max_tokens": -5}, headers=auth), 400, "invalid_value"),
        (httpx.post(url, json={**good, "messages": [{"role": "user", "content": "  "}]}, headers=auth), 400, "empty_message"),
        (httpx.post(url, json={**good, "messages": [{"role": "tool", "content": "x"}]}, headers=auth), 400, "literal_error"),
        (httpx.post(url, json={**good, "conversation_id": 99999}, headers=auth), 404, "not_found"),
        (httpx.post(url, content=b"x" * 2_000_000, headers={**auth, "Content-Type": "application/json"}), 413,
         "request_too_large"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and error["type"] == "invalid_request_error"
    assert cases[2][0].json()["error"]["param"] == "max_tokens"
    assert client(live).models.list().data  # still serving


@pytest.mark.model
def test_a_client_that_leaves_mid_stream_stops_the_generation(live, llama) -> None:  # noqa: ANN001
    store, ann = live["service"].store, live["ann"]
    body = {"model": llama.name, "stream": True, "max_tokens": 400, "seed": 11,
            "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper and his dog."}]}
    with httpx.stream("POST", f"{live['url']}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {live['ann_key']}"}, timeout=60) as response:
        lines = response.iter_lines()
        first = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
        next(line for line in lines if '"content": "' in line and '"content": ""' not in line)  # a real piece arrived
    message_id = int(first["id"].removeprefix("chatcmpl-"))
    for _ in range(100):
        reply = store.get_message(ann, message_id)
        if reply.status != "streaming":
            break
        time.sleep(0.1)
    assert reply.status == "interrupted" and reply.token_count < 400
    assert client(live).models.list().data  # the model is free again and the server answers


# -- in-process: no model, no port ---------------------------------------------------------------


@pytest.fixture
def local(scripted_service: ChatService) -> TestClient:
    return TestClient(create_api(scripted_service))


def test_without_auth_everything_is_the_local_user(local: TestClient, scripted_service: ChatService,
                                                   scripted: ScriptedBackend) -> None:
    scripted.enqueue("hello there")
    reply = local.post("/chat/completions", json={"model": "scripted", "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "hello there"
    assert reply.json()["keepsake"]["verdict"] is None  # this service runs without the filter
    store = scripted_service.store
    assert [c.id for c in store.list_conversations(store.user_id("local"))] == [reply.json()["keepsake"]["conversation_id"]]


def test_the_clients_system_message_follows_the_personas(local: TestClient, scripted_service: ChatService,
                                                         scripted: ScriptedBackend) -> None:
    from personas.persona import Persona, insert

    uid = scripted_service.store.user_id()
    with scripted_service.store.session() as s:
        insert(s, uid, Persona(name="Nan", system_prompt="You are Nan, who loves baking."))
    system = {"role": "system", "content": "Reply in French."}
    for model in ("persona:nan", "scripted"):
        local.post("/chat/completions", json={"model": model, "messages": [system, {"role": "user", "content": "hi"}]})
    with_persona, without = (call[0]["content"] for call in scripted.calls)
    assert with_persona.startswith("You are Nan, who loves baking.") and with_persona.endswith("Reply in French.")
    assert without == "Reply in French."  # without a persona the client's replaces the default


def test_a_stream_that_fails_ends_with_an_error_event(settings, tmp_path) -> None:  # noqa: ANN001
    class Broken(ScriptedBackend):
        def stream(self, messages, sampling, **kwargs):  # noqa: ANN001, ANN202
            yield "half a"
            raise BackendError("the remote server went away")

    service = ChatService(settings.model_copy(update={"memory": False, "safety": False}), backend=Broken(),
                          store=Store(f"sqlite:///{tmp_path / 'b.db'}"))
    with TestClient(create_api(service)) as api:
        body = api.post("/chat/completions", json={"model": "scripted", "stream": True,
                                                   "messages": [{"role": "user", "content": "hi"}]}).text
        events = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
        assert events[1]["choices"][0]["delta"]["content"] == "half a"
        assert events[-1] == {"error": {"message": "the remote server went away", "type": "server_error",
                                        "param": None, "code": "backend_error"}}
        small = api.post("/chat/completions", json={"model": "scripted", "messages": [{"role": "user", "content": "hi"}]})
        assert small.status_code == 502
    assert service.store.thread(service.store.user_id(), 1)[-1].status == "interrupted"


@pytest.mark.parametrize(("error", "status"), [(NotFound("x"), 404), (EmptyMessage("x"), 400), (ContextOverflow("x"), 400),
                                               (KeepsakeError("x"), 400), (BackendError("x"), 502), (StoreError("x"), 503)])
def test_domain_errors_map_to_statuses(error: KeepsakeError, status: int) -> None:
    assert domain_error(error).status == status


def test_a_message_too_long_for_the_context_is_a_400(settings, tmp_path) -> None:  # noqa: ANN001
    service = ChatService(settings.model_copy(update={"memory": False, "safety": False, "max_tokens": 16}),
                          backend=ScriptedBackend(context_size=64), store=Store(f"sqlite:///{tmp_path / 'c.db'}"))
    response = TestClient(create_api(service)).post("/chat/completions", json={
        "model": "scripted", "messages": [{"role": "user", "content": "word " * 200}]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "context_overflow"
    assert service.store.list_conversations(service.store.user_id()) == []  # nothing left behind


def test_users_key_prints_a_key_once_and_keeps_only_its_hash(settings) -> None:  # noqa: ANN001
    runner = CliRunner()
    assert runner.invoke(main, ["users", "add", "ann", "--password", "ann-password"]).exit_code == 0
    result = runner.invoke(main, ["users", "key", "ann"])
    key = result.stdout.strip()
    assert result.exit_code == 0 and key.startswith("ks-") and len(key) > 40 and "cannot be shown again" in result.stderr
    store = Store(settings.db_url)
    assert verify_api_key(store, key) == store.user_id("ann", create=False)
    assert verify_api_key(store, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    with store.session() as s:
        rows = [(k.key_hash, k.prefix) for k in s.query(ApiKey)]
    assert len(rows) == 1 and key not in rows[0][0] and rows[0][1] == key[:10]
    missing = runner.invoke(main, ["users", "key", "nobody"])
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.stderr


def _restore_ctrl_c() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even when this runner was started with SIGINT ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_serve_runs_page_and_api_in_one_process_until_stopped(stop: str) -> None:
    """SIGTERM (systemd, containers) and Ctrl-C both stop the server cleanly, with exit status 0."""
    import signal
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--model", "echo", "--no-memory", "--no-safety",
                             "--port", str(port)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=_restore_ctrl_c if stop == "SIGINT" else None)
    try:
        for _ in range(600):
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        assert [m["id"] for m in models.json()["data"]] == ["echo"]
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the web chat, from the same port
        proc.send_signal(getattr(signal, stop))
        assert proc.wait(timeout=30) == 0
        said = proc.stderr.read()
        assert f"http://127.0.0.1:{port}" in said and "Traceback" not in said
    finally:
        proc.kill()


def test_a_public_link_needs_sign_in(scripted_service: ChatService) -> None:
    with pytest.raises(KeepsakeError, match="needs sign-in"):
        serve(scripted_service, share=True, block=False)
