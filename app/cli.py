"""Command line: ``python -m app [serve|ask|chat|conversations ...]``.

Settings flags are generated from the fields of ``app.core.settings.Settings`` so that a setting is
defined once. Every ``KeepsakeError`` becomes a one-line message on stderr and a non-zero exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from app.cli_models import models
from app.core.commands import MODEL_FLAGS, SERVE_FLAGS, STORE_FLAGS, KeepsakeGroup, settings_from, settings_options
from app.core.errors import KeepsakeError
from app.core.files import write_atomic
from app.core.settings import Settings


@click.group(cls=KeepsakeGroup, invoke_without_command=True)
@click.version_option(package_name="keepsake")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Keepsake: persona chat on your own machine. With no command, starts the web chat."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def _service(settings: Settings):  # type: ignore[no-untyped-def]
    from app.service import ChatService

    return ChatService(settings)


@main.command()
@settings_options(*MODEL_FLAGS, *STORE_FLAGS, *SERVE_FLAGS)
@click.option("--share", is_flag=True, help="Ask Gradio for a public share link (off by default).")
def serve(share: bool = False, **kwargs: Any) -> None:
    """Start the web chat and the OpenAI-compatible API at /v1 (default http://127.0.0.1:7860)."""
    from app.server import serve as run_server

    settings = settings_from(kwargs)
    service = _service(settings)
    service.warm_up()  # a server loads its models before the first visitor, not during their first message
    run_server(service, share=share)


@main.command()
@click.argument("message")
@click.option("--persona", help="Persona to talk to (see `personas list`).")
@click.option("--conversation", "conversation_id", type=int, help="Continue this conversation.")
@click.option("--user", default="local", show_default=True, help="Whose conversations to use.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the reply and its figures.")
@settings_options(*MODEL_FLAGS, *STORE_FLAGS)
def ask(message: str, persona: str | None, conversation_id: int | None, user: str, as_json: bool, **kwargs: Any) -> None:
    """Send MESSAGE and print the reply as it is generated."""
    service = _service(settings_from(kwargs))
    uid = service.store.user_id(user)
    persona_id = service.persona_id(uid, persona) if persona else None
    live = service.send(uid, message, conversation_id=conversation_id, persona_id=persona_id)
    if conversation_id is None and not as_json:
        for notice in (m for m in service.store.thread(uid, live.conversation_id) if m.role == "notice"):
            click.echo(f"[{notice.content}]", err=True)
    for piece in live:
        if not as_json:
            click.echo(piece, nl=False)
            sys.stdout.flush()
    if live.replaced and not as_json:
        click.echo(f"\n[withdrawn by the safety filter]\n{live.text}", nl=False)
    reply = live.reply
    assert reply is not None
    if as_json:
        click.echo(json.dumps({
            "reply": reply.text,
            "conversation_id": live.conversation_id,
            "message_id": live.message_id,
            "model": service.backend.name,
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                      "total_tokens": reply.prompt_tokens + reply.completion_tokens},
            "timings": {"ttft_s": round(reply.ttft_s, 4), "total_s": round(reply.total_s, 4),
                        "tokens_per_s": round(reply.tokens_per_s, 2)},
            "prompt": {"history_dropped": live.turn.plan.history_dropped},
            "safety": live.outcome.audit() if live.outcome else None,
        }, ensure_ascii=False))
    else:
        click.echo()
        click.echo(f"[conversation {live.conversation_id}]", err=True)


