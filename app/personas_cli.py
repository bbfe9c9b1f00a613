"""``personas``: create personas from seed text, list, show, edit, delete, review facts, import/export cards."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from app.core.commands import STORE_FLAGS, KeepsakeGroup, settings_from, settings_options
from app.core.errors import PersonaError
from app.core.files import write_atomic
from personas import manage
from personas import persona as personas
from personas.persona import Persona


def _context(kwargs: dict[str, Any], user: str):  # type: ignore[no-untyped-def]
    from app.service import ChatService

    service = ChatService(settings_from(kwargs).model_copy(update={"memory": True}))
    return service, service.store.user_id(user)


def common(fn):  # type: ignore[no-untyped-def]
    fn = settings_options(*STORE_FLAGS, "embedder")(fn)
    return click.option("--user", default="local", show_default=True, help="Whose personas.")(fn)


@click.group(cls=KeepsakeGroup)
def main() -> None:
    """Personas: who the bot is. Build one from letters with `personas create --seed letters.txt`."""


@main.command()
@click.option("--seed", "seeds", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A file of the person's own writing (repeatable): letters or notes as text or Markdown; a WhatsApp, "
                   "Telegram or Messenger chat export; e-mail as .mbox or .eml; a JSON or CSV chat.")
@click.option("--name", help="The persona's name (default: the letters' signature or the chat's speaker, else the file name).")
@click.option("--description", default="", help="Who this person is, in a sentence or two.")
@click.option("--real-person", is_flag=True, help="It portrays a real person: chats open with a disclosure.")
@click.option("--encoding", help="The seed files' encoding, when detection guesses wrong (e.g. gb18030, big5).")
@click.option("--speaker", help="In a chat or mail export, whose messages are the persona's; in letters, keep those signed NAME.")
@common
def create(seeds: tuple[Path, ...], name: str | None, description: str, real_person: bool, encoding: str | None,
           speaker: str | None, user: str, **kwargs: Any) -> None:
    """Build a persona from seed files: style profile, system prompt, exemplars, facts, memories."""
    from personas.builder import build
    from personas.builder import create as store_persona
    from personas.seed import read_seed

    decoded = [read_seed(path, encoding=encoding, speaker=speaker) for path in seeds]
    built = build(decoded, name=name, description=description, real_person=real_person)
    service, uid = _context(kwargs, user)
    with click.progressbar(length=max(len(built.chunks), 1), label="Indexing the seed text", file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        persona_id = store_persona(service.memory, uid, built, progress)
    p = built.persona
    click.echo(f"Created persona {p.name!r} (name from {built.name_source}), id {persona_id}")
    if built.name_note:
        click.echo(f"  name: {built.name_note}")
    click.echo(f"  seed: {sum(s.source_record()['pieces'] for s in decoded)} pieces from {len(decoded)} file(s) "
               f"({', '.join(f'{s.path.name}: {s.encoding}' for s in decoded)}), {len(built.chunks)} memory chunks")
    st = p.style
    click.echo(f"  style: language {st['language'] or '?'}, sentences ~{st['sentence_length']['median']:g} "
               f"{st['sentence_length']['unit']}, greeting {st['greeting']!r}, sign-off {st['sign_off']!r}")
    if st.get("distinctive_words"):
        click.echo(f"  words: {_words(st)}")
    click.echo(f"  {len(p.facts)} fact candidates to review: personas facts {shlex.quote(p.name)}")
    if p.real_person:
        click.echo("  real person: conversations open with an AI-simulation disclosure")


@main.command("list")
@click.option("--json", "as_json", is_flag=True)
@common
def list_(as_json: bool, user: str, **kwargs: Any) -> None:
    """Your personas."""
    service, uid = _context(kwargs, user)
    rows = personas.list_personas(service.store, uid)
    if as_json:
        click.echo(json.dumps([{"id": i, "name": p.name, "real_person": p.real_person, "tags": p.tags,
                                "fine_tuned": bool(p.lora_path)} for i, p in rows], ensure_ascii=False))
        return
    for i, p in rows:
        flags = " [real person]" * p.real_person + " [fine-tuned]" * bool(p.lora_path)
        click.echo(f"{i:>4}  {p.name}{flags}  {p.description[:60]}")
    if not rows:
        click.echo("no personas yet: personas create --seed letters.txt", err=True)


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
@common
def show(name: str, as_json: bool, user: str, **kwargs: Any) -> None:
    """Show a persona: its prompt, style profile, sources and facts."""
    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    if as_json:
        click.echo(json.dumps({"id": pid, **p.model_dump(mode="json")}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{p.name} (id {pid}){' — portrays a real person' if p.real_person else ''}")
    for label, value in (("description", p.description), ("greeting", p.greeting), ("system prompt", p.system_prompt)):
        if value:
            click.echo(f"\n{label}:\n  {value}")
    if p.style.get("distinctive_words"):
        click.echo(f"\nwords:\n  {_words(p.style)}")
    if p.lora_path:
        click.echo(f"\nfine-tuned:\n  {_adapter_status(service.settings, p.lora_path)}")
    if p.sources:
        click.echo("\nseed files:")
        for src in p.sources:
            click.echo(f"  {src['file']}  {src['encoding']}  {src['pieces']} pieces  sha256 {src['sha256'][:12]}")
    if p.lorebook:
        click.echo("\nlorebook:")
        for e in p.lorebook:
            click.echo(f"  [{', '.join(e.keys) or 'always'}] {e.content}")


def _words(style: dict) -> str:
    words = style["distinctive_words"]
    return (f"replies favour the {len(words)} words the letters use more than everyday language does, most of all "
            + ", ".join(words[:12]) + " (KEEPSAKE_WORD_BIAS='{}' turns this off)")


def _adapter_status(settings, lora_path: str) -> str:  # type: ignore[no-untyped-def]
    """Whether the chat will use a persona's adapter with the configured model, and what it achieved."""
    from app.core.errors import KeepsakeError
    from app.core.lora_gguf import check_adapter, read_base, read_notes
    from app.core.models import embedded_model_path

    try:
        check_adapter(Path(lora_path), read_base(settings.model or embedded_model_path()))
    except KeepsakeError as exc:
        return f"adapter not used: {exc}; chats use the plain model"
    notes = read_notes(Path(lora_path))
    figures = (f", held-out perplexity {notes['perplexity_before']:.1f} -> {notes['perplexity_after']:.1f}"
               if "perplexity_after" in notes else "")
    return f"active: LoRA adapter {lora_path}{figures}"


