"""The conversation store, run on SQLite and on the real PostgreSQL server."""

import json
import socket

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from app.core.errors import NotFound, StoreError
from memory.db import make_engine
from memory.migrations import MIGRATIONS, applied, migrate
from memory.store import Store


def test_migrations_from_empty_database(store: Store) -> None:
    assert applied(store.engine) == [m.__name__ for m in MIGRATIONS]
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "personas", "conversations", "messages", "memories", "summaries", "_migrations"} <= tables
    assert migrate(store.engine) == []  # idempotent


def test_migration_from_the_previous_schema_keeps_data(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, upto="m001_chat")
    assert applied(engine) == ["m001_chat"]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, name, is_admin, created_at) VALUES (1, 'old', false, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO conversations (id, user_id, title, created_at, updated_at) "
                          "VALUES (1, 1, 'from v1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO messages (id, conversation_id, role, content, status, token_count, created_at) "
                          "VALUES (1, 1, 'user', 'still here?', 'complete', 3, CURRENT_TIMESTAMP)"))
        conn.execute(text("UPDATE conversations SET head_id = 1"))
    engine.dispose()
    store = Store(db_url)  # migrates the rest
    assert applied(store.engine)[-1] == MIGRATIONS[-1].__name__
    uid = store.user_id("old", create=False)
    assert [m.content for m in store.thread(uid, 1)] == ["still here?"]
    assert "safety_reward" in {c["name"] for c in inspect(store.engine).get_columns("messages")}
    store.close()


def test_failing_migration_rolls_back_and_stays_pending(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)

    def m999_broken(conn) -> None:  # noqa: ANN001
        conn.execute(text("CREATE TABLE half_done (id INTEGER)"))
        conn.execute(text("THIS IS NOT SQL"))

    MIGRATIONS.append(m999_broken)
    try:
        with pytest.raises(DBAPIError, match="THIS IS NOT SQL"):  # the database's error, not a bug of ours
            migrate(engine)
        assert "m999_broken" not in applied(engine)
        assert "half_done" not in inspect(engine).get_table_names()
    finally:
        MIGRATIONS.remove(m999_broken)
        engine.dispose()


def test_conversation_lifecycle(store: Store) -> None:
    uid = store.user_id("ann")
    conv = store.create_conversation(uid, title="Letters")
    u = store.add_message(uid, conv.id, "user", "Hello Grandpa")
    a = store.add_message(uid, conv.id, "assistant", "Hello, little one")
    assert [m.id for m in store.thread(uid, conv.id)] == [u.id, a.id]
    store.rename(uid, conv.id, "  Sunday talk ")
    assert store.get_conversation(uid, conv.id).title == "Sunday talk"
    other = store.create_conversation(uid, title="Second")
    store.add_message(uid, other.id, "user", "newer")
    assert [c.id for c in store.list_conversations(uid)] == [other.id, conv.id]
    store.delete_conversation(uid, conv.id)
    with pytest.raises(NotFound):
        store.thread(uid, conv.id)
    assert [c.id for c in store.list_conversations(uid)] == [other.id]


def test_regenerate_and_edit_keep_alternatives(store: Store) -> None:
    uid = store.user_id()
    conv = store.create_conversation(uid)
    u1 = store.add_message(uid, conv.id, "user", "Q1")
    a1 = store.add_message(uid, conv.id, "assistant", "A1")
    a1b = store.add_message(uid, conv.id, "assistant", "A1 again", parent_id=u1.id)
    assert [m.content for m in store.thread(uid, conv.id)] == ["Q1", "A1 again"]
    assert [m.id for m in store.alternatives(uid, a1.id)] == [a1.id, a1b.id]
    store.switch_to(uid, a1.id)
    assert [m.content for m in store.thread(uid, conv.id)] == ["Q1", "A1"]
    # Edit the first message: a sibling branch from the root; the old branch stays reachable.
    u1e = store.add_message(uid, conv.id, "user", "Q1 edited", parent_id=None)
    store.add_message(uid, conv.id, "assistant", "A1 for edit")
    assert [m.content for m in store.thread(uid, conv.id)] == ["Q1 edited", "A1 for edit"]
    assert [m.id for m in store.alternatives(uid, u1.id)] == [u1.id, u1e.id]
    store.switch_to(uid, u1.id)
    assert [m.content for m in store.thread(uid, conv.id)] == ["Q1", "A1 again"]


