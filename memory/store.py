"""The conversation store: users, conversations and messages, durable in SQL.

The database is the source of truth. A user's turn is committed before the reply starts; the reply
row is created as ``streaming``, its partial text saved as it grows, and set ``complete`` when it
ends (or ``interrupted`` if generation stops). A process that dies mid-reply leaves a ``streaming``
row, which the next ``Store()`` marks ``interrupted``. Every read and write is scoped by user id:
another user's conversation is reported as not found, never shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import NotFound, StoreError
from memory.db import open_engine
from memory.schema import Conversation, StoredMessage, Summary, User, utcnow

LOCAL_USER = "local"
STALE_AFTER = timedelta(minutes=2)
WRITER = f"{socket.gethostname()}:{os.getpid()}"


def _writer_gone(writer: str | None) -> bool:
    """True when ``writer`` ("host:pid") is a process of this host that no longer runs."""
    host, _, pid = (writer or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


@dataclass(frozen=True)
class MessageRecord:
    id: int
    conversation_id: int
    parent_id: int | None
    role: str
    content: str
    status: str
    token_count: int
    created_at: datetime
    model: str | None = None
    prompt_tokens: int | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    safety_action: str | None = None
    safety_category: str | None = None
    safety_reward: float | None = None
    safety_class: str | None = None
    safety_scores: dict | None = None  # the filter's full record (second readers, attempts): not exported

    @classmethod
    def of(cls, m: StoredMessage) -> MessageRecord:
        return cls(**{f: getattr(m, f) for f in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        del d["safety_scores"]
        return d


@dataclass(frozen=True)
class ConversationRecord:
    id: int
    user_id: int
    persona_id: int | None
    title: str
    head_id: int | None
    created_at: datetime
    updated_at: datetime
    state: str = "active"

    @classmethod
    def of(cls, c: Conversation) -> ConversationRecord:
        return cls(**{f: getattr(c, f) for f in cls.__dataclass_fields__})


class Store:
    """Conversations and messages in SQL. Thread-safe: each call uses its own session."""

    def __init__(self, url: str, busy_timeout_s: float = 10.0) -> None:
        self.url = url
        self.engine = open_engine(url, busy_timeout_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.recovered = self.recover()

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction; database errors come out as StoreError with the cause."""
        try:
            with self._sessions.begin() as s:
                yield s
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            hint = " (another program holds the database; close it or try again)" if "locked" in str(cause) else ""
            raise StoreError(f"database error: {cause}{hint}") from None

    def recover(self) -> int:
        """Mark replies whose writer died mid-stream as interrupted; returns how many.

        Another live process (the web server while the CLI runs) may be streaming into the same
        database, so a row is only taken over when its writer is gone: a process of this host
        that no longer exists, or no heartbeat for STALE_AFTER.
        """
        stale = utcnow() - STALE_AFTER
        with self.session() as s:
            rows = s.execute(select(StoredMessage.id, StoredMessage.writer, StoredMessage.heartbeat_at)
                             .where(StoredMessage.status == "streaming")).all()
            dead = [mid for mid, writer, beat in rows if _writer_gone(writer) or beat is None or beat < stale]
            if dead:
                s.execute(update(StoredMessage).where(StoredMessage.id.in_(dead)).values(status="interrupted"))
            return len(dead)

    # -- users ---------------------------------------------------------------------------------

    def user_id(self, name: str = LOCAL_USER, *, create: bool = True) -> int:
        """The id of the named user, created on first use when ``create``."""
        with self.session() as s:
            uid = s.scalar(select(User.id).where(User.name == name))
            if uid is None:
                if not create:
                    raise NotFound(f"no user named {name!r}")
                user = User(name=name, is_admin=(name == LOCAL_USER))
                s.add(user)
                s.flush()
                uid = user.id
            return uid

    def is_admin(self, user_id: int) -> bool:
        with self.session() as s:
            return bool(s.scalar(select(User.is_admin).where(User.id == user_id)))

    def preferences(self, user_id: int) -> dict:
        """The settings this user chose in the web page ({} when none)."""
        with self.session() as s:
            return dict(s.scalar(select(User.preferences).where(User.id == user_id)) or {})

    def set_preferences(self, user_id: int, preferences: dict) -> None:
        with self.session() as s:
            s.execute(update(User).where(User.id == user_id).values(preferences=preferences))

    # -- conversations -------------------------------------------------------------------------

    def _conversation(self, s: Session, user_id: int, conversation_id: int) -> Conversation:
        conv = s.get(Conversation, conversation_id)
        if conv is None or conv.user_id != user_id:
            raise NotFound(f"no conversation {conversation_id}")
        return conv

    def create_conversation(self, user_id: int, persona_id: int | None = None, title: str = "New chat") -> ConversationRecord:
        with self.session() as s:
            conv = Conversation(user_id=user_id, persona_id=persona_id, title=title[:200])
            s.add(conv)
            s.flush()
            return ConversationRecord.of(conv)

    def get_conversation(self, user_id: int, conversation_id: int) -> ConversationRecord:
        with self.session() as s:
            return ConversationRecord.of(self._conversation(s, user_id, conversation_id))

    def list_conversations(self, user_id: int, persona_id: int | None = None) -> list[ConversationRecord]:
        """The user's conversations, most recently active first."""
        with self.session() as s:
            q = select(Conversation).where(Conversation.user_id == user_id)
            if persona_id is not None:
                q = q.where(Conversation.persona_id == persona_id)
            return [ConversationRecord.of(c) for c in s.scalars(q.order_by(Conversation.updated_at.desc(), Conversation.id.desc()))]

    def rename(self, user_id: int, conversation_id: int, title: str) -> None:
        with self.session() as s:
            self._conversation(s, user_id, conversation_id).title = title.strip()[:200] or "Untitled"

    def set_state(self, user_id: int, conversation_id: int, state: str) -> None:
        """Pause, resume (``active``) or end a conversation."""
        if state not in ("active", "paused", "ended"):
            raise ValueError(f"unknown conversation state {state!r}")
        with self.session() as s:
            conv = self._conversation(s, user_id, conversation_id)
            if conv.state == "ended" and state != "ended":
                raise NotFound(f"conversation {conversation_id} was ended; start a new one")
            conv.state = state

    def delete_conversation(self, user_id: int, conversation_id: int) -> None:
        with self.session() as s:
            conv = self._conversation(s, user_id, conversation_id)
            s.execute(delete(StoredMessage).where(StoredMessage.conversation_id == conv.id))
            s.delete(conv)

    # -- messages ------------------------------------------------------------------------------

    def _message(self, s: Session, user_id: int, message_id: int) -> tuple[StoredMessage, Conversation]:
        """A message and its conversation, if both are the user's."""
        m = s.get(StoredMessage, message_id)
        if m is None:
            raise NotFound(f"no message {message_id}")
        return m, self._conversation(s, user_id, m.conversation_id)

    def _all_messages(self, s: Session, conversation_id: int) -> dict[int, StoredMessage]:
        rows = s.scalars(select(StoredMessage).where(StoredMessage.conversation_id == conversation_id))
        return {m.id: m for m in rows}

    def thread(self, user_id: int, conversation_id: int, upto: int | None = None) -> list[MessageRecord]:
        """The messages of the branch being shown (or the branch ending at ``upto``), oldest first."""
        with self.session() as s:
            conv = self._conversation(s, user_id, conversation_id)
            messages = self._all_messages(s, conv.id)
            node = messages.get(upto if upto is not None else conv.head_id or -1)
            path = []
            while node is not None:
                path.append(MessageRecord.of(node))
                node = messages.get(node.parent_id) if node.parent_id is not None else None
            return path[::-1]

    def add_message(self, user_id: int, conversation_id: int, role: str, content: str, *,
                    parent_id: int | None = -1, status: str = "complete", **fields: object) -> MessageRecord:
        """Append a message under ``parent_id`` (default: the current head) and make it the head."""
        with self.session() as s:
            conv = self._conversation(s, user_id, conversation_id)
            parent = conv.head_id if parent_id == -1 else parent_id
            if parent is not None:
                p = s.get(StoredMessage, parent)
                if p is None or p.conversation_id != conv.id:
                    raise NotFound(f"no message {parent} in conversation {conv.id}")
            msg = StoredMessage(conversation_id=conv.id, parent_id=parent, role=role, content=content,
                                status=status, **fields)
            if status == "complete":
                msg.finished_at = utcnow()
            elif status == "streaming":
                msg.writer, msg.heartbeat_at = WRITER, utcnow()
            s.add(msg)
            s.flush()
            conv.head_id = msg.id
            conv.updated_at = utcnow()
            return MessageRecord.of(msg)

    def save_partial(self, message_id: int, content: str) -> None:
        """Persist the text generated so far, so a crash keeps it."""
        with self.session() as s:
            s.execute(update(StoredMessage).where(StoredMessage.id == message_id)
                      .values(content=content, heartbeat_at=utcnow()))

    def finish_message(self, message_id: int, content: str, *, status: str = "complete", **fields: object) -> None:
        """Record the final text, status and counts of a reply."""
        with self.session() as s:
            s.execute(update(StoredMessage).where(StoredMessage.id == message_id)
                      .values(content=content, status=status, finished_at=utcnow(), **fields))

    def message_ids(self, user_id: int, conversation_id: int) -> list[int]:
        """Every message id of a conversation, on all its branches."""
        with self.session() as s:
            self._conversation(s, user_id, conversation_id)
            return list(s.scalars(select(StoredMessage.id).where(StoredMessage.conversation_id == conversation_id)))

    def get_message(self, user_id: int, message_id: int) -> MessageRecord:
        """One message of one of the user's conversations."""
        with self.session() as s:
            return MessageRecord.of(self._message(s, user_id, message_id)[0])

    def alternatives(self, user_id: int, message_id: int) -> list[MessageRecord]:
        """The message and its siblings (regenerated replies, edited messages), oldest first."""
        with self.session() as s:
            m, _ = self._message(s, user_id, message_id)
            q = select(StoredMessage).where(StoredMessage.conversation_id == m.conversation_id)
            q = q.where(StoredMessage.parent_id.is_(None) if m.parent_id is None else StoredMessage.parent_id == m.parent_id)
            return [MessageRecord.of(x) for x in s.scalars(q.order_by(StoredMessage.id))]

    def switch_to(self, user_id: int, message_id: int) -> None:
        """Show the branch through ``message_id``, down to its most recent leaf."""
        with self.session() as s:
            m, conv = self._message(s, user_id, message_id)
            messages = self._all_messages(s, conv.id)
            node = m
            while True:
                children = [c for c in messages.values() if c.parent_id == node.id]
                if not children:
                    break
                node = max(children, key=lambda c: c.id)
            conv.head_id = node.id

    def delete_turn(self, user_id: int, message_id: int) -> None:
        """Delete a message and everything after it on its branch; the head moves to its parent."""
        with self.session() as s:
            m, conv = self._message(s, user_id, message_id)
            messages = self._all_messages(s, conv.id)
            doomed, frontier = [], [m.id]
            while frontier:
                mid = frontier.pop()
                doomed.append(mid)
                frontier.extend(c.id for c in messages.values() if c.parent_id == mid)
            if conv.head_id in doomed:
                conv.head_id = m.parent_id
            s.execute(delete(StoredMessage).where(StoredMessage.id.in_(doomed)))

    # -- summaries -----------------------------------------------------------------------------

    def add_summary(self, user_id: int, conversation_id: int, upto_message_id: int, text: str) -> None:
        """Record that the messages up to ``upto_message_id`` are folded into ``text``."""
        with self.session() as s:
            self._conversation(s, user_id, conversation_id)
            s.add(Summary(conversation_id=conversation_id, upto_message_id=upto_message_id, text=text))

    def latest_summary(self, user_id: int, conversation_id: int, thread: list[MessageRecord]) -> tuple[str, int]:
        """(summary text, how many leading messages of ``thread`` it covers); ("", 0) when none applies.

        Only a summary of messages on this branch counts: after an edit above the summarized part,
        the old summary no longer describes what the model sees.
        """
        position = {m.id: i for i, m in enumerate(thread)}
        with self.session() as s:
            self._conversation(s, user_id, conversation_id)
            rows = s.scalars(select(Summary).where(Summary.conversation_id == conversation_id)
                             .order_by(Summary.id.desc()))
            for row in rows:
                if row.upto_message_id in position:
                    return row.text, position[row.upto_message_id] + 1
        return "", 0

    # -- moderation ------------------------------------------------------------------------------

    def flagged(self, actions: tuple[str, ...] = ("repaired", "blocked", "supported"), category: str | None = None,
                limit: int = 100, user: str | None = None) -> list[dict]:
        """Replies the safety filter acted on, newest first, across all users (an administrator's view)."""
        q = (select(StoredMessage, Conversation.title, User.name)
             .join(Conversation, Conversation.id == StoredMessage.conversation_id)
             .join(User, User.id == Conversation.user_id)
             .where(StoredMessage.safety_action.in_(actions)))
        if category:
            q = q.where(StoredMessage.safety_category == category)
        if user:
            q = q.where(User.name == user)
        with self.session() as s:
            rows = s.execute(q.order_by(StoredMessage.id.desc()).limit(limit)).all()
            return [{"message_id": m.id, "conversation_id": m.conversation_id, "conversation": title, "user": user,
                     "created_at": m.created_at.isoformat(), "category": m.safety_category, "action": m.safety_action,
                     "reward": m.safety_reward, "reply_class": m.safety_class, "reply": m.content[:200]}
                    for m, title, user in rows]

    def verdict_counts(self, days: int = 30) -> list[tuple[str, str, int]]:
        """(day, action, replies) for every reply the filter judged in the last ``days``, oldest day first."""
        since = utcnow() - timedelta(days=days)
        with self.session() as s:
            rows = s.execute(select(StoredMessage.created_at, StoredMessage.safety_action)
                             .where(StoredMessage.safety_action.is_not(None), StoredMessage.created_at >= since)).all()
        # Grouped here rather than in SQL: SQLite and PostgreSQL spell "the date of" differently.
        counts = Counter((created.date().isoformat(), action) for created, action in rows)
        return [(day, action, n) for (day, action), n in sorted(counts.items())]

    # -- export --------------------------------------------------------------------------------

    def export(self, user_id: int, conversation_id: int, fmt: str = "json", persona_name: str = "Assistant") -> str:
        """The shown branch as JSON or Markdown."""
        conv = self.get_conversation(user_id, conversation_id)
        thread = self.thread(user_id, conversation_id)
        if fmt == "json":
            return json.dumps({
                "id": conv.id, "title": conv.title, "persona_id": conv.persona_id,
                "created_at": conv.created_at.isoformat(),
                "messages": [m.as_dict() for m in thread],
            }, ensure_ascii=False, indent=2)
        if fmt in ("md", "markdown"):
            lines = [f"# {conv.title}", "", f"*{conv.created_at:%Y-%m-%d %H:%M} UTC*", ""]
            for m in thread:
                if m.role == "notice":
                    lines += [f"> {m.content}", ""]
                    continue
                who = {"user": "**You**", "assistant": f"**{persona_name}**"}.get(m.role, f"**{m.role}**")
                note = " *(interrupted)*" if m.status == "interrupted" else ""
                lines += [f"{who}{note}:", "", m.content, ""]
            return "\n".join(lines)
        raise ValueError(f"unknown export format {fmt!r}; choose json or markdown")