@main.command()
@click.argument("name")
@click.option("--base", type=click.Path(dir_okay=False, path_type=Path),
              help="The GGUF to train on (default: the chat model). The chat uses the adapter only with this model.")
@click.option("--epochs", type=click.IntRange(1, 100), default=3, show_default=True, help="Passes over the seed text.")
@click.option("--rank", type=click.IntRange(1, 256), default=8, show_default=True, help="LoRA rank.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Stop training after this long, keeping what was learned (--resume goes on).")
@click.option("--resume", is_flag=True, help="Continue an interrupted or time-limited fine-tune.")
@common
def finetune(name: str, base: Path | None, epochs: int, rank: int, max_minutes: float, resume: bool, user: str,
             **kwargs: Any) -> None:
    """Fine-tune the persona on its seed text: a LoRA adapter the chat then uses with the model."""
    import contextlib

    from personas.finetune import Progress
    from personas.finetune import finetune as train

    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    phases = {"loading": "loading the model's weights", "measuring": "measuring held-out perplexity",
              "saving": "writing the adapter"}
    with contextlib.ExitStack() as stack:
        bar: list = []

        def show(progress: Progress) -> None:
            if progress.phase != "training":
                click.echo(phases[progress.phase], err=True)
                return
            if not bar:
                bar.append(stack.enter_context(click.progressbar(
                    length=progress.total_steps, label="training", file=sys.stderr,
                    item_show_func=lambda q: q and (f"loss {q.loss:.3f}  {q.tokens_per_s:.0f} tok/s  "
                                                    f"ETA {q.eta_s / 60:.1f} min"))))
                bar[0].update(progress.step - 1)
            bar[0].update(1, progress)

        result = train(service.store, service.settings, uid, pid, epochs=epochs, rank=rank, max_minutes=max_minutes,
                       resume=resume, base=base, progress=show)
    click.echo(f"fine-tuned {p.name!r}: {result.steps} of {result.total_steps} steps, "
               f"{result.tokens_per_s:.0f} seed tokens/s, {result.seconds / 60:.1f} min of training")
    click.echo(f"  held-out perplexity {result.perplexity_before:.2f} -> {result.perplexity_after:.2f} "
               f"({result.heldout_tokens} tokens)")
    click.echo(f"  adapter: {result.adapter}")
    if not result.complete:
        click.echo(f"  stopped at the time limit: `personas finetune {shlex.quote(p.name)} --resume` goes on", err=True)


