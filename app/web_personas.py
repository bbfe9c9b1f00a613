"""The web page's Personas tab: create from uploaded seed files, edit, review facts, cards, avatar.

The handlers here are plain functions of (service, user id, inputs), tested without a browser; the
tab's layout and wiring is ``personas_tab``. Every operation goes through ``personas.manage`` so the
page and the ``personas`` command cannot drift apart.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from app.core.errors import KeepsakeError, PersonaError
from app.core.files import write_atomic
from app.service import ChatService
from memory.memories import LongTermMemory
from personas import manage
from personas import persona as personas
from personas.persona import Persona

FIELDS = manage.EDITABLE  # the form's fields, in order
AVATAR_PX = 512


def _memory(service: ChatService) -> LongTermMemory:
    if service.memory is None:
        raise PersonaError("long-term memory is switched off (memory = false); personas keep their seed text in it")
    return service.memory


def create_persona(service: ChatService, user_id: int, files: list[str] | None, name: str = "", description: str = "",
                   real_person: bool = False, progress: Callable[[int, int], None] | None = None) -> tuple[int, str]:
    """Build a persona from uploaded seed files; returns (id, a summary line for the page)."""
    from personas.builder import build, create
    from personas.seed import read_seed

    if not files:
        raise PersonaError("upload at least one seed file: letters, messages or a diary")
    seeds = [read_seed(Path(f)) for f in files]
    built = build(seeds, name=name.strip() or None, description=description.strip(), real_person=real_person)
    pid = create(_memory(service), user_id, built, progress)
    p = built.persona
    pieces = sum(s.source_record()["pieces"] for s in seeds)
    encodings = ", ".join(f"{s.path.name}: {s.encoding}" for s in seeds)
    return pid, (f"Created **{p.name}** (name from {built.name_source}): {pieces} pieces from {len(seeds)} file(s) "
                 f"({encodings}), {len(built.chunks)} memory chunks, {len(p.facts)} facts to review below.")


def fact_choices(persona: Persona) -> list[tuple[str, int]]:
    return [(f"{f['text']} ({f['kind']}, {f['count']}×) [{f['status']}]", n)
            for n, f in enumerate(persona.facts, start=1)]


def fact_rows(persona: Persona) -> list[list[Any]]:
    return [[n, f["status"], f["kind"], f["text"], f["count"], f["example"][:120]]
            for n, f in enumerate(persona.facts, start=1)]


def form_values(service: ChatService, user_id: int, persona_id: int | None) -> dict[str, Any]:
    """What the edit form shows for a persona: its fields, avatar, facts and fine-tune state."""
    if persona_id is None:
        return {**{f: False if f == "real_person" else "" for f in FIELDS}, "avatar": None, "facts": [],
                "fact_rows": [], "adapter": ""}
    p = personas.get(service.store, user_id, persona_id)
    avatar = manage.avatar_path(service.settings.home, persona_id)
    return {**{f: getattr(p, f) for f in FIELDS}, "avatar": str(avatar) if avatar.exists() else None,
            "facts": fact_choices(p), "fact_rows": fact_rows(p),
            "adapter": f"Fine-tuned: LoRA adapter `{Path(p.lora_path).name}` is active in chats." if p.lora_path else ""}


def save_persona(service: ChatService, user_id: int, persona_id: int | None, fields: dict[str, Any],
                 avatar: str | None = None) -> str:
    """Save edited fields (and a new avatar image); returns a status line."""
    if persona_id is None:
        raise PersonaError("choose a persona to edit")
    p = personas.get(service.store, user_id, persona_id)
    changes = {k: v for k, v in fields.items() if k in FIELDS and getattr(p, k) != v}
    if changes:
        personas.save(service.store, user_id, persona_id, manage.update(p, changes))
    target = manage.avatar_path(service.settings.home, persona_id)
    new_avatar = avatar is not None and Path(avatar) != target
    if new_avatar:
        _save_avatar(Path(avatar), target)  # type: ignore[arg-type]
    if not changes and not new_avatar:
        return "Nothing changed."
    return "Saved " + ", ".join([*sorted(changes), *(["avatar"] if new_avatar else [])]) + "."


def _save_avatar(source: Path, target: Path) -> None:
    """Store an uploaded image as a PNG of at most AVATAR_PX: cards embed it, and PNG is what they carry."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as img:
            img.thumbnail((AVATAR_PX, AVATAR_PX))
            out = io.BytesIO()
            img.convert("RGBA").save(out, format="PNG")
    except (OSError, UnidentifiedImageError) as exc:
        raise PersonaError(f"the avatar is not an image we can read: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, out.getvalue())


def review(service: ChatService, user_id: int, persona_id: int | None, chosen: list[int], *, accept: bool) -> str:
    """Accept (into the lorebook) or reject the chosen fact candidates."""
    if persona_id is None or not chosen:
        return "Tick some facts first."
    p = personas.get(service.store, user_id, persona_id)
    numbers = [int(n) for n in chosen]
    reviewed = manage.review_facts(p, numbers if accept else [], [] if accept else numbers)
    personas.save(service.store, user_id, persona_id, reviewed)
    return f"{'Accepted' if accept else 'Rejected'} {len(numbers)} fact(s)" + \
        (": they are now lorebook entries, recalled when their words come up." if accept else ".")


def import_card(service: ChatService, user_id: int, path: str | None, name: str = "") -> tuple[int, str]:
    if not path:
        raise PersonaError("upload a Character Card (.json or .png) first")
    pid, p, avatar = manage.import_card(_memory(service), service.settings.home, user_id, Path(path), name.strip() or None)
    return pid, f"Imported **{p.name}**{' with its avatar' if avatar else ''}."


def export_persona(service: ChatService, user_id: int, persona_id: int | None, fmt: str) -> str:
    """Write the export under the data directory for the browser to download; returns the path."""
    if persona_id is None:
        raise PersonaError("choose a persona to export")
    p = personas.get(service.store, user_id, persona_id)
    filename, data = manage.export_bytes(service.settings.home, persona_id, p, fmt)
    folder = service.settings.home / "exports" / str(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    write_atomic(path, data)
    return str(path)


_training = threading.Lock()  # one fine-tune at a time: training takes every core the machine has


def progress_line(p: Any) -> str:  # a personas.finetune.Progress
    """One line for the progress bar: phase, step, loss, speed and time left."""
    parts = [p.phase.capitalize()]
    if p.total_steps:
        parts.append(f"step {p.step}/{p.total_steps}")
    if p.loss is not None:
        parts.append(f"loss {p.loss:.3f}")
    if p.tokens_per_s:
        parts.append(f"{p.tokens_per_s:.0f} tokens/s")
    if p.eta_s is not None:
        parts.append(f"about {p.eta_s / 60:.0f} min left" if p.eta_s >= 90 else f"about {p.eta_s:.0f} s left")
    return " · ".join(parts)


def finetune_persona(service: ChatService, user_id: int, persona_id: int | None, epochs: int, rank: int,
                     max_minutes: float, resume: bool, progress: Callable[[Any], None] | None = None) -> str:
    """Fine-tune the persona on its seed text (see personas.finetune); returns a summary line."""
    from personas.finetune import finetune

    if persona_id is None:
        raise PersonaError("choose a persona to fine-tune")
    if not _training.acquire(blocking=False):
        raise PersonaError("another fine-tune is running on this machine; try again when it has finished")
    try:
        result = finetune(service.store, service.settings, user_id, persona_id, epochs=int(epochs), rank=int(rank),
                          max_minutes=float(max_minutes), resume=resume, progress=progress)
    finally:
        _training.release()
    done = ("Fine-tuned" if result.complete else
            f"Stopped at the time limit after {result.steps} of {result.total_steps} steps (tick *resume* to go on)")
    return (f"{done}: held-out perplexity {result.perplexity_before:.1f} → {result.perplexity_after:.1f}, "
            f"{result.tokens_per_s:.0f} tokens/s, {result.seconds / 60:.1f} min. The adapter is active in new replies.")


def delete_persona(service: ChatService, user_id: int, persona_id: int | None) -> str:
    if persona_id is None:
        raise PersonaError("choose a persona to delete")
    name = personas.get(service.store, user_id, persona_id).name
    manage.delete(_memory(service), service.settings.home, user_id, persona_id)
    return f"Deleted **{name}** and its memories; conversations with it are kept."


def personas_tab(service: ChatService, me: Callable[[gr.Request], int], choices: Callable[[int], list],
                 pickers: list[gr.Dropdown]) -> gr.Dropdown:
    """Lay out the tab inside the current Blocks; ``pickers`` (the chat's persona picker) are refreshed
    whenever the list of personas changes. Returns the tab's own persona dropdown."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            gr.Markdown("### New persona from seed text")
            seeds = gr.File(label="Seed files (letters, messages, diaries: text, Markdown, JSON or CSV)",
                            file_count="multiple", type="filepath", elem_id="seed-files")
            new_name = gr.Textbox(label="Name (default: from the letters' sign-off)", elem_id="new-persona-name")
            new_description = gr.Textbox(label="Who this person is (optional)", elem_id="new-persona-description")
            new_real = gr.Checkbox(label="Portrays a real person (chats open with a disclosure)", elem_id="new-persona-real")
            create = gr.Button("Create persona", variant="primary", elem_id="create-persona")
            gr.Markdown("### Character cards")
            card_file = gr.File(label="Import a card (V1/V2/V3, .json or .png)", file_types=[".json", ".png"],
                                type="filepath", elem_id="card-file")
            import_button = gr.Button("Import card", elem_id="import-card")
        with gr.Column(scale=2):
            status = gr.Markdown("", elem_id="persona-status")
            chosen = gr.Dropdown(choices=[], value=None, label="Persona", elem_id="persona-edit-pick", interactive=True)
            adapter = gr.Markdown("", elem_id="persona-adapter")
            with gr.Row():
                avatar = gr.Image(label="Avatar", type="filepath", height=160, width=160, elem_id="persona-avatar")
                with gr.Column():
                    fields = {f: (gr.Checkbox(label="Portrays a real person", elem_id=f"persona-{f}")
                                  if f == "real_person" else
                                  gr.Textbox(label=f.replace("_", " ").capitalize(), elem_id=f"persona-{f}",
                                             lines=1 if f == "name" else 3))
                              for f in FIELDS[:2]}
            for f in FIELDS[2:]:
                fields[f] = (gr.Checkbox(label="Portrays a real person", elem_id=f"persona-{f}") if f == "real_person"
                             else gr.Textbox(label=f.replace("_", " ").capitalize(), lines=3, elem_id=f"persona-{f}"))
            with gr.Row():
                save = gr.Button("Save changes", variant="primary", elem_id="save-persona")
                remove = gr.Button("Delete persona", variant="stop", elem_id="delete-persona")
            with gr.Accordion("Facts found in the seed text", open=False, elem_id="facts"):
                fact_table = gr.Dataframe(headers=["#", "status", "kind", "fact", "count", "example"], interactive=False,
                                          wrap=True, elem_id="facts-table")
                fact_pick = gr.CheckboxGroup(choices=[], label="Tick facts to review", elem_id="facts-pick")
                with gr.Row():
                    accept = gr.Button("Accept into lorebook", size="sm", elem_id="facts-accept")
                    reject = gr.Button("Reject", size="sm", elem_id="facts-reject")
            with gr.Accordion("Fine-tune on the seed text (LoRA)", open=False, elem_id="finetune"):
                gr.Markdown("Trains a small adapter so the model itself writes more like the seed text. On two CPU "
                            "cores, 20,000 seed tokens take a few minutes per epoch; the page shows the progress.")
                with gr.Row():
                    ft_epochs = gr.Number(3, label="Epochs", precision=0, minimum=1, maximum=20, elem_id="ft-epochs")
                    ft_rank = gr.Dropdown([4, 8, 16, 32], value=8, label="Rank", elem_id="ft-rank")
                    ft_minutes = gr.Number(30, label="Time limit (minutes)", minimum=1, elem_id="ft-minutes")
                    ft_resume = gr.Checkbox(label="Resume an interrupted run", elem_id="ft-resume")
                ft_start = gr.Button("Fine-tune", variant="primary", elem_id="ft-start")
            with gr.Row():
                fmt = gr.Radio(list(manage.EXPORT_FORMATS), value="card-png", label="Export as", elem_id="persona-export-format")
                export = gr.Button("Export", elem_id="persona-export")
            download = gr.File(label="Download", interactive=False, elem_id="persona-download", visible=False)

    form_outputs = [*fields.values(), avatar, fact_pick, fact_table, adapter]

    def show(persona_id: int | None, request: gr.Request):  # type: ignore[no-untyped-def]
        try:
            v = form_values(service, me(request), persona_id)
        except KeepsakeError as exc:
            raise gr.Error(str(exc)) from None
        return (*(v[f] for f in FIELDS), v["avatar"], gr.CheckboxGroup(choices=v["facts"], value=[]), v["fact_rows"],
                v["adapter"])

    def refreshed(uid: int, selected: int | None) -> list:
        options = choices(uid)
        return [gr.Dropdown(choices=options, value=selected)] + [gr.Dropdown(choices=options) for _ in pickers]

    def guarded(action):  # type: ignore[no-untyped-def]
        """Run ``action``; a KeepsakeError becomes the status line, never a stack trace.

        ``wraps`` keeps the signature visible: Gradio reads it to pass the request and progress."""
        @functools.wraps(action)
        def run(*args):  # type: ignore[no-untyped-def]
            try:
                return action(*args)
            except KeepsakeError as exc:
                return (f"⚠️ {exc}", *([gr.skip()] * (len(pickers) + 1)))
        return run

    @guarded
    def on_create(files, name, description, real, request: gr.Request, progress=gr.Progress()):  # type: ignore[no-untyped-def]
        uid = me(request)
        progress(0, desc="Reading the seed files")
        pid, line = create_persona(service, uid, files, name, description, real,
                                   lambda done, total: progress(done / max(total, 1), desc="Indexing the seed text"))
        return (line, *refreshed(uid, pid))

    @guarded
    def on_import(path, name, request: gr.Request):  # type: ignore[no-untyped-def]
        uid = me(request)
        pid, line = import_card(service, uid, path, name)
        return (line, *refreshed(uid, pid))

    @guarded
    def on_delete(persona_id, request: gr.Request):  # type: ignore[no-untyped-def]
        uid = me(request)
        line = delete_persona(service, uid, persona_id)
        return (line, *refreshed(uid, None))

    @guarded
    def on_save(persona_id, name, description, personality, scenario, greeting, system_prompt,  # type: ignore[no-untyped-def]
                post_history_instructions, real_person, picture, request: gr.Request):
        uid = me(request)
        values = (name, description, personality, scenario, greeting, system_prompt, post_history_instructions, real_person)
        line = save_persona(service, uid, persona_id, dict(zip(FIELDS, values)), picture)
        return (line, *refreshed(uid, persona_id))

    def reviewer(accept: bool):  # type: ignore[no-untyped-def]
        def on_review(persona_id, picked, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                return review(service, me(request), persona_id, picked or [], accept=accept)
            except KeepsakeError as exc:
                return f"⚠️ {exc}"
        return on_review

    def on_export(persona_id, fmt, request: gr.Request):  # type: ignore[no-untyped-def]
        try:
            return gr.File(export_persona(service, me(request), persona_id, fmt), visible=True)
        except KeepsakeError as exc:
            raise gr.Error(str(exc)) from None

    @guarded
    def on_finetune(persona_id, epochs, rank, minutes, resume, request: gr.Request, progress=gr.Progress()):  # type: ignore[no-untyped-def]
        uid = me(request)

        def report(p) -> None:  # noqa: ANN001
            progress((p.step / p.total_steps) if p.total_steps else None, desc=progress_line(p))

        line = finetune_persona(service, uid, persona_id, epochs, rank, minutes, resume, report)
        return (line, *refreshed(uid, persona_id))

    listing = [status, chosen, *pickers]
    create.click(on_create, [seeds, new_name, new_description, new_real], listing).then(show, chosen, form_outputs)
    import_button.click(on_import, [card_file, new_name], listing).then(show, chosen, form_outputs)
    remove.click(on_delete, chosen, listing).then(show, chosen, form_outputs)
    save.click(on_save, [chosen, *fields.values(), avatar], listing)
    chosen.input(show, chosen, form_outputs)
    accept.click(reviewer(True), [chosen, fact_pick], status).then(show, chosen, form_outputs)
    reject.click(reviewer(False), [chosen, fact_pick], status).then(show, chosen, form_outputs)
    export.click(on_export, [chosen, fmt], download)
    ft_start.click(on_finetune, [chosen, ft_epochs, ft_rank, ft_minutes, ft_resume], listing).then(show, chosen, form_outputs)
    return chosen