@main.command()
@click.option("--persona", help="Persona to talk to.")
@click.option("--conversation", "conversation_id", type=int, help="Resume this conversation.")
@click.option("--user", default="local", show_default=True)
@settings_options(*MODEL_FLAGS, *STORE_FLAGS)
def chat(persona: str | None, conversation_id: int | None, user: str, **kwargs: Any) -> None:
    """Talk in the terminal. /new starts over, /quit (or Ctrl-D) leaves."""
    service = _service(settings_from(kwargs))
    uid = service.store.user_id(user)
    persona_id = service.persona_id(uid, persona) if persona else None
    if conversation_id is None and persona_id is not None:
        conversation_id = service.start_conversation(uid, persona_id).id

    def show(conversation: int | None) -> None:
        for m in service.store.thread(uid, conversation) if conversation else []:
            click.echo(f"[{m.content}]" if m.role == "notice" else f"{'you' if m.role == 'user' else 'bot'}> {m.content}")

    show(conversation_id)
    click.echo("Type a message; /new starts over, /pause, /resume and /end control the conversation, /quit leaves.",
               err=True)
    while True:
        try:
            text = input("you> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            break
        command = text.strip()
        if command in ("/quit", "/exit"):
            break
        if command == "/new":
            conversation_id = service.start_conversation(uid, persona_id).id if persona_id is not None else None
            show(conversation_id)
            continue
        if command in ("/pause", "/resume", "/end") and conversation_id is not None:
            state = {"/pause": "paused", "/resume": "active", "/end": "ended"}[command]
            try:
                service.store.set_state(uid, conversation_id, state)
                click.echo(f"[conversation {state}]", err=True)
            except KeepsakeError as exc:
                click.echo(f"error: {exc}", err=True)
            continue
        try:
            live = service.send(uid, text, conversation_id=conversation_id, persona_id=persona_id)
        except KeepsakeError as exc:
            click.echo(f"error: {exc}", err=True)
            continue
        conversation_id = live.conversation_id
        click.echo("bot> ", nl=False)
        try:
            for piece in live:
                click.echo(piece, nl=False)
                sys.stdout.flush()
            if live.replaced:
                click.echo(f"\n[withdrawn by the safety filter]\n{live.text}", nl=False)
        except KeyboardInterrupt:
            click.echo(" [stopped]", nl=False)
        click.echo()


@main.group(cls=KeepsakeGroup)
def conversations() -> None:
    """List, show, export, rename and delete stored conversations."""


def _store_and_user(kwargs: dict[str, Any], user: str):  # type: ignore[no-untyped-def]
    from memory.store import Store

    store = Store(settings_from(kwargs).db_url)
    return store, store.user_id(user)


@conversations.command("list")
@click.option("--user", default="local", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@settings_options(*STORE_FLAGS)
def conversations_list(user: str, as_json: bool, **kwargs: Any) -> None:
    """Your conversations, most recent first."""
    store, uid = _store_and_user(kwargs, user)
    rows = store.list_conversations(uid)
    if as_json:
        click.echo(json.dumps([{"id": c.id, "title": c.title, "persona_id": c.persona_id,
                                "updated_at": c.updated_at.isoformat()} for c in rows], ensure_ascii=False))
        return
    for c in rows:
        click.echo(f"{c.id:>5}  {c.updated_at:%Y-%m-%d %H:%M}  {c.title}")
    if not rows:
        click.echo("no conversations yet", err=True)


@conversations.command("show")
@click.argument("conversation_id", type=int)
@click.option("--user", default="local", show_default=True)
@settings_options(*STORE_FLAGS)
def conversations_show(conversation_id: int, user: str, **kwargs: Any) -> None:
    """Print a conversation."""
    store, uid = _store_and_user(kwargs, user)
    for m in store.thread(uid, conversation_id):
        note = " (interrupted)" if m.status == "interrupted" else ""
        click.echo(f"[{m.id}] {m.role}{note}: {m.content}")


@conversations.command("export")
@click.argument("conversation_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["json", "markdown"]), default="markdown", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--user", default="local", show_default=True)
@settings_options(*STORE_FLAGS)
def conversations_export(conversation_id: int, fmt: str, output: Path | None, user: str, **kwargs: Any) -> None:
    """Export a conversation as JSON or Markdown."""
    store, uid = _store_and_user(kwargs, user)
    text = store.export(uid, conversation_id, fmt)
    if output is None:
        click.echo(text)
        return
    write_atomic(output, text.encode("utf-8"))  # all or nothing: a full disk leaves no half-written export
    click.echo(f"wrote {output}", err=True)


@conversations.command("rename")
@click.argument("conversation_id", type=int)
@click.argument("title")
@click.option("--user", default="local", show_default=True)
@settings_options(*STORE_FLAGS)
def conversations_rename(conversation_id: int, title: str, user: str, **kwargs: Any) -> None:
    """Give a conversation a new title."""
    store, uid = _store_and_user(kwargs, user)
    store.rename(uid, conversation_id, title)


@conversations.command("delete")
@click.argument("conversation_id", type=int)
@click.option("--user", default="local", show_default=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@settings_options(*STORE_FLAGS)
def conversations_delete(conversation_id: int, user: str, yes: bool, **kwargs: Any) -> None:
    """Delete a conversation and its messages."""
    store, uid = _store_and_user(kwargs, user)
    conv = store.get_conversation(uid, conversation_id)
    if not yes:
        click.confirm(f"Delete conversation {conv.id} ({conv.title!r})?", abort=True)
    store.delete_conversation(uid, conversation_id)
    click.echo(f"deleted conversation {conv.id}", err=True)


@main.group(cls=KeepsakeGroup)
def memories() -> None:
    """See, search, add, edit and delete what the bot remembers."""


def _memory(kwargs: dict[str, Any], user: str, persona: str | None):  # type: ignore[no-untyped-def]
    from app.service import ChatService

    service = ChatService(settings_from(kwargs).model_copy(update={"memory": True}))
    uid = service.store.user_id(user)
    pid = service.persona_id(uid, persona) if persona else None
    return service.memory, uid, pid


def _memory_options(fn: Callable) -> Callable:
    fn = settings_options(*STORE_FLAGS, "embedder")(fn)
    fn = click.option("--persona", help="Whose memories (default: chats without a persona).")(fn)
    return click.option("--user", default="local", show_default=True)(fn)


@memories.command("list")
@click.option("--kind", type=click.Choice(["seed", "turn", "summary", "note"]))
@click.option("--contains", help="Only memories containing this text.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_memory_options
def memories_list(kind: str | None, contains: str | None, limit: int, as_json: bool, user: str, persona: str | None,
                  **kwargs: Any) -> None:
    """Memories newest first."""
    memory, uid, pid = _memory(kwargs, user, persona)
    rows = memory.list(pid, uid, kind=kind, limit=limit, query=contains)
    if as_json:
        click.echo(json.dumps([{"id": m.id, "kind": m.kind, "text": m.text, "created_at": m.created_at.isoformat()}
                               for m in rows], ensure_ascii=False))
        return
    for m in rows:
        click.echo(f"{m.id:>6}  {m.kind:<7}  {' '.join(m.text.split())[:100]}")


@memories.command("search")
@click.argument("query")
@click.option("-k", type=int, default=5, show_default=True)
@click.option("--min-score", type=float, default=0.2, show_default=True)
@_memory_options
def memories_search(query: str, k: int, min_score: float, user: str, persona: str | None, **kwargs: Any) -> None:
    """The memories closest in meaning to QUERY."""
    memory, uid, pid = _memory(kwargs, user, persona)
    for h in memory.search(query, persona_id=pid, user_id=uid, k=k, min_score=min_score):
        click.echo(f"{h.id:>6}  {h.score:.3f}  {h.kind:<7}  {' '.join(h.text.split())[:100]}")


@memories.command("add")
@click.argument("text")
@_memory_options
def memories_add(text: str, user: str, persona: str | None, **kwargs: Any) -> None:
    """Add a note for the bot to remember."""
    memory, uid, pid = _memory(kwargs, user, persona)
    click.echo(memory.add([text], persona_id=pid, user_id=uid, kind="note")[0])


@memories.command("edit")
@click.argument("memory_id", type=int)
@click.argument("text")
@_memory_options
def memories_edit(memory_id: int, text: str, user: str, persona: str | None, **kwargs: Any) -> None:
    """Replace the text of a memory."""
    memory, uid, _ = _memory(kwargs, user, persona)
    memory.edit(memory_id, text, user_id=uid)


@memories.command("delete")
@click.argument("memory_ids", type=int, nargs=-1, required=True)
@_memory_options
def memories_delete(memory_ids: tuple[int, ...], user: str, persona: str | None, **kwargs: Any) -> None:
    """Forget memories by id."""
    memory, uid, _ = _memory(kwargs, user, persona)
    for mid in memory_ids:
        memory.delete(mid, user_id=uid)
    memory.flush()


@main.group(cls=KeepsakeGroup)
def users() -> None:
    """Accounts for the web chat's sign-in (`serve --auth`) and their API keys."""


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May add users and see the moderation view.")
@click.password_option(help="Asked for when not given.")
@settings_options(*STORE_FLAGS)
def users_add(name: str, admin: bool, password: str, **kwargs: Any) -> None:
    """Add a user, or set an existing user's password."""
    from app.accounts import add_user
    from memory.store import Store

    uid = add_user(Store(settings_from(kwargs).db_url), name, password, admin=admin)
    click.echo(f"user {name!r} (id {uid}) can sign in{' as an administrator' if admin else ''}")


@users.command("list")
@settings_options(*STORE_FLAGS)
def users_list(**kwargs: Any) -> None:
    """Every user."""
    from app.accounts import list_users
    from memory.store import Store

    for uid, name, admin, has_password in list_users(Store(settings_from(kwargs).db_url)):
        click.echo(f"{uid:>4}  {name}{'  [admin]' if admin else ''}{'' if has_password else '  (no password: local only)'}")


@users.command("key")
@click.argument("name")
@settings_options(*STORE_FLAGS)
def users_key(name: str, **kwargs: Any) -> None:
    """Create an API key for NAME (printed once: only its hash is kept)."""
    from app.accounts import create_api_key
    from memory.store import Store

    click.echo(create_api_key(Store(settings_from(kwargs).db_url), name))
    click.echo(f"API key for {name!r}: keep it now, it cannot be shown again", err=True)


@main.command()
@click.option("--action", "actions", multiple=True,
              type=click.Choice(["passed", "repaired", "kept", "blocked", "supported", "refused_safe"]),
              help="Which actions to list (repeatable; default: everything the filter changed, and refusals of safe "
                   "requests, its failures).")
@click.option("--category", help="Only this policy category.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@settings_options(*STORE_FLAGS)
def moderation(actions: tuple[str, ...], category: str | None, limit: int, as_json: bool, **kwargs: Any) -> None:
    """Replies the safety filter repaired, blocked or answered with support, and safe requests it let be refused."""
    from memory.store import Store
    from safety.filter import FAILURE, failure_summary

    store = Store(settings_from(kwargs).db_url)
    rows = store.flagged(actions or ("repaired", "blocked", "supported", FAILURE), category, limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['created_at'][:16]}  {r['user']:<12} conv {r['conversation_id']:<5} {r['action']:<12} "
                   f"{r['category']:<18} {r['reward']:+.2f}  {' '.join(r['reply'].split())[:60]}")
    if not rows:
        click.echo("nothing flagged", err=True)
    click.echo(failure_summary(store.verdict_counts(30), 30), err=True)


@main.command()
@click.option("--quick", is_flag=True,
              help="A smoke run: every figure from a few repeats (about 3 minutes on two cores, less the slow sections).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--fidelity", "fidelity_only", is_flag=True,
              help="Only the 'sounding like the person' section (personas from the letters in ../shared).")
@click.option("--skip", multiple=True, type=click.Choice(["fidelity", "companion"]),
              help="Leave out a slow section (its own commands: bench --fidelity, python -m safety eval).")
def bench(quick: bool, as_json: bool, fidelity_only: bool, skip: tuple[str, ...]) -> None:
    """Measure speed side by side and print medians and ratios."""
    from app import bench as benchmarks

    if fidelity_only:
        from app.fidelity import render as render_fidelity

        result = benchmarks.fidelity(quick)
        click.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else render_fidelity(result).lstrip("\n"))
        return
    results = benchmarks.run(quick=quick, skip=skip)
    click.echo(json.dumps(results, indent=2) if as_json else benchmarks.render(results))


main.add_command(models)


def run() -> None:
    """Entry point for ``python -m app`` and the ``keepsake`` script."""
    main(prog_name="python -m app")
