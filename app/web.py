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


def respond(service: ChatService, user_id: int, message: str, history: ChatHistory,
            conversation_id: int | None, persona_id: int | None = None) -> Iterator[tuple[ChatHistory, int | None, str, str]]:
    """Stream one turn: yields (messages shown, conversation id, text box value, verdict) as the reply grows.

    Errors become a readable assistant message instead of a stack trace or a frozen spinner.
    """
    history = list(history) + [{"role": "user", "content": message}]
    try:
        live = service.send(user_id, message, conversation_id=conversation_id, persona_id=persona_id)
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"⚠️ {exc}"}], conversation_id, message, ""
        return
    # Fresh lists on every yield: Gradio sends the difference from the previous value, and a list
    # mutated in place would look unchanged.
    text = ""
    yield history + [{"role": "assistant", "content": text}], live.conversation_id, "", "…"
    try:
        for piece in live:
            text += piece
            yield history + [{"role": "assistant", "content": text}], live.conversation_id, "", "…"
        # live.text differs when the safety filter withdrew the streamed reply and chose another
        yield history + [{"role": "assistant", "content": live.text}], live.conversation_id, "", verdict_text(live)
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"{text}\n\n⚠️ {exc}"}], live.conversation_id, "", ""


def build_app(service: ChatService, user_name: str = "local") -> gr.Blocks:
    """The page; nothing is served until ``launch``."""
    user_id = service.store.user_id(user_name)
    with gr.Blocks(title="Keepsake") as demo:
        gr.Markdown("## Keepsake")
        conversation = gr.State(None)
        persona = gr.Dropdown(choices=persona_choices(service, user_id), value=None, label="Persona",
                              elem_id="persona", interactive=True)
        chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat")
        with gr.Row():
            box = gr.Textbox(placeholder="Write a message…", show_label=False, scale=8, elem_id="message",
                             autofocus=True)
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            stop = gr.Button("Stop", scale=1, elem_id="stop")
        verdict = gr.Markdown("", elem_id="verdict")
        new = gr.Button("New chat", size="sm", elem_id="new-chat")

        def handler(message: str, history: ChatHistory, conversation_id: int | None, persona_id: int | None):  # type: ignore[no-untyped-def]
            yield from respond(service, user_id, message, history, conversation_id, persona_id)

        def start(persona_id: int | None):  # type: ignore[no-untyped-def]
            try:
                return *open_chat(service, user_id, persona_id), ""
            except KeepsakeError as exc:
                return [{"role": "assistant", "content": f"⚠️ {exc}"}], None, ""

        events = [
            trigger(handler, [box, chatbot, conversation, persona], [chatbot, conversation, box, verdict])
            for trigger in (box.submit, send.click)
        ]
        stop.click(None, cancels=events)
        new.click(start, persona, [chatbot, conversation, box])
        persona.change(start, persona, [chatbot, conversation, box])
        demo.load(lambda: gr.Dropdown(choices=persona_choices(service, user_id)), None, persona)
    return demo


def theme() -> gr.themes.Base:
    """Gradio's default theme fetches web fonts; ours uses the system's, so the page works offline."""
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


def launch(service: ChatService, *, share: bool = False, block: bool = True) -> gr.Blocks:
    """Serve the page on the configured host and port."""
    demo = build_app(service)
    demo.queue(default_concurrency_limit=max(1, service.settings.parallel) * 4)
    demo.launch(server_name=service.settings.host, server_port=service.settings.port or None, share=share,
                prevent_thread_lock=not block, quiet=not block, theme=theme(), footer_links=[])
    return demo
