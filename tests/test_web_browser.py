"""The whole page in headless Chromium: personas tab, exports, alternatives, admin tab, concurrent users."""

from pathlib import Path

import pytest
from conftest import free_port

from app.accounts import add_user
from app.core.backends import EchoBackend
from app.server import serve
from app.service import ChatService
from memory.embedder import WordLengthEmbedder
from memory.memories import LongTermMemory
from memory.store import Store

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "test-output"
LETTERS = Path(__file__).parent / "data" / "grandpa_letters.txt"

pytestmark = pytest.mark.browser

# Records (time, length) each time the last bot message in #chat changes length: when its tokens arrived.
RECORD_REPLY_LENGTHS = """() => {
    window.replyLengths = [];
    const chat = document.querySelector('#chat');
    new MutationObserver(() => {
        const bots = chat.querySelectorAll('.message.bot, [data-testid="bot"]');
        const n = bots.length ? bots[bots.length - 1].innerText.length : 0;
        const seen = window.replyLengths;
        if (!seen.length || seen[seen.length - 1][1] !== n) seen.push([Date.now(), n]);
    }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def _wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:  # noqa: ANN001
    from playwright.sync_api import TimeoutError

    try:
        page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                               arg=[selector, text], timeout=timeout)
    except TimeoutError:
        shown = page.evaluate("(s) => document.querySelector(s)?.innerText", selector)
        raise AssertionError(f"{text!r} did not appear in {selector}; it shows {shown!r}") from None


def test_persona_from_upload_chat_alternatives_export_and_moderation(browser, unfiltered, tmp_path: Path) -> None:  # noqa: ANN001
    settings = unfiltered.model_copy(update={"port": free_port()})
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    service = ChatService(settings, backend=EchoBackend(), store=store,
                          memory=LongTermMemory(store, WordLengthEmbedder(), settings.home))
    demo = serve(service, block=False)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{settings.port}/")
        page.locator("#message textarea").wait_for(timeout=30_000)
        # The single local user is the administrator: the moderation tab shows, with its chart.
        page.get_by_role("tab", name="Moderation").click()
        page.locator("#mod-chart").wait_for(timeout=10_000)
        _wait_text(page, "#users-table", "local")

        # Create a persona from an uploaded seed file.
        page.get_by_role("tab", name="Personas").click()
        page.locator("#seed-files input[type=file]").set_input_files(str(LETTERS))
        # The upload's name shows once Gradio has taken the file: over 15 s once in a plain clone's CI (2026-12-06).
        page.get_by_text("grandpa_letters.txt").first.wait_for(timeout=60_000)
        page.locator("#create-persona").click()
        _wait_text(page, "#persona-status", "Created Grandpa")
        page.wait_for_function("() => document.querySelector('#persona-name textarea, #persona-name input')?.value === 'Grandpa'",
                               timeout=15_000)
        uid = store.user_id()
        from personas.persona import list_personas

        assert [p.name for _, p in list_personas(store, uid)] == ["Grandpa"]
        page.locator("#facts").get_by_text("Facts found in the seed text").click()
        _wait_text(page, "#facts-table", "candidate")
        page.locator("#persona-export").click()
        _wait_text(page, "#persona-download", "Grandpa")
        assert (settings.home / "exports" / str(uid) / "Grandpa.png").exists()
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "personas-tab.png"), full_page=True)

        # Chat with it: the picker lists the new persona; the greeting opens the chat.
        page.get_by_role("tab", name="Chat").click()
        page.locator("#persona input").click()
        page.get_by_role("option", name="Grandpa").click()
        page.locator("#chat").get_by_text("Dear Annie").first.wait_for(timeout=15_000)
        page.locator("#message textarea").fill("How is the farm?")
        page.locator("#send").click()
        _wait_text(page, "#chat", "echo: [Things you remember")  # the echo model repeats its prompt
        page.locator("#regenerate").click()
        _wait_text(page, "#alternatives", "Reply 2 of 2")
        page.locator("#alt-previous").click()
        _wait_text(page, "#alternatives", "Reply 1 of 2")
        conv = store.list_conversations(uid)[0]
        assert store.thread(uid, conv.id)[-1].id == store.alternatives(uid, store.thread(uid, conv.id)[-1].id)[0].id

        # Export the chat, then delete the last turn.
        page.locator("#export").click()
        _wait_text(page, "#download", f"conversation-{conv.id}")
        assert "How is the farm?" in (settings.home / "exports" / str(uid) / f"conversation-{conv.id}.md").read_text()
        page.locator("#delete-turn").click()
        page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('echo:')", timeout=15_000)
        assert [m.role for m in store.thread(uid, conv.id)] == ["assistant"]  # the greeting stays
        page.screenshot(path=str(OUT / "chat-with-persona.png"), full_page=True)
    except Exception:
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "failed-persona-page.png"), full_page=True)  # for the reviewer of a red run
        raise
    finally:
        demo.close()


@pytest.mark.model
def test_two_users_stream_real_replies_at_the_same_time(browser, settings, model_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from app.core.llama import LlamaCppBackend

    store = Store(f"sqlite:///{tmp_path / 'two.db'}")
    for name in ("ann", "bob"):
        add_user(store, name, f"{name}-password")
    s = settings.model_copy(update={"port": free_port(), "auth": True, "memory": False, "parallel": 2,
                                    "max_tokens": 120, "temperature": 0.0})
    backend = LlamaCppBackend(model_path, n_ctx=1024, n_threads=1, parallel=2)  # a thread each: two spin-wait on a busy machine
    demo = serve(ChatService(s, backend=backend, store=store), block=False)
    try:
        pages = {}
        for name in ("ann", "bob"):
            page = browser.new_context().new_page()
            page.goto(f"http://127.0.0.1:{s.port}/")
            page.locator("input[type=text], input[name=username]").first.fill(name)
            page.locator("input[type=password]").first.fill(f"{name}-password")
            page.keyboard.press("Enter")
            page.locator("#message textarea").wait_for(timeout=30_000)
            _wait_text(page, "#whoami", name)
            assert page.get_by_role("tab", name="Moderation").count() == 0  # not administrators
            pages[name] = page
        questions = {"ann": "Write a long story about a lighthouse keeper and his dog.",
                     "bob": "Write a long story about a baker in a mountain village."}
        for name, page in pages.items():
            page.locator("#message textarea").fill(questions[name])
            page.evaluate(RECORD_REPLY_LENGTHS)
        for page in pages.values():
            page.locator("#send").click()
        done = "() => !document.querySelector('.generating, .pending') && window.replyLengths.some(([t, n]) => n > 0)"
        for page in pages.values():
            page.wait_for_function(done, timeout=300_000)
        # Each reply must be seen growing (streamed, not delivered whole), and the two must stream at the
        # same time: the span in which each grew from a tenth to nine tenths of its length must overlap
        # (the tenths leave out a placeholder before the first token and the verdict after the last).
        spans = {}
        for name, page in pages.items():
            ticks = page.evaluate("() => window.replyLengths")  # [time in ms, length], by the browser's clock
            assert len({n for _, n in ticks if n > 0}) > 2, f"{name}'s reply did not stream: {ticks}"
            final = ticks[-1][1]
            spans[name] = tuple(next(t for t, n in ticks if n >= share * final) for share in (0.1, 0.9))
        assert max(first for first, _ in spans.values()) < min(last for _, last in spans.values()), \
            f"the replies did not stream at the same time: {spans}"
        for name, page in pages.items():
            uid = store.user_id(name, create=False)
            (conv,) = store.list_conversations(uid)
            thread = store.thread(uid, conv.id)
            assert [m.content for m in thread][0] == questions[name] and thread[-1].status == "complete"
            shown_reply = page.locator("#chat .message.bot, #chat [data-testid='bot']").last.inner_text().strip()
            assert thread[-1].content.strip()[:40] in shown_reply.replace("\n", " ") or \
                shown_reply[:40] in thread[-1].content.replace("\n", " ")
            assert questions["bob" if name == "ann" else "ann"] not in page.content()
            badge = page.locator("#chat .verdict-badge").last  # the verdict, its details on hover
            assert "reward" in (badge.get_attribute("title") or "")
        pages["ann"].screenshot(path=str(OUT / "two-users-ann.png"), full_page=True)
    finally:
        demo.close()
