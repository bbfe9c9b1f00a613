"""Opening the database: SQLite (default, WAL mode) or PostgreSQL by URL, migrated on open."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import StoreError
from memory.migrations import migrate


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin: the module's own
        # handling skips BEGIN before DDL, which would make migrations non-transactional.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")  # wait this long for a writer
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front: two deferred transactions that both upgrade to
        # writing would fail with "database is locked" instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, busy_timeout_s: float = 10.0) -> Engine:
    """An engine for ``url``, set up for our transactions (SQLite: WAL, foreign keys, transactional DDL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})
        _sqlite_pragmas(engine, busy_timeout_s)
        return engine
    return create_engine(url, pool_pre_ping=True)


def open_engine(url: str, busy_timeout_s: float = 10.0) -> Engine:
    """An engine for ``url`` with the schema migrated to the newest version."""
    try:
        engine = make_engine(url, busy_timeout_s)
        migrate(engine)
        return engine
    except (SQLAlchemyError, OSError) as exc:
        detail = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot open the database {_redact(url)}: {detail}".strip()) from None


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"
