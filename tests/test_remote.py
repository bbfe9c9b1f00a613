"""The remote backend against a real OpenAI-compatible server: llama-cpp-python's, on loopback."""

import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port

from app.core.chat import ChatEngine
from app.core.errors import BackendError
from app.core.remote import RemoteBackend
from app.core.settings import Sampling


@pytest.fixture(scope="module")
def server(model_path):  # noqa: ANN001, ANN201
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"llama_cpp.server did not start: {proc.stderr.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.model
def test_remote_streams_a_real_reply(server: str) -> None:
    backend = RemoteBackend(server, model="smollm", context_size=2048)
    pieces = list(backend.stream([{"role": "user", "content": "Name three colours."}], Sampling(seed=1, max_tokens=30)))
    assert len(pieces) > 3 and "".join(pieces).strip()


@pytest.mark.model
def test_remote_seed_is_passed_through(server: str) -> None:
    backend = RemoteBackend(server, context_size=2048)
    s = Sampling(seed=42, temperature=1.0, max_tokens=25)
    msgs = [{"role": "user", "content": "Tell me a story."}]
    assert "".join(backend.stream(msgs, s)) == "".join(backend.stream(msgs, s))


@pytest.mark.model
def test_remote_backend_drives_the_engine_with_estimated_counts(server: str) -> None:
    backend = RemoteBackend(server, context_size=2048)
    engine = ChatEngine(backend, Sampling(seed=3, max_tokens=20))
    turn = engine.start(system="Be brief.", user="Hello!", history=[{"role": "user", "content": "Hi"},
                                                                    {"role": "assistant", "content": "Hello."}])
    reply = turn.run()
    assert reply.text and reply.prompt_tokens > 0 and reply.completion_tokens > 0


def test_unreachable_server_is_a_clear_error() -> None:
    backend = RemoteBackend(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(BackendError, match="cannot reach the remote model server"):
        list(backend.stream([{"role": "user", "content": "hi"}], Sampling()))


@pytest.mark.model
def test_server_error_is_reported(server: str) -> None:
    backend = RemoteBackend(server.removesuffix("/v1") + "/nowhere/v1")
    with pytest.raises(BackendError, match="answered 404"):
        list(backend.stream([{"role": "user", "content": "hi"}], Sampling()))