def test_delete_turn_removes_the_rest_of_the_branch(store: Store) -> None:
    uid = store.user_id()
    conv = store.create_conversation(uid)
    store.add_message(uid, conv.id, "user", "one")
    two = store.add_message(uid, conv.id, "assistant", "two")
    store.add_message(uid, conv.id, "user", "three")
    store.add_message(uid, conv.id, "assistant", "four")
    store.delete_turn(uid, two.id)
    assert [m.content for m in store.thread(uid, conv.id)] == ["one"]


def test_users_are_isolated(store: Store) -> None:
    a, b = store.user_id("a"), store.user_id("b")
    conv = store.create_conversation(a)
    msg = store.add_message(a, conv.id, "user", "private")
    for attempt in (
        lambda: store.thread(b, conv.id),
        lambda: store.get_conversation(b, conv.id),
        lambda: store.rename(b, conv.id, "mine now"),
        lambda: store.delete_conversation(b, conv.id),
        lambda: store.export(b, conv.id),
        lambda: store.add_message(b, conv.id, "user", "intrude"),
        lambda: store.alternatives(b, msg.id),
        lambda: store.delete_turn(b, msg.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert store.list_conversations(b) == []
    assert [m.content for m in store.thread(a, conv.id)] == ["private"]


def test_streaming_reply_is_recovered_as_interrupted(db_url: str) -> None:
    store = Store(db_url)
    uid = store.user_id()
    conv = store.create_conversation(uid)
    store.add_message(uid, conv.id, "user", "tell me a story")
    reply = store.add_message(uid, conv.id, "assistant", "", status="streaming")
    store.save_partial(reply.id, "Once upon a")
    assert store.recover() == 0  # its writer (this process) is alive
    with store.session() as s:  # pretend the writer was another process of this host that died
        s.execute(text("UPDATE messages SET writer = :w WHERE id = :i"), {"w": f"{socket.gethostname()}:999999999", "i": reply.id})
    store.close()
    reopened = Store(db_url)
    assert reopened.recovered == 1
    last = reopened.thread(uid, conv.id)[-1]
    assert (last.status, last.content) == ("interrupted", "Once upon a")
    reopened.close()


def test_export_json_and_markdown(store: Store) -> None:
    uid = store.user_id()
    conv = store.create_conversation(uid, title="Garden")
    store.add_message(uid, conv.id, "user", "How are the roses? 🌹")
    store.add_message(uid, conv.id, "assistant", "Blooming, dear.")
    data = json.loads(store.export(uid, conv.id, "json"))
    assert data["title"] == "Garden" and [m["content"] for m in data["messages"]] == ["How are the roses? 🌹", "Blooming, dear."]
    md = store.export(uid, conv.id, "markdown", persona_name="Grandpa")
    assert md.startswith("# Garden") and "**Grandpa**:" in md and "🌹" in md
    with pytest.raises(ValueError, match="unknown export format"):
        store.export(uid, conv.id, "pdf")


def test_unwritable_database_is_a_clear_error(tmp_path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keepsake.db").write_bytes(b"this is not a database at all, just text" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(f"sqlite:///{ro / 'keepsake.db'}")


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"):
        Store("postgresql+psycopg://u:secret@127.0.0.1:1/x")


def test_locked_sqlite_database_is_a_clear_error(tmp_path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    store = Store(url, busy_timeout_s=0.5)
    uid = store.user_id()
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="database is locked.*another program holds the database"):
            store.create_conversation(uid)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.create_conversation(uid).id == 1  # recovers once the lock is gone
