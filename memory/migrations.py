"""Schema migrations: small named steps, applied in order, each in its own transaction.

A step is recorded in ``_migrations`` by its function name once it has run; a step that fails rolls
back and stays pending. Released steps are never edited: a change to the schema is a new step. The
table definitions inside a step are frozen copies on purpose; ``memory.schema`` describes only the
current state.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine

Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Decorator: append a step to the ordered list."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_chat(conn: Connection) -> None:
    md = MetaData()
    Table(
        "users", md,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("password_hash", String(255)),
        Column("is_admin", Boolean, nullable=False, default=False),
        Column("created_at", DateTime, nullable=False),
    )
    Table(
        "personas", md,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True),
        Column("name", String(200), nullable=False),
        Column("data", JSON, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        UniqueConstraint("user_id", "name"),
    )
    Table(
        "conversations", md,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("persona_id", Integer, ForeignKey("personas.id", ondelete="SET NULL"), index=True),
        Column("title", String(200), nullable=False),
        Column("head_id", Integer),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "messages", md,
        Column("id", Integer, primary_key=True),
        Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("parent_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), index=True),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("token_count", Integer, nullable=False),
        Column("prompt_tokens", Integer),
        Column("ttft_ms", Float),
        Column("total_ms", Float),
        Column("model", String(200)),
        Column("sampling", JSON),
        Column("created_at", DateTime, nullable=False),
        Column("finished_at", DateTime),
        Column("writer", String(120)),
        Column("heartbeat_at", DateTime),
    )
    md.create_all(conn)


@migration
def m002_long_term_memory(conn: Connection) -> None:
    md = MetaData()
    # Referenced tables, so the foreign keys resolve; create_all skips tables that exist.
    md.reflect(conn, only=["users", "personas", "conversations", "messages"])
    Table(
        "memories", md,
        Column("id", Integer, primary_key=True),
        Column("persona_id", Integer, ForeignKey("personas.id", ondelete="CASCADE"), index=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True),
        Column("kind", String(16), nullable=False),
        Column("text", Text, nullable=False),
        Column("content_hash", String(64), nullable=False, index=True),
        Column("vector", LargeBinary),
        Column("source_message_id", Integer, ForeignKey("messages.id", ondelete="SET NULL")),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "summaries", md,
        Column("id", Integer, primary_key=True),
        Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("upto_message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        Column("text", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
    )
    md.create_all(conn)


@migration
def m003_safety_verdicts(conn: Connection) -> None:
    # Added after the first release so that each reply carries the safety filter's audit trail.
    for ddl in (
        "ALTER TABLE messages ADD COLUMN safety_category VARCHAR(64)",
        "ALTER TABLE messages ADD COLUMN safety_scores JSON",
        "ALTER TABLE messages ADD COLUMN safety_class VARCHAR(1)",
        "ALTER TABLE messages ADD COLUMN safety_reward FLOAT",
        "ALTER TABLE messages ADD COLUMN safety_action VARCHAR(16)",
    ):
        conn.execute(text(ddl))


@migration
def m004_conversation_state(conn: Connection) -> None:
    # A conversation with a portrait of a real person can be paused or ended by the user.
    conn.execute(text("ALTER TABLE conversations ADD COLUMN state VARCHAR(16) NOT NULL DEFAULT 'active'"))


@migration
def m005_memory_scope_index(conn: Connection) -> None:
    # The index freshness check aggregates a scope's rows (count, id sum, latest update): at 100k
    # memories a covering index takes it from about 100 ms to about 20 ms.
    conn.execute(text("CREATE INDEX ix_memories_scope_updated ON memories (persona_id, user_id, updated_at)"))


@migration
def m006_user_preferences(conn: Connection) -> None:
    # Model settings chosen in the web page (model file, context, GPU layers, sampler), per user.
    conn.execute(text("ALTER TABLE users ADD COLUMN preferences JSON"))


@migration
def m007_api_keys(conn: Connection) -> None:
    # Keys for the OpenAI-compatible API, one user each; only a hash of each key is kept.
    md = MetaData()
    md.reflect(conn, only=["users"])
    Table(
        "api_keys", md,
        Column("id", Integer, primary_key=True),
        Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("prefix", String(16), nullable=False),
        Column("created_at", DateTime, nullable=False),
    )
    md.create_all(conn)


def applied(engine: Engine) -> list[str]:
    """Names of the steps already applied, in order."""
    if not inspect(engine).has_table("_migrations"):
        return []
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT name FROM _migrations ORDER BY id"))]


def migrate(engine: Engine, upto: str | None = None) -> list[str]:
    """Apply pending steps (up to and including ``upto``); return the names applied now."""
    md = MetaData()
    Table(
        "_migrations", md,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("applied_at", DateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    )
    with engine.begin() as conn:
        md.create_all(conn)
    done = set(applied(engine))
    ran = []
    for step in MIGRATIONS:
        if step.__name__ not in done:
            with engine.begin() as conn:
                step(conn)
                conn.execute(text("INSERT INTO _migrations (name) VALUES (:n)"), {"n": step.__name__})
            ran.append(step.__name__)
        if step.__name__ == upto:
            break
    return ran