@main.command()
@click.argument("name")
@click.option("--name", "new_name", help="Rename.")
@click.option("--description")
@click.option("--personality")
@click.option("--scenario")
@click.option("--greeting")
@click.option("--system-prompt")
@click.option("--post-history-instructions")
@click.option("--real-person/--not-real-person", default=None)
@click.option("--editor", is_flag=True, help="Edit all fields as JSON in $EDITOR.")
@common
def edit(name: str, new_name: str | None, editor: bool, user: str, **kwargs: Any) -> None:
    """Change fields by flag, or everything in $EDITOR."""
    fields = {k: kwargs.pop(k) for k in ("description", "personality", "scenario", "greeting", "system_prompt",
                                         "post_history_instructions", "real_person")}
    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    changes = {k: v for k, v in fields.items() if v is not None}
    if new_name:
        changes["name"] = new_name
    if editor:
        changes.update(_edit_in_editor(p))
    if not changes:
        raise PersonaError("nothing to change: give a field flag (see --help) or --editor")
    updated = manage.update(p, changes)
    personas.save(service.store, uid, pid, updated)
    click.echo(f"updated {updated.name!r}: {', '.join(sorted(changes))}")


def _edit_in_editor(p: Persona) -> dict:
    editable = p.model_dump(mode="json", exclude={"sources", "style", "card", "facts"})
    with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(editable, f, ensure_ascii=False, indent=2)
    try:
        subprocess.run([os.environ.get("EDITOR", "vi"), f.name], check=True)
        edited = json.loads(Path(f.name).read_text(encoding="utf-8"))
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
        raise PersonaError(f"edit abandoned ({exc}); nothing was changed") from None
    finally:
        os.unlink(f.name)
    return {k: v for k, v in edited.items() if editable.get(k) != v}


@main.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@common
def delete(name: str, yes: bool, user: str, **kwargs: Any) -> None:
    """Delete a persona and its seed memories (conversations are kept)."""
    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    if not yes:
        click.confirm(f"Delete persona {p.name!r} and its memories?", abort=True)
    manage.delete(service.memory, service.settings.home, uid, pid)
    click.echo(f"deleted {p.name!r}")


@main.command("add-seed")
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--encoding")
@click.option("--speaker")
@common
def add_seed(name: str, file: Path, encoding: str | None, speaker: str | None, user: str, **kwargs: Any) -> None:
    """Add another seed file to a persona's memory."""
    from personas.builder import add_seed as add
    from personas.seed import read_seed

    seed = read_seed(file, encoding=encoding, speaker=speaker)
    service, uid = _context(kwargs, user)
    pid, _ = personas.find(service.store, uid, name)
    click.echo(f"added {add(service.memory, uid, pid, seed)} memory chunks from {file.name}")


@main.command()
@click.argument("name")
@click.option("--accept", type=int, multiple=True, help="Accept candidate N into the lorebook (repeatable).")
@click.option("--reject", type=int, multiple=True, help="Reject candidate N (repeatable).")
@common
def facts(name: str, accept: tuple[int, ...], reject: tuple[int, ...], user: str, **kwargs: Any) -> None:
    """Review the facts found in the seed: accepted ones become lorebook entries."""
    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    if accept or reject:
        p = manage.review_facts(p, list(accept), list(reject))
        personas.save(service.store, uid, pid, p)
    found = p.facts
    for i, f in enumerate(found, start=1):
        click.echo(f"{i:>3}  {f['status']:<9} {f['kind']:<6} {f['text']:<20} ({f['count']}x) {f['example'][:70]}")


@main.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["card-json", "card-png", "yaml"]), default="card-png", show_default=True)
@click.option("--card-version", type=click.Choice(["v2", "v3"]), default="v3", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: NAME.png/.json/.yaml here.")
@common
def export(name: str, fmt: str, card_version: str, output: Path | None, user: str, **kwargs: Any) -> None:
    """Export a persona as a Character Card (JSON or PNG) or as YAML."""
    service, uid = _context(kwargs, user)
    pid, p = personas.find(service.store, uid, name)
    filename, data = manage.export_bytes(service.settings.home, pid, p, fmt, card_version)
    output = output or Path(filename)
    write_atomic(output, data)
    click.echo(f"wrote {output}")


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", help="Import under another name (e.g. when you already have one with the card's name).")
@common
def import_(file: Path, name: str | None, user: str, **kwargs: Any) -> None:
    """Import a Character Card V1/V2/V3 (JSON, or PNG with the card embedded)."""
    service, uid = _context(kwargs, user)
    pid, persona, image = manage.import_card(service.memory, service.settings.home, uid, file, name)
    click.echo(f"Imported persona {persona.name!r} (id {pid}) from a {persona.card.get('spec', 'chara_card_v1') if persona.card else 'card'}"
               f"{' with its avatar' if image else ''}")
