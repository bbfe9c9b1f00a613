"""The web chat: a Gradio page that streams replies from the shared ChatService.

``build_app`` receives its backend (the service) and only builds the page; ``launch`` serves it. The
chat handler is a plain generator over the growing message list, so it is tested without a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: Keepsake runs offline

import gradio as gr  # noqa: E402

from app.errors import KeepsakeError  # noqa: E402
from app.service import ChatService  # noqa: E402

ChatHistory = list[dict[str, Any]]


def shown(service: ChatService, user_id: int, conversation_id: int | None) -> ChatHistory:
    """A stored conversation as chat messages; a notice (the real-person disclosure) is shown as one too."""
    if conversation_id is None:
        return []
    return [{"role": "assistant" if m.role in ("assistant", "notice") else "user",
             "content": f"ℹ️ *{m.content}*" if m.role == "notice" else m.content}
            for m in service.store.thread(user_id, conversation_id)]


def open_chat(service: ChatService, user_id: int, persona_id: int | None) -> tuple[ChatHistory, int | None]:
    """A new chat: with a persona it opens at once with its disclosure and greeting."""
    if persona_id is None:
        return [], None
    conv = service.start_conversation(user_id, persona_id)
    return shown(service, user_id, conv.id), conv.id


def persona_choices(service: ChatService, user_id: int) -> list[tuple[str, int | None]]:
    from personas.persona import list_personas

    return [("No persona", None)] + [(p.name, pid) for pid, p in list_personas(service.store, user_id)]


BADGES = {"passed": "🛡️ passed", "repaired": "🛡️ repaired", "blocked": "⛔ blocked", "supported": "💛 support offered"}


def verdict_text(live) -> str:  # noqa: ANN001
    """The safety verdict of a finished reply, one line for the page."""
    outcome = getattr(live, "outcome", None)
    if outcome is None:
        return "Safety filter off" if not live.service.settings.safety else ""
    return (f"{BADGES.get(outcome.action, outcome.action)} · request: {outcome.category} · "
            f"reply class {outcome.verdict.reply_class} · reward {outcome.reward:+.2f}")


Frame = tuple[ChatHistory, "int | None", str, str, dict]


def stream_reply(live, history: ChatHistory) -> Iterator[Frame]:  # noqa: ANN001
    """Frames of a reply as it grows: (messages, conversation id, text box, verdict, prompt inspector)."""
    inspector = {**live.turn.plan.report(), "context_used": f"{live.turn.plan.tokens} / {live.turn.plan.context_size} tokens"}
    text = ""
    yield history + [{"role": "assistant", "content": text}], live.conversation_id, "", "…", inspector
    try:
        for piece in live:
            text += piece
            yield history + [{"role": "assistant", "content": text}], live.conversation_id, "", "…", inspector
        # live.text differs when the safety filter withdrew the streamed reply and chose another
        yield history + [{"role": "assistant", "content": live.text}], live.conversation_id, "", verdict_text(live), inspector
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"{text}\n\n⚠️ {exc}"}], live.conversation_id, "", "", inspector


def respond(service: ChatService, user_id: int, message: str, history: ChatHistory,
            conversation_id: int | None, persona_id: int | None = None) -> Iterator[Frame]:
    """Stream one turn. Errors become a readable assistant message, never a stack trace or a frozen spinner."""
    history = list(history) + [{"role": "user", "content": message}]
    try:
        live = service.send(user_id, message, conversation_id=conversation_id, persona_id=persona_id)
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"⚠️ {exc}"}], conversation_id, message, "", {}
        return
    yield from stream_reply(live, history)


def regenerate(service: ChatService, user_id: int, conversation_id: int | None) -> Iterator[Frame]:
    """Replace the last reply with a new one; the old one stays stored as an alternative."""
    if conversation_id is None:
        yield [], None, "", "", {}
        return
    try:
        live = service.regenerate(user_id, conversation_id)
    except KeepsakeError as exc:
        yield shown(service, user_id, conversation_id) + [{"role": "assistant", "content": f"⚠️ {exc}"}], conversation_id, "", "", {}
        return
    yield from stream_reply(live, shown(service, user_id, conversation_id)[:-1])


def edit_message(service: ChatService, user_id: int, conversation_id: int | None, index: int,
                 text: str) -> Iterator[Frame]:
    """Replace the user message shown at ``index`` with ``text`` and continue from there (a new branch)."""
    thread = service.store.thread(user_id, conversation_id) if conversation_id is not None else []
    if not 0 <= index < len(thread) or thread[index].role != "user":
        yield shown(service, user_id, conversation_id), conversation_id, "", "Only your own messages can be edited.", {}
        return
    try:
        live = service.edit(user_id, thread[index].id, text)
    except KeepsakeError as exc:
        yield shown(service, user_id, conversation_id), conversation_id, "", f"⚠️ {exc}", {}
        return
    yield from stream_reply(live, shown(service, user_id, conversation_id)[:index] + [{"role": "user", "content": text}])


def conversation_choices(service: ChatService, user_id: int) -> list[tuple[str, int]]:
    return [(f"{c.title} (#{c.id})", c.id) for c in service.store.list_conversations(user_id)]


def export_conversation(service: ChatService, user_id: int, conversation_id: int | None, fmt: str) -> str | None:
    """Write the conversation under the data directory for the browser to download; returns the path."""
    if conversation_id is None:
        return None
    text = service.store.export(user_id, conversation_id, fmt)
    folder = service.settings.home / "exports" / str(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"conversation-{conversation_id}.{'json' if fmt == 'json' else 'md'}"
    path.write_text(text, encoding="utf-8")
    return str(path)


MemoryRow = list  # [id, kind, text, score]


def memory_rows(service: ChatService, user_id: int, persona_id: int | None, query: str = "") -> list[MemoryRow]:
    """What the bot remembers for this user and persona: the closest to ``query``, or the newest."""
    memory = service.memory
    if memory is None:
        return []
    if query.strip():
        hits = memory.search(query, persona_id=persona_id, user_id=user_id, k=20, min_score=0.15)
        return [[h.id, h.kind, h.text, round(h.score, 3)] for h in hits]
    return [[m.id, m.kind, m.text, None] for m in memory.list(persona_id, user_id, limit=100)]


def change_memory(service: ChatService, user_id: int, memory_id: int | None, text: str, *, delete: bool) -> str:
    """Edit or delete one memory (NotFound for another user's); returns a status line."""
    memory = service.memory
    if memory is None or memory_id is None:
        return "Choose a memory first."
    if delete:
        memory.delete(int(memory_id), user_id=user_id)
        memory.flush()
        return f"Forgot memory {int(memory_id)}."
    memory.edit(int(memory_id), text, user_id=user_id)
    return f"Saved memory {int(memory_id)}."


def build_app(service: ChatService) -> gr.Blocks:
    """The page; nothing is served until ``launch``.

    Every handler asks who is signed in (``gr.Request.username``) and works on that user's data
    only; without sign-in everyone is the single local user.
    """
    auth = service.settings.needs_auth

    def me(request: gr.Request) -> int:
        name = getattr(request, "username", None) if auth else None
        if auth and not name:
            raise gr.Error("Please sign in.")
        return service.store.user_id(name or "local", create=not auth)

    with gr.Blocks(title="Keepsake") as demo:
        with gr.Row():
            gr.Markdown("## Keepsake")
            whoami = gr.Markdown("", elem_id="whoami")
        conversation = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                persona = gr.Dropdown(choices=[("No persona", None)], value=None, label="Persona",
                                      elem_id="persona", interactive=True)
                new = gr.Button("New chat", size="sm", elem_id="new-chat")
                history_pick = gr.Dropdown(choices=[], value=None,
                                           label="Conversations", elem_id="conversations", interactive=True)
                title = gr.Textbox(label="Rename to", elem_id="title")
                with gr.Row():
                    rename = gr.Button("Rename", size="sm", elem_id="rename")
                    delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete")
                fmt = gr.Radio(["markdown", "json"], value="markdown", label="Export as", elem_id="export-format")
                export = gr.Button("Export", size="sm", elem_id="export")
                download = gr.File(label="Download", elem_id="download", interactive=False)
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat", editable="user")
                with gr.Row():
                    box = gr.Textbox(placeholder="Write a message…", show_label=False, scale=8, elem_id="message",
                                     autofocus=True)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                    stop = gr.Button("Stop", scale=1, elem_id="stop")
                    again = gr.Button("Regenerate", scale=1, elem_id="regenerate")
                verdict = gr.Markdown("", elem_id="verdict")
                with gr.Accordion("Prompt inspector", open=False, elem_id="inspector"):
                    inspector = gr.JSON(label="What the model was given, and what did not fit", elem_id="inspector-json")
                with gr.Accordion("Memory", open=False, elem_id="memory"):
                    with gr.Row():
                        memory_query = gr.Textbox(placeholder="Search what the bot remembers (empty: newest)",
                                                  show_label=False, scale=6, elem_id="memory-query")
                        memory_search = gr.Button("Search", scale=1, elem_id="memory-search")
                    memory_table = gr.Dataframe(headers=["id", "kind", "text", "score"], interactive=False,
                                                wrap=True, elem_id="memory-table")
                    with gr.Row():
                        memory_id = gr.Number(label="Memory id", precision=0, elem_id="memory-id")
                        memory_text = gr.Textbox(label="New text", scale=4, elem_id="memory-text")
                    with gr.Row():
                        memory_save = gr.Button("Save", size="sm", elem_id="memory-save")
                        memory_forget = gr.Button("Forget", size="sm", variant="stop", elem_id="memory-forget")
                    memory_status = gr.Markdown("", elem_id="memory-status")

        def handler(message: str, history: ChatHistory, conversation_id: int | None, persona_id: int | None,
                    request: gr.Request):  # type: ignore[no-untyped-def]
            yield from respond(service, me(request), message, history, conversation_id, persona_id)

        def again_handler(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            yield from regenerate(service, me(request), conversation_id)

        def edit_handler(conversation_id: int | None, edit: gr.EditData, request: gr.Request):  # type: ignore[no-untyped-def]
            yield from edit_message(service, me(request), conversation_id, int(edit.index), str(edit.value))

        def start(persona_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                return *open_chat(service, me(request), persona_id), ""
            except KeepsakeError as exc:
                return [{"role": "assistant", "content": f"⚠️ {exc}"}], None, ""

        def resume(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                return shown(service, me(request), conversation_id), conversation_id
            except KeepsakeError as exc:
                raise gr.Error(str(exc)) from None

        def refreshed_list(request: gr.Request):  # type: ignore[no-untyped-def]
            return gr.Dropdown(choices=conversation_choices(service, me(request)))

        def rename_current(conversation_id: int | None, new_title: str, request: gr.Request):  # type: ignore[no-untyped-def]
            if conversation_id is not None and new_title.strip():
                service.store.rename(me(request), conversation_id, new_title)
            return refreshed_list(request), ""

        def delete_current(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            if conversation_id is not None:
                service.store.delete_conversation(me(request), conversation_id)
            return [], None, refreshed_list(request)

        def find_memories(persona_id: int | None, query: str, request: gr.Request):  # type: ignore[no-untyped-def]
            return memory_rows(service, me(request), persona_id, query)

        def edit_memory(persona_id: int | None, mid: float | None, text: str, query: str, forget: bool,
                        request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                status = change_memory(service, me(request), None if mid is None else int(mid), text, delete=forget)
            except (KeepsakeError, ValueError) as exc:
                status = f"⚠️ {exc}"
            return status, memory_rows(service, me(request), persona_id, query)

        def on_load(request: gr.Request):  # type: ignore[no-untyped-def]
            uid = me(request)
            return (gr.Dropdown(choices=persona_choices(service, uid)),
                    gr.Dropdown(choices=conversation_choices(service, uid)),
                    f"Signed in as **{request.username}**" if auth else "")

        outputs = [chatbot, conversation, box, verdict, inspector]
        events = [trigger(handler, [box, chatbot, conversation, persona], outputs) for trigger in (box.submit, send.click)]
        events.append(again.click(again_handler, conversation, outputs))
        events.append(chatbot.edit(edit_handler, conversation, outputs))
        stop.click(None, cancels=events)
        for event in events:
            event.then(refreshed_list, None, history_pick)
        new.click(start, persona, [chatbot, conversation, box])
        persona.change(start, persona, [chatbot, conversation, box])
        history_pick.input(resume, history_pick, [chatbot, conversation])
        rename.click(rename_current, [conversation, title], [history_pick, title])
        delete.click(delete_current, conversation, [chatbot, conversation, history_pick])
        def export_current(conversation_id: int | None, fmt: str, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                return export_conversation(service, me(request), conversation_id, fmt)
            except (KeepsakeError, OSError) as exc:
                raise gr.Error(f"Export failed: {exc}") from None

        export.click(export_current, [conversation, fmt], download)
        demo.load(on_load, None, [persona, history_pick, whoami])
        memory_search.click(find_memories, [persona, memory_query], memory_table)
        memory_query.submit(find_memories, [persona, memory_query], memory_table)
        def save_memory(persona_id, mid, text, query, request: gr.Request):  # type: ignore[no-untyped-def]
            return edit_memory(persona_id, mid, text, query, False, request)

        def forget_memory(persona_id, mid, text, query, request: gr.Request):  # type: ignore[no-untyped-def]
            return edit_memory(persona_id, mid, text, query, True, request)

        memory_inputs = [persona, memory_id, memory_text, memory_query]
        memory_save.click(save_memory, memory_inputs, [memory_status, memory_table])
        memory_forget.click(forget_memory, memory_inputs, [memory_status, memory_table])
    return demo


def theme() -> gr.themes.Base:
    """Gradio's default theme fetches web fonts; ours uses the system's, so the page works offline."""
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


def launch(service: ChatService, *, share: bool = False, block: bool = True) -> gr.Blocks:
    """Serve the page on the configured host and port (with sign-in when the settings need it)."""
    from app.accounts import authenticate

    demo = build_app(service)
    demo.queue(default_concurrency_limit=max(1, service.settings.parallel) * 4)
    check = (lambda name, password: authenticate(service.store, name, password) is not None) \
        if service.settings.needs_auth else None
    demo.launch(server_name=service.settings.host, server_port=service.settings.port or None, share=share,
                prevent_thread_lock=not block, quiet=not block, theme=theme(), footer_links=[], auth=check,
                auth_message="Sign in to Keepsake")
    return demo
