"""The web chat: a Gradio page that streams replies from the shared ChatService.

``build_app`` receives its backend (the service) and only builds the page; ``launch`` serves it. The
handlers are plain functions over the growing message list, so they are tested without a browser;
the Personas and admin tabs live in ``web_personas`` and ``web_admin``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home: Keepsake runs offline

import gradio as gr  # noqa: E402

from app import preferences  # noqa: E402
from app.core.errors import KeepsakeError  # noqa: E402
from app.core.files import write_atomic  # noqa: E402
from app.core.settings import Sampling  # noqa: E402
from app.service import ChatService  # noqa: E402
from memory.store import MessageRecord  # noqa: E402

ChatHistory = list[dict[str, Any]]

BADGES = {"passed": "🛡️ passed", "repaired": "🛡️ repaired", "kept": "🛡️ kept", "blocked": "⛔ blocked",
          "supported": "💛 support offered", "refused_safe": "🚩 refused a safe request"}


def badge(action: str | None, category: str | None, reply_class: str | None, reward: float | None,
          cleared: float | None = None) -> str:
    """A small verdict badge for the end of a reply; its details show on hover. ``cleared``: the second reader's
    P(disallowed content) of a reply the judge classed as carrying it (``safety.filter.SafetyFilter.cleared``)."""
    if not action:
        return ""
    detail = f"request: {category} · reply class: {reply_class} · reward {reward:+.2f}" if reward is not None \
        else f"request: {category}"
    if cleared is not None:
        detail += f" · shown: the second reader found no disallowed content (P {cleared:.2f})"
    return f'\n\n<span class="verdict-badge" title="{html.escape(detail)}">{BADGES.get(action, action)}</span>'


def _shown_message(m: MessageRecord) -> dict[str, Any]:
    if m.role == "notice":
        return {"role": "assistant", "content": f"ℹ️ *{m.content}*"}
    content = m.content + (badge(m.safety_action, m.safety_category, m.safety_class, m.safety_reward,
                                 (m.safety_scores or {}).get("cleared")) if m.role == "assistant" else "")
    return {"role": "assistant" if m.role == "assistant" else "user", "content": content}


def shown(service: ChatService, user_id: int, conversation_id: int | None) -> ChatHistory:
    """A stored conversation as chat messages; a notice (the real-person disclosure) is shown as one too."""
    if conversation_id is None:
        return []
    return [_shown_message(m) for m in service.store.thread(user_id, conversation_id)]


def open_chat(service: ChatService, user_id: int, persona_id: int | None) -> tuple[ChatHistory, int | None]:
    """A new chat: with a persona it opens at once with its disclosure and greeting."""
    if persona_id is None:
        return [], None
    conv = service.start_conversation(user_id, persona_id)
    return shown(service, user_id, conv.id), conv.id


def persona_choices(service: ChatService, user_id: int) -> list[tuple[str, int | None]]:
    from personas.persona import list_personas

    return [("No persona", None)] + [(p.name + " ✨" * bool(p.lora_path), pid)
                                     for pid, p in list_personas(service.store, user_id)]


def persona_avatar(service: ChatService, user_id: int, persona_id: int | None) -> str | None:
    """The persona's avatar file, if it has one (and is the user's)."""
    from personas.manage import avatar_path
    from personas.persona import get

    if persona_id is None:
        return None
    get(service.store, user_id, persona_id)  # NotFound for someone else's persona
    path = avatar_path(service.settings.home, persona_id)
    return str(path) if path.exists() else None


def verdict_text(live) -> str:  # noqa: ANN001
    """The safety verdict of a finished reply, one line for the page."""
    outcome = getattr(live, "outcome", None)
    if outcome is None:
        return "Safety filter off" if not live.service.settings.safety else ""
    return (f"{BADGES.get(outcome.action, outcome.action)} · request: {outcome.category} · "
            f"reply class {outcome.verdict.reply_class} · reward {outcome.reward:+.2f}")


def final_text(live) -> str:  # noqa: ANN001
    """The finished reply as shown: the chosen text and its verdict badge."""
    outcome = getattr(live, "outcome", None)
    if outcome is None:
        return live.text
    return live.text + badge(outcome.action, outcome.category, outcome.verdict.reply_class, outcome.reward,
                             outcome.verdict.extra.get("cleared"))


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
        yield history + [{"role": "assistant", "content": final_text(live)}], live.conversation_id, "", verdict_text(live), inspector
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"{text}\n\n⚠️ {exc}"}], live.conversation_id, "", "", inspector


def respond(service: ChatService, user_id: int, message: str, history: ChatHistory,
            conversation_id: int | None, persona_id: int | None = None,
            sampling: Sampling | None = None) -> Iterator[Frame]:
    """Stream one turn. Errors become a readable assistant message, never a stack trace or a frozen spinner."""
    history = list(history) + [{"role": "user", "content": message}]
    try:
        live = service.send(user_id, message, conversation_id=conversation_id, persona_id=persona_id, sampling=sampling)
    except KeepsakeError as exc:
        yield history + [{"role": "assistant", "content": f"⚠️ {exc}"}], conversation_id, message, "", {}
        return
    yield from stream_reply(live, history)


def regenerate(service: ChatService, user_id: int, conversation_id: int | None,
               sampling: Sampling | None = None) -> Iterator[Frame]:
    """Replace the last reply with a new one; the old one stays stored as an alternative."""
    if conversation_id is None:
        yield [], None, "", "", {}
        return
    try:
        live = service.regenerate(user_id, conversation_id, sampling)
    except KeepsakeError as exc:
        yield shown(service, user_id, conversation_id) + [{"role": "assistant", "content": f"⚠️ {exc}"}], conversation_id, "", "", {}
        return
    yield from stream_reply(live, shown(service, user_id, conversation_id)[:-1])


def edit_message(service: ChatService, user_id: int, conversation_id: int | None, index: int,
                 text: str, sampling: Sampling | None = None) -> Iterator[Frame]:
    """Replace the user message shown at ``index`` with ``text`` and continue from there (a new branch)."""
    thread = service.store.thread(user_id, conversation_id) if conversation_id is not None else []
    if not 0 <= index < len(thread) or thread[index].role != "user":
        yield shown(service, user_id, conversation_id), conversation_id, "", "Only your own messages can be edited.", {}
        return
    try:
        live = service.edit(user_id, thread[index].id, text, sampling)
    except KeepsakeError as exc:
        yield shown(service, user_id, conversation_id), conversation_id, "", f"⚠️ {exc}", {}
        return
    yield from stream_reply(live, shown(service, user_id, conversation_id)[:index] + [{"role": "user", "content": text}])


def alternatives(service: ChatService, user_id: int, conversation_id: int | None) -> str:
    """"Reply 2 of 3" for the last reply when it has alternatives (regenerated versions), else ""."""
    thread = service.store.thread(user_id, conversation_id) if conversation_id is not None else []
    if not thread or thread[-1].role != "assistant":
        return ""
    siblings = [m.id for m in service.store.alternatives(user_id, thread[-1].id)]
    return f"Reply {siblings.index(thread[-1].id) + 1} of {len(siblings)}" if len(siblings) > 1 else ""


def flip(service: ChatService, user_id: int, conversation_id: int | None, step: int) -> ChatHistory:
    """Show the previous (-1) or next (+1) alternative of the last reply; it becomes the one the chat goes on from."""
    thread = service.store.thread(user_id, conversation_id) if conversation_id is not None else []
    if thread and thread[-1].role == "assistant":
        siblings = [m.id for m in service.store.alternatives(user_id, thread[-1].id)]
        at = siblings.index(thread[-1].id) + step
        if 0 <= at < len(siblings):
            service.store.switch_to(user_id, siblings[at])
    return shown(service, user_id, conversation_id)


def delete_last_turn(service: ChatService, user_id: int, conversation_id: int | None) -> ChatHistory:
    """Delete the last exchange (your message and its replies); the greeting and notices stay."""
    thread = service.store.thread(user_id, conversation_id) if conversation_id is not None else []
    last_user = next((m for m in reversed(thread) if m.role == "user"), None)
    if last_user is not None:
        service.store.delete_turn(user_id, last_user.id)
    return shown(service, user_id, conversation_id)


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
    write_atomic(path, text.encode("utf-8"))
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


SAMPLER_FIELDS = ("temperature", "top_p", "top_k", "repeat_penalty", "max_tokens", "seed")


def build_app(service: ChatService) -> gr.Blocks:
    """The page; nothing is served until ``launch``.

    Every handler asks who is signed in (``gr.Request.username``) and works on that user's data
    only; without sign-in everyone is the single local user.
    """
    from app.web_admin import admin_tab
    from app.web_models import models_panel
    from app.web_personas import personas_tab

    auth = service.settings.needs_auth
    variants = preferences.Variants(service)

    def me(request: gr.Request) -> int:
        name = getattr(request, "username", None) if auth else None
        if auth and not name:
            raise gr.Error("Please sign in.")
        try:
            return service.store.user_id(name or "local", create=not auth)
        except KeepsakeError as exc:  # e.g. the database is unreachable: say so in the page
            raise gr.Error(str(exc)) from None

    def chosen(request: gr.Request, persona_id: int | None = None,
               conversation_id: int | None = None) -> tuple[int, ChatService, Sampling]:
        """The user, the service with their model settings (or the persona's preferred model), and the sampler:
        the persona's (of ``persona_id``, or of the conversation) with the user's own settings on top."""
        uid = me(request)
        if persona_id is None and conversation_id is not None:
            try:
                persona_id = service.store.get_conversation(uid, int(conversation_id)).persona_id
            except KeepsakeError:  # not this user's, or gone: regenerating or editing says so
                pass
        prefs = preferences.persona_choice(service, uid, persona_id, preferences.load(service, uid))
        try:
            return uid, variants.for_user(prefs), preferences.sampler(service, uid, prefs, persona_id)
        except KeepsakeError as exc:
            raise gr.Error(f"Your model settings could not be applied: {exc}") from None

    with gr.Blocks(title="Keepsake") as demo:
        with gr.Row():
            gr.Markdown("## Keepsake")
            whoami = gr.Markdown("", elem_id="whoami")
        conversation = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Chat", elem_id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=240):
                        with gr.Row():
                            avatar = gr.Image(None, show_label=False, height=72, width=72, interactive=False, visible=False,
                                              container=False, elem_id="persona-avatar-small", scale=0, min_width=72)
                            persona = gr.Dropdown(choices=[("No persona", None)], value=None, label="Persona",
                                                  elem_id="persona", interactive=True, scale=3)
                        new = gr.Button("New chat", size="sm", elem_id="new-chat")
                        history_pick = gr.Dropdown(choices=[], value=None,
                                                   label="Conversations", elem_id="conversations", interactive=True)
                        title = gr.Textbox(label="Rename to", elem_id="title")
                        with gr.Row():
                            rename = gr.Button("Rename", size="sm", elem_id="rename")
                            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete")
                        fmt = gr.Radio(["markdown", "json"], value="markdown", label="Export as", elem_id="export-format")
                        export = gr.Button("Export", size="sm", elem_id="export")
                        download = gr.File(label="Download", elem_id="download", interactive=False, visible=False)
                        with gr.Accordion("Model settings", open=False, elem_id="model-settings"):
                            model_file = gr.Dropdown(choices=preferences.model_choices(service.settings), value="",
                                                     label="Model file", elem_id="pref-model")
                            n_ctx = gr.Number(label="Context size (tokens)", precision=0, elem_id="pref-n-ctx")
                            n_gpu_layers = gr.Number(label="GPU layers (-1 all, 0 CPU)", precision=0, elem_id="pref-gpu")
                            sampler = {
                                "temperature": gr.Slider(0, 2, step=0.05, label="Temperature", elem_id="pref-temperature"),
                                "top_p": gr.Slider(0.05, 1, step=0.05, label="Top p", elem_id="pref-top-p"),
                                "top_k": gr.Number(label="Top k (0: all)", precision=0, elem_id="pref-top-k"),
                                "repeat_penalty": gr.Slider(0.5, 2, step=0.05, label="Repeat penalty", elem_id="pref-repeat"),
                                "max_tokens": gr.Number(label="Most tokens per reply", precision=0, elem_id="pref-max-tokens"),
                                "seed": gr.Number(label="Seed (empty: random)", precision=0, elem_id="pref-seed"),
                            }
                            save_prefs = gr.Button("Save settings", size="sm", elem_id="pref-save")
                            prefs_status = gr.Markdown("", elem_id="pref-status")
                            models_panel(service, me, model_file)
                    with gr.Column(scale=4):
                        chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat", editable="user",
                                             buttons=["copy", "copy_all"])
                        with gr.Row():
                            box = gr.Textbox(placeholder="Write a message…", show_label=False, scale=8, elem_id="message",
                                             autofocus=True)
                            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                            stop = gr.Button("Stop", scale=1, elem_id="stop")
                            again = gr.Button("Regenerate", scale=1, elem_id="regenerate")
                        with gr.Row():
                            previous = gr.Button("◀", size="sm", scale=0, min_width=40, elem_id="alt-previous")
                            alt_label = gr.Markdown("", elem_id="alternatives")
                            following = gr.Button("▶", size="sm", scale=0, min_width=40, elem_id="alt-next")
                            drop_turn = gr.Button("Delete last turn", size="sm", scale=0, elem_id="delete-turn")
                        verdict = gr.Markdown("", elem_id="verdict")
                        with gr.Accordion("Prompt inspector", open=False, elem_id="inspector"):
                            inspector = gr.JSON(label="What the model was given, and what did not fit",
                                                elem_id="inspector-json")
            with gr.Tab("Personas", elem_id="personas-tab"):
                personas_tab(service, me, lambda uid: persona_choices(service, uid), [persona])
            with gr.Tab("Memory", elem_id="memory-tab"):
                gr.Markdown("What the bot remembers about you for the persona chosen in the chat: past turns, "
                            "summaries and the persona's seed text. Search, correct or forget.")
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
            with gr.Tab("Moderation", visible=False, elem_id="admin-tab") as admin:
                admin_load, admin_outputs = admin_tab(service, me)

        def handler(message: str, history: ChatHistory, conversation_id: int | None, persona_id: int | None,
                    request: gr.Request):  # type: ignore[no-untyped-def]
            uid, svc, sampling = chosen(request, persona_id)
            yield from respond(svc, uid, message, history, conversation_id, persona_id, sampling)

        def again_handler(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            uid, svc, sampling = chosen(request, conversation_id=conversation_id)
            yield from regenerate(svc, uid, conversation_id, sampling)

        def edit_handler(conversation_id: int | None, edit: gr.EditData, request: gr.Request):  # type: ignore[no-untyped-def]
            uid, svc, sampling = chosen(request, conversation_id=conversation_id)
            yield from edit_message(svc, uid, conversation_id, int(edit.index), str(edit.value), sampling)

        def start(persona_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            uid = me(request)
            try:
                history, conversation_id = open_chat(service, uid, persona_id)
                picture = persona_avatar(service, uid, persona_id)
            except KeepsakeError as exc:
                return [{"role": "assistant", "content": f"⚠️ {exc}"}], None, "", gr.Image(visible=False), ""
            return (gr.Chatbot(history, avatar_images=(None, picture)), conversation_id, "",
                    gr.Image(picture, visible=picture is not None), "")

        def resume(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            uid = me(request)
            try:
                return (shown(service, uid, conversation_id), conversation_id,
                        alternatives(service, uid, conversation_id))
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

        def export_current(conversation_id: int | None, fmt: str, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                path = export_conversation(service, me(request), conversation_id, fmt)
                return gr.File(path, visible=path is not None)
            except (KeepsakeError, OSError) as exc:
                raise gr.Error(f"Export failed: {exc}") from None

        def alt_handler(step: int):  # type: ignore[no-untyped-def]
            def run(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
                uid = me(request)
                return flip(service, uid, conversation_id, step), alternatives(service, uid, conversation_id)
            return run

        def drop_handler(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            uid = me(request)
            return delete_last_turn(service, uid, conversation_id), alternatives(service, uid, conversation_id)

        def alt_info(conversation_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
            return alternatives(service, me(request), conversation_id)

        def find_memories(persona_id: int | None, query: str, request: gr.Request):  # type: ignore[no-untyped-def]
            return memory_rows(service, me(request), persona_id, query)

        def memory_changer(forget: bool):  # type: ignore[no-untyped-def]
            def run(persona_id: int | None, mid: float | None, text: str, query: str, request: gr.Request):  # type: ignore[no-untyped-def]
                try:
                    status = change_memory(service, me(request), None if mid is None else int(mid), text, delete=forget)
                except (KeepsakeError, ValueError) as exc:
                    status = f"⚠️ {exc}"
                return status, memory_rows(service, me(request), persona_id, query)
            return run

        pref_inputs = [model_file, n_ctx, n_gpu_layers, *sampler.values()]

        def pref_values(prefs: preferences.Preferences) -> list:
            s = service.settings
            # the choices too: models downloaded since the page was built are offered
            return [gr.Dropdown(choices=preferences.model_choices(s), value=prefs.model), prefs.n_ctx or s.n_ctx, s.n_gpu_layers if prefs.n_gpu_layers is None else prefs.n_gpu_layers,
                    *(getattr(prefs.sampling, f) for f in SAMPLER_FIELDS)]

        def on_save_prefs(model: str, ctx: float | None, gpu: float | None, temperature: float, top_p: float,  # type: ignore[no-untyped-def]
                          top_k: float, repeat_penalty: float, max_tokens: float, seed: float | None, request: gr.Request):
            uid = me(request)
            values = (temperature, top_p, top_k, repeat_penalty, max_tokens, seed)
            current = preferences.load(service, uid)
            sampling = {**current.sampling.model_dump(), **dict(zip(SAMPLER_FIELDS, values))}
            try:
                prefs = preferences.save(service, uid, {"model": model or "", "n_ctx": ctx, "n_gpu_layers": gpu,
                                                        "sampling": sampling})
                variants.for_user(prefs)  # load the chosen model now: a broken file is reported here, not mid-chat
            except KeepsakeError as exc:
                return f"⚠️ {exc}"
            return "Saved. New replies use these settings."

        def on_load(request: gr.Request):  # type: ignore[no-untyped-def]
            uid = me(request)
            is_admin = service.store.is_admin(uid)
            return (gr.Dropdown(choices=persona_choices(service, uid)),
                    gr.Dropdown(choices=conversation_choices(service, uid)),
                    f"Signed in as **{request.username}**" if auth else "",
                    gr.Tab(visible=is_admin),
                    *pref_values(preferences.load(service, uid)),
                    *(admin_load(uid) if is_admin else [gr.skip()] * len(admin_outputs)))

        outputs = [chatbot, conversation, box, verdict, inspector]
        events = [trigger(handler, [box, chatbot, conversation, persona], outputs) for trigger in (box.submit, send.click)]
        events.append(again.click(again_handler, conversation, outputs))
        events.append(chatbot.edit(edit_handler, conversation, outputs))
        stop.click(None, cancels=events)
        for event in events:
            event.then(refreshed_list, None, history_pick).then(alt_info, conversation, alt_label)
        new.click(start, persona, [chatbot, conversation, box, avatar, alt_label])
        persona.change(start, persona, [chatbot, conversation, box, avatar, alt_label])
        history_pick.input(resume, history_pick, [chatbot, conversation, alt_label])
        rename.click(rename_current, [conversation, title], [history_pick, title])
        delete.click(delete_current, conversation, [chatbot, conversation, history_pick])
        export.click(export_current, [conversation, fmt], download)
        previous.click(alt_handler(-1), conversation, [chatbot, alt_label])
        following.click(alt_handler(+1), conversation, [chatbot, alt_label])
        drop_turn.click(drop_handler, conversation, [chatbot, alt_label])
        chatbot.undo(drop_handler, conversation, [chatbot, alt_label])
        save_prefs.click(on_save_prefs, pref_inputs, prefs_status)
        demo.load(on_load, None, [persona, history_pick, whoami, admin, *pref_inputs, *admin_outputs])
        memory_search.click(find_memories, [persona, memory_query], memory_table)
        memory_query.submit(find_memories, [persona, memory_query], memory_table)
        memory_inputs = [persona, memory_id, memory_text, memory_query]
        memory_save.click(memory_changer(False), memory_inputs, [memory_status, memory_table])
        memory_forget.click(memory_changer(True), memory_inputs, [memory_status, memory_table])
    return demo


def theme() -> gr.themes.Base:
    """Gradio's default theme fetches web fonts; ours uses the system's, so the page works offline."""
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])
