"""The web chat: the handler as a plain generator, then the real page in headless Chromium."""

import json
from pathlib import Path

import pytest
from conftest import free_port

from app.server import serve
from app.service import ChatService
from app.web import respond
from memory.store import Store

from fakes import ScriptedBackend

ROOT = Path(__file__).resolve().parents[1]


def test_handler_streams_growing_messages(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    scripted.enqueue("I remember the farm well")
    uid = scripted_service.store.user_id()
    frames = list(respond(scripted_service, uid, "Tell me about the farm", [], None))
    contents = [f[0][-1]["content"] for f in frames]
    assert contents[0] == "" and contents[-1] == "I remember the farm well"
    assert len(set(contents)) == 6 and len(contents) == 7  # one frame per piece, then the final text
    history, conversation_id, box, verdict, inspector = frames[-1]
    assert verdict == "Safety filter off"  # this service runs without the filter, and says so
    assert inspector["messages"][-1]["content"] == "Tell me about the farm" and inspector["history_dropped"] == 0
    assert history[0] == {"role": "user", "content": "Tell me about the farm"} and box == ""
    assert [m.content for m in scripted_service.store.thread(uid, conversation_id)] == ["Tell me about the farm", "I remember the farm well"]


def test_handler_shows_errors_as_a_message(scripted_service: ChatService) -> None:
    uid = scripted_service.store.user_id()
    history, conversation_id, box, _, _ = list(respond(scripted_service, uid, "  ", [], None))[-1]
    assert history[-1]["role"] == "assistant" and "message is empty" in history[-1]["content"]
    assert conversation_id is None and box == "  "  # the text is kept for the user to fix



@pytest.mark.browser
@pytest.mark.model
def test_first_page_streams_a_real_reply(browser, llama, settings, tmp_path) -> None:  # noqa: ANN001
    settings = settings.model_copy(update={"port": free_port(), "seed": 5, "max_tokens": 200})
    service = ChatService(settings, backend=llama, store=Store(f"sqlite:///{tmp_path / 'web.db'}"))
    demo = serve(service, block=False)
    try:
        page = browser.new_page()
        external = []
        page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.goto(f"http://127.0.0.1:{settings.port}/")
        page.locator("#message textarea").fill("Write a long story about a lighthouse keeper and his dog.")
        page.locator("#send").click()
        bot = page.locator("#chat .message.bot, #chat [data-testid='bot']").last
        bot.wait_for(timeout=30_000)
        seen = set()
        for _ in range(3000):  # sample the reply until it is done: streaming shows several lengths
            seen.add(len(bot.inner_text()))
            if not page.evaluate("() => !!document.querySelector('.generating, .pending')"):
                break
            page.wait_for_timeout(20)
        page.wait_for_function("() => !document.querySelector('.generating, .pending')", timeout=60_000)
        final = bot.inner_text().strip()
        assert final, "no reply text"
        assert len(seen) > 2, f"the reply did not stream: {seen}"
        assert external == [], f"the page reached outside the machine: {external[:5]}"
        page.wait_for_function("() => document.querySelector('#verdict').innerText.includes('reward')", timeout=30_000)
        assert "passed" in page.locator("#verdict").inner_text() or "repaired" in page.locator("#verdict").inner_text()
        out = ROOT / "test-output"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "first-page.png"), full_page=True)
        uid = service.store.user_id()
        stored = service.store.thread(uid, service.store.list_conversations(uid)[0].id)
        assert stored[-1].content.strip() == final.strip() or final.startswith(stored[-1].content.strip()[:20])
        # Regenerate: a new reply replaces the shown one, the old one is kept as an alternative.
        page.locator("#regenerate").click()
        conv_id = service.store.list_conversations(uid)[0].id
        for _ in range(600):
            # Until the new reply is the one shown and finished: the old one is complete too, and its sibling may
            # appear between reading the thread and counting the alternatives (a slow CI run, 2026-12-06).
            last = service.store.thread(uid, conv_id)[-1]
            if last.id != stored[-1].id and last.status == "complete":
                break
            page.wait_for_timeout(100)
        assert len(service.store.alternatives(uid, last.id)) == 2 and last.content != stored[-1].content
        bot.get_by_text(last.content.strip()[:30]).first.wait_for(timeout=30_000)
        # The prompt inspector shows what the model was given.
        page.locator("#inspector").get_by_text("Prompt inspector").click()
        page.get_by_text("history_kept").first.wait_for(timeout=10_000)
        page.screenshot(path=str(out / "regenerated-with-inspector.png"), full_page=True)
    finally:
        demo.close()


