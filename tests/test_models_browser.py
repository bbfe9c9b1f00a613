"""The page's model panel in headless Chromium: download a catalogue model from the local Hub stand-in,
choose it in Model settings, and chat with it."""

from pathlib import Path

import pytest
from conftest import free_port
from test_web_browser import OUT, _wait_text

from app.core import catalogue
from app.core.backends import EchoBackend
from app.core.models import models_dir
from app.server import serve
from app.service import ChatService
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store

from hub_server import FakeHub, hub  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_download_choose_and_chat_with_a_catalogue_model(browser, hub: FakeHub, unfiltered, tmp_path: Path) -> None:  # noqa: ANN001, F811
    entry = catalogue.find("smollm2-1.7b")
    settings = unfiltered.model_copy(update={"port": free_port(), "memory": False, "n_ctx": 2048, "n_threads": 2,
                                              "max_tokens": 48})
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    # The server's own model is the echo fake, so a real reply can only come from the downloaded model.
    service = ChatService(settings, backend=EchoBackend(), store=store,
                          memory=LongTermMemory(store, WordLengthEmbedder(), settings.home))
    demo = serve(service, block=False)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"http://127.0.0.1:{settings.port}/")
        page.locator("#message textarea").wait_for(timeout=30_000)
        page.locator("#model-settings").get_by_text("Model settings").click()
        page.locator("#get-model").get_by_text("Get a better model").click()
        _wait_text(page, "#catalogue", entry.good_at)
        page.locator("#download-pick input").click()
        page.get_by_role("option", name=f"{entry.title} ({entry.size_gb:.1f} GB)").click()
        page.locator("#download-model").click()
        _wait_text(page, "#download-status", f"Downloaded and checked {entry.file}", timeout=60_000)
        assert (models_dir(settings.home) / entry.file).is_file()
        assert [r[0] for r in hub.file_requests] == ["HEAD", "GET"]
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "models-panel.png"), full_page=True)

        page.locator("#pref-model input").click()
        page.get_by_role("option", name=entry.file).click()
        page.locator("#pref-save").click()
        _wait_text(page, "#pref-status", "Saved.", timeout=60_000)
        page.locator("#message textarea").fill("Hello! What is your favourite season?")
        page.locator("#send").click()
        _wait_text(page, "#verdict", "Safety filter off", timeout=120_000)  # the reply has finished
        uid = store.user_id()
        conversation = store.list_conversations(uid)[0].id
        reply = store.thread(uid, conversation)[-1]
        assert reply.role == "assistant" and reply.content.strip() and not reply.content.startswith("echo")
        _wait_text(page, "#chat", reply.content.strip()[:20])
    finally:
        demo.close()
