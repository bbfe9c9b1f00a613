"""Shared fixtures. Every test gets its own KEEPSAKE_HOME; the real embedded model is loaded once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from llama_cpp import Llama

from app.core.llama import LlamaCppBackend
from app.core.models import embedded_model_path
from app.core.settings import Sampling, Settings, load_settings
from app.service import ChatService, LiveReply
from memory.store import Store

from fakes import ScriptedBackend

PG_URL = os.environ.get("KEEPSAKE_TEST_PG_URL", "")
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", type=float, default=None, metavar="SECONDS",
                     help="Run the load test this long instead of a minute (for local soak runs).")


def free_port() -> int:
    """A loopback port nobody listens on, for servers the tests start."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True, scope="module")
def torch_threads_restored():  # noqa: ANN201
    """PyTorch's thread count as each module found it. A module that pins it to one thread (tests/test_finetune.py,
    beside llama.cpp) had left it pinned for the rest of the run, and every later module's detectors and judges read
    at half speed: the self-harm suites test took 70 s after it, 34 s alone."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def keepsake_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point everything Keepsake writes at a fresh directory; ignore the developer's own settings."""
    for name in list(os.environ):
        if name.startswith("KEEPSAKE_") and name != "KEEPSAKE_TEST_PG_URL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("KEEPSAKE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def gguf_loads_are_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A test that loads a GGUF model in this process must carry @pytest.mark.model, or it fails.

    (Tests that start a process which loads one cannot be watched from here; they are marked by hand.)
    """
    if request.node.get_closest_marker("model"):
        yield
        return
    if "llama" in request.fixturenames:
        pytest.fail("this test uses the real model (the llama fixture): mark it @pytest.mark.model")
    loaded: list[str] = []
    load = Llama.__init__

    def watched(self, model_path: str, *args, **kwargs) -> None:  # noqa: ANN001
        load(self, model_path, *args, **kwargs)
        if not kwargs.get("vocab_only"):  # reading a tokenizer is not running the model
            loaded.append(model_path)

    monkeypatch.setattr(Llama, "__init__", watched)
    yield
    assert not loaded, f"this test loaded {loaded[0]}: mark it @pytest.mark.model"


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def llama(model_path: Path) -> LlamaCppBackend:
    """The real embedded SmolLM2 GGUF, shared by the tests that generate."""
    return LlamaCppBackend(model_path, n_ctx=2048, n_threads=2)


@dataclass
class RealChat:
    """The chat service on the real model and the shipped filter, one user and seeded sampling: what the end-to-end
    safety tests send their messages through."""

    service: ChatService
    user: int
    sampling: Sampling

    def send(self, text: str, conversation_id: int | None = None) -> LiveReply:
        return self.service.send(self.user, text, sampling=self.sampling, conversation_id=conversation_id)

    def last_shown(self, conversation_id: int) -> str:
        return self.service.store.thread(self.user, conversation_id)[-1].content


@pytest.fixture
def real_chat(settings: Settings, llama: LlamaCppBackend, tmp_path: Path) -> RealChat:
    service = ChatService(settings, backend=llama, store=Store(f"sqlite:///{tmp_path / 'chat.db'}"))
    return RealChat(service, service.store.user_id(), settings.sampling.model_copy(update={"seed": 3, "max_tokens": 40}))


def _db_params() -> list:
    pg = pytest.param("postgresql", marks=pytest.mark.postgres)
    return ["sqlite", pg]


@pytest.fixture(params=_db_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on the real PostgreSQL server started by scripts/test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keepsake.db'}"
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("KEEPSAKE_TEST_PG_URL is not set: run the suite through scripts/test")
        pytest.skip("no PostgreSQL server: run through scripts/test to include the PostgreSQL run")
    return _fresh_pg_database(PG_URL)


def _fresh_pg_database(url: str) -> str:
    """An empty database of its own on the test server, so tests never see each other's rows."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def settings(keepsake_home: Path) -> Settings:
    return load_settings()


@pytest.fixture
def unfiltered(settings: Settings) -> Settings:
    """Settings with the safety filter off, for tests of other features on scripted replies."""
    return settings.model_copy(update={"safety": False})


@pytest.fixture
def scripted() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def scripted_service(settings: Settings, scripted: ScriptedBackend, tmp_path: Path) -> ChatService:
    """The service on a scripted model, long-term memory and safety off, so prompts are exactly predictable."""
    return ChatService(settings.model_copy(update={"memory": False, "safety": False}), backend=scripted,
                       store=Store(f"sqlite:///{tmp_path / 'svc.db'}"))


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2, loaded once."""
    from memory.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed: run the suite through scripts/test")
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (scripts/system-deps installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), headless=True,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()