def test_persona_picker_opens_with_greeting_and_disclosure(unfiltered, tmp_path) -> None:  # noqa: ANN001
    from app.web import open_chat, persona_choices
    from memory.embedder import WordLengthEmbedder
    from memory.memories import LongTermMemory
    from personas.builder import build, create
    from personas.seed import read_seed

    store = Store(f"sqlite:///{tmp_path / 'p.db'}")
    memory = LongTermMemory(store, WordLengthEmbedder(), unfiltered.home)
    uid = store.user_id()
    pid = create(memory, uid, build([read_seed(Path(__file__).parent / "data" / "grandpa_letters.txt")], real_person=True))
    scripted = ScriptedBackend().enqueue("Hello Annie")
    svc = ChatService(unfiltered, backend=scripted, store=store, memory=memory)
    assert persona_choices(svc, uid) == [("No persona", None), ("Grandpa", pid)]
    history, conversation_id = open_chat(svc, uid, pid)
    assert history[0]["content"].startswith("ℹ️ *This is an AI simulation of Grandpa")
    assert history[1] == {"role": "assistant", "content": "Dear Annie, it's so good to hear from you."}
    frames = list(respond(svc, uid, "Hi Grandpa", history, conversation_id, pid))
    assert frames[-1][0][-1]["content"] == "Hello Annie" and frames[-1][1] == conversation_id
    assert scripted.calls[0][0]["content"].startswith("You are Grandpa,")
    assert persona_choices(svc, store.user_id("stranger")) == [("No persona", None)]


def test_regenerate_resume_rename_export_delete(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    from app.web import conversation_choices, export_conversation, regenerate, shown

    scripted.enqueue("first answer", "second answer")
    svc = scripted_service
    uid = svc.store.user_id()
    conversation_id = list(respond(svc, uid, "Tell me a joke", [], None))[-1][1]
    history = list(regenerate(svc, uid, conversation_id))[-1][0]
    assert [m["content"] for m in history] == ["Tell me a joke", "second answer"]
    assert [m["content"] for m in shown(svc, uid, conversation_id)] == ["Tell me a joke", "second answer"]
    last = svc.store.thread(uid, conversation_id)[-1]
    assert [m.content for m in svc.store.alternatives(uid, last.id)] == ["first answer", "second answer"]
    assert conversation_choices(svc, uid) == [("Tell me a joke (#1)", 1)]
    path = Path(export_conversation(svc, uid, conversation_id, "json"))
    assert path.is_relative_to(svc.settings.home) and json.loads(path.read_text())["messages"][1]["content"] == "second answer"
    from app.core.errors import NotFound

    with pytest.raises(NotFound):
        export_conversation(svc, svc.store.user_id("intruder"), conversation_id, "json")


def test_memory_panel_lists_searches_edits_and_forgets(unfiltered, tmp_path) -> None:  # noqa: ANN001
    from app.core.errors import NotFound
    from app.web import change_memory, memory_rows
    from memory.embedder import WordLengthEmbedder
    from memory.memories import LongTermMemory

    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    svc = ChatService(unfiltered, backend=ScriptedBackend(), store=store,
                      memory=LongTermMemory(store, WordLengthEmbedder(), unfiltered.home))
    ann, bob = store.user_id("ann"), store.user_id("bob")
    (mid,) = svc.memory.add(["the cat sat"], persona_id=None, user_id=ann, kind="note")
    assert [r[:3] for r in memory_rows(svc, ann, None)] == [[mid, "note", "the cat sat"]]
    assert memory_rows(svc, ann, None, "big red fox")[0][0] == mid
    assert memory_rows(svc, bob, None) == []
    assert change_memory(svc, ann, mid, "the dog ran", delete=False) == f"Saved memory {mid}."
    assert memory_rows(svc, ann, None)[0][2] == "the dog ran"
    with pytest.raises(NotFound):
        change_memory(svc, bob, mid, "", delete=True)
    assert change_memory(svc, ann, mid, "", delete=True) == f"Forgot memory {mid}."
    assert memory_rows(svc, ann, None) == []


def test_editing_a_message_continues_on_a_new_branch(scripted_service: ChatService, scripted: ScriptedBackend) -> None:
    from app.web import edit_message

    scripted.enqueue("A1", "A2", "A2 after edit")
    svc = scripted_service
    uid = svc.store.user_id()
    first, conversation_id = list(respond(svc, uid, "Q1", [], None))[-1][:2]
    history = list(respond(svc, uid, "Q2", first, conversation_id))[-1][0]
    frames = list(edit_message(svc, uid, conversation_id, 2, "Q2 edited"))
    assert [m["content"] for m in frames[-1][0]] == ["Q1", "A1", "Q2 edited", "A2 after edit"]
    assert [m.content for m in svc.store.thread(uid, conversation_id)] == ["Q1", "A1", "Q2 edited", "A2 after edit"]
    assert "Only your own messages" in list(edit_message(svc, uid, conversation_id, 1, "rewrite the bot"))[-1][3]
    assert history[-1]["content"] == "A2"
