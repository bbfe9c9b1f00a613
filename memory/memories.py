"""Long-term memory: what the bot can recall beyond the visible history.

Three kinds go in: ``seed`` (chunks of a persona's letters, shared by every user of the persona),
``turn`` (a finished exchange) and ``summary`` (folded old turns), plus ``note`` for what a user adds
by hand. Rows live in the database with their text, content hash and vector; ``memory.index`` keeps
a FAISS index per scope as a cache. ``search`` returns the best matches above a similarity
threshold, de-duplicated, optionally favouring recent ones, and never what the model already sees.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select

from app.errors import NotFound
from memory.embedder import Embedder
from memory.index import Scope, ScopeIndex
from memory.schema import Memory, utcnow
from memory.store import Store

KINDS = ("seed", "turn", "summary", "note")
DUPLICATE_COSINE = 0.95


def normalise(text: str) -> str:
    """The form used for hashing and duplicate checks: NFKC, collapsed whitespace, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Hit:
    """One recalled memory."""

    id: int
    text: str
    kind: str
    score: float
    created_at: datetime


@dataclass(frozen=True)
class MemoryRecord:
    id: int
    persona_id: int | None
    user_id: int | None
    kind: str
    text: str
    created_at: datetime
    updated_at: datetime


class LongTermMemory:
    """Add, recall, list, edit and delete memories; FAISS indexes kept in ``home/index``."""

    def __init__(self, store: Store, embedder: Embedder, home: Path) -> None:
        self.store = store
        self.embedder = embedder
        self.directory = Path(home) / "index"
        self._indexes: dict[Scope, ScopeIndex] = {}
        self._lock = threading.Lock()

    def index(self, persona_id: int | None, user_id: int | None) -> ScopeIndex:
        scope = Scope(persona_id, user_id)
        with self._lock:
            if scope not in self._indexes:
                self._indexes[scope] = ScopeIndex(self.store, scope, self.embedder, self.directory)
            return self._indexes[scope]

    def flush(self) -> None:
        """Write every changed index to disk (they are also written every few seconds of activity)."""
        for index in list(self._indexes.values()):
            if index.dirty:
                index.save()

    # -- writing ------------------------------------------------------------------------------------

    def add(self, texts: Iterable[str], *, persona_id: int | None, user_id: int | None = None, kind: str = "note",
            source_message_id: int | None = None, embed: bool = True) -> list[int]:
        """Store and index ``texts``; texts already stored in the scope are skipped (their ids returned).

        With ``embed=False`` the rows are stored without vectors and embedded when the scope's index
        is next built: a one-shot command then never waits for the embedding model to load.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown memory kind {kind!r}; choose one of {', '.join(KINDS)}")
        texts = [t.strip() for t in texts if t and t.strip()]
        if not texts:
            return []
        scope = Scope(persona_id, user_id)
        index = self.index(persona_id, user_id) if embed else None  # before inserting: a new index loads current rows
        hashes = [content_hash(t) for t in texts]
        with self.store.session() as s:
            existing = dict(s.execute(select(Memory.content_hash, Memory.id)
                                      .where(scope.where(), Memory.content_hash.in_(set(hashes)))).all())
        fresh: dict[str, str] = {}
        for text, h in zip(texts, hashes):
            if h not in existing and h not in fresh:
                fresh[h] = text
        new_ids: dict[str, int] = {}
        if fresh:
            vectors = self.embedder.embed(list(fresh.values())) if index is not None else [None] * len(fresh)
            with self.store.session() as s:
                rows = [Memory(persona_id=persona_id, user_id=user_id, kind=kind, text=text, content_hash=h,
                               vector=None if vec is None else vec.astype(np.float32).tobytes(),
                               source_message_id=source_message_id)
                        for (h, text), vec in zip(fresh.items(), vectors)]
                s.add_all(rows)
                s.flush()
                new_ids = {row.content_hash: row.id for row in rows}
            if index is not None:
                index.add(list(new_ids.values()), vectors)
        return [existing.get(h) or new_ids[h] for h in hashes]

    def _owned(self, memory_id: int, user_id: int | None) -> Memory:
        with self.store.session() as s:
            row = s.get(Memory, memory_id)
            if row is None or (row.user_id is not None and row.user_id != user_id):
                raise NotFound(f"no memory {memory_id}")
            s.expunge(row)
            return row

    def edit(self, memory_id: int, text: str, *, user_id: int | None) -> None:
        """Replace a memory's text (and vector). Seed memories are shared: anyone may correct them."""
        row = self._owned(memory_id, user_id)
        text = text.strip()
        if not text:
            raise ValueError("a memory cannot be empty; delete it instead")
        vector = self.embedder.embed([text])
        with self.store.session() as s:
            s.execute(Memory.__table__.update().where(Memory.id == memory_id).values(
                text=text, content_hash=content_hash(text), vector=vector[0].tobytes(), updated_at=utcnow()))
        index = self.index(row.persona_id, row.user_id)
        index.remove([memory_id])
        index.add([memory_id], vector)

    def delete(self, memory_id: int, *, user_id: int | None) -> None:
        row = self._owned(memory_id, user_id)
        with self.store.session() as s:
            s.execute(delete(Memory).where(Memory.id == memory_id))
        self.index(row.persona_id, row.user_id).remove([memory_id])

    def delete_scope(self, persona_id: int | None, user_id: int | None = None) -> int:
        """Forget everything in one scope; returns how many memories went."""
        scope = Scope(persona_id, user_id)
        with self.store.session() as s:
            count = s.execute(delete(Memory).where(scope.where())).rowcount or 0
        self.index(persona_id, user_id).rebuild()
        return count

    def rebuild_index(self, persona_id: int | None, user_id: int | None = None) -> None:
        self.index(persona_id, user_id).rebuild()

    # -- reading ------------------------------------------------------------------------------------

    def count(self, persona_id: int | None, user_id: int | None = None) -> int:
        """How many memories a search for this user and persona would look through."""
        scopes = [Scope(persona_id, None)] + ([Scope(persona_id, user_id)] if user_id is not None else [])
        with self.store.session() as s:
            return sum(s.scalar(select(func.count(Memory.id)).where(sc.where())) or 0 for sc in scopes)

    def list(self, persona_id: int | None, user_id: int | None = None, kind: str | None = None,
             limit: int = 50, offset: int = 0, query: str | None = None) -> list[MemoryRecord]:
        """Memories a user can see for a persona (shared seed ones and their own), newest first.

        ``query`` filters by a case-insensitive substring (for a search box); ``search`` is the
        semantic look-up.
        """
        p = Memory.persona_id.is_(None) if persona_id is None else Memory.persona_id == persona_id
        u = Memory.user_id.is_(None) if user_id is None else (Memory.user_id == user_id) | Memory.user_id.is_(None)
        q = select(Memory).where(p, u)
        if kind:
            q = q.where(Memory.kind == kind)
        if query:
            q = q.where(Memory.text.ilike(f"%{query}%"))
        with self.store.session() as s:
            rows = s.scalars(q.order_by(Memory.created_at.desc(), Memory.id.desc()).limit(limit).offset(offset))
            return [MemoryRecord(r.id, r.persona_id, r.user_id, r.kind, r.text, r.created_at, r.updated_at) for r in rows]

    def search(self, query: str, *, persona_id: int | None, user_id: int | None = None, k: int = 5,
               min_score: float = 0.3, exclude_texts: Sequence[str] = (), exclude_message_ids: Sequence[int] = (),
               recency_half_life_days: float | None = None) -> list[Hit]:
        """The ``k`` memories most similar to ``query`` in the persona's shared scope and the user's own.

        Similarity below ``min_score`` is never returned. With ``recency_half_life_days`` a memory's
        score is multiplied by 0.5 per half-life of age, so recent ones win ties. Near-duplicates
        (cosine > 0.95 to a better hit, or the same normalised text) and anything in
        ``exclude_texts`` / from ``exclude_message_ids`` (the visible history) are left out.
        """
        if k <= 0 or not query.strip():
            return []
        qv = self.embedder.embed([query])[0]
        indexes = [self.index(persona_id, None)] + ([self.index(persona_id, user_id)] if user_id is not None else [])
        fetch = k * 4 + len(exclude_texts) + len(exclude_message_ids)
        candidates: dict[int, tuple[float, ScopeIndex]] = {}
        for index in indexes:
            for mid, score in index.search(qv, fetch):
                if score >= min_score:
                    candidates[mid] = (score, index)
        if not candidates:
            return []
        with self.store.session() as s:
            rows = {r.id: (r.text, r.kind, r.created_at, r.source_message_id)
                    for r in s.execute(select(Memory.id, Memory.text, Memory.kind, Memory.created_at,
                                              Memory.source_message_id).where(Memory.id.in_(candidates)))}
        hidden = {normalise(t) for t in exclude_texts}
        hidden_ids = set(exclude_message_ids)
        now = utcnow()
        ranked = []
        for mid, (score, index) in candidates.items():
            if mid not in rows:
                continue  # deleted by another process since the index was built
            text, kind, created, source = rows[mid]
            if source in hidden_ids or normalise(text) in hidden:
                continue
            weighted = score
            if recency_half_life_days:
                age_days = max((now - created).total_seconds(), 0) / 86400
                weighted = score * 0.5 ** (age_days / recency_half_life_days)
            ranked.append((weighted, mid, text, kind, created, index))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        hits: list[Hit] = []
        kept_vectors: list[np.ndarray] = []
        seen: set[str] = set()
        for weighted, mid, text, kind, created, index in ranked:
            vec = index.vector(mid)
            if normalise(text) in seen or any(float(vec @ v) > DUPLICATE_COSINE for v in kept_vectors):
                continue
            seen.add(normalise(text))
            kept_vectors.append(vec)
            hits.append(Hit(mid, text, kind, round(weighted, 4), created))
            if len(hits) == k:
                break
        return hits
