"""Long-term memory: what the bot can recall beyond the visible history.

Three kinds go in: ``seed`` (chunks of a persona's letters, shared by every user of the persona),
``turn`` (a finished exchange) and ``summary`` (folded old turns), plus ``note`` for what a user adds
by hand. Rows live in the database with their text, content hash and vector; ``memory.index`` keeps
a FAISS index per scope as a cache. ``search`` looks through the persona's seed memories and the
asking user's own, never another user's, and returns the best matches above a similarity
threshold, de-duplicated, optionally favouring recent ones, and never what the model already sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, update

from app.core.errors import KeepsakeError, NotFound
from memory.embedder import Embedder
from memory.index import Scope, ScopeIndex
from memory.schema import Memory, Persona, utcnow
from memory.store import Store

KINDS = ("seed", "turn", "summary", "note")
DUPLICATE_COSINE = 0.95  # above this, two memories say the same thing: keep the better-ranked one
FETCH_FACTOR = 4  # candidates read per wanted hit, to leave room for exclusions and duplicates


def normalise(text: str) -> str:
    """The form used for hashing and duplicate checks: NFKC, collapsed whitespace, case-folded.

    >>> normalise("  Ｉ love\\tROSES ")
    'i love roses'
    """
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def content_hash(text: str) -> str:
    """sha256 of the normalised text: equal for texts that differ only in case and spacing."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Hit:
    """One recalled memory; ``score`` is the cosine similarity (times the recency weight, if asked)."""

    id: int
    text: str
    kind: str
    score: float
    created_at: datetime


@dataclass(frozen=True)
class MemoryRecord:
    """A stored memory as a user sees it in a list."""

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
        """The scope's index, loaded (or rebuilt) on first use."""
        scope = Scope(persona_id, user_id)
        with self._lock:
            if scope not in self._indexes:
                self._indexes[scope] = ScopeIndex(self.store, scope, self.embedder, self.directory)
            return self._indexes[scope]

    def flush(self) -> None:
        """Write every changed index to disk (they are also written every SAVE_EVERY_S of activity)."""
        for index in list(self._indexes.values()):
            if index.dirty:
                index.save()

    # -- writing ------------------------------------------------------------------------------------

    def add(self, texts: Iterable[str], *, persona_id: int | None, user_id: int | None = None, kind: str = "note",
            source_message_id: int | None = None, embed: bool = True) -> list[int]:
        """Store and index ``texts``; returns one id per non-blank text, in order.

        A text already stored in the scope (same content hash) is not stored again: its existing id
        is returned. Seed memories belong to the persona (``user_id`` None); the other kinds to one
        user. With ``embed=False`` the rows are stored without vectors and embedded when the scope's
        index is next built, so a one-shot command never waits for the embedding model to load.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown memory kind {kind!r}; choose one of {', '.join(KINDS)}")
        if (kind == "seed") != (user_id is None):
            raise ValueError("seed memories are the persona's (user_id None); turns, summaries and notes a user's")
        texts = [t.strip() for t in texts if t and t.strip()]
        if not texts:
            return []
        scope = Scope(persona_id, user_id)
        hashes = [content_hash(t) for t in texts]
        index = self.index(persona_id, user_id) if embed else None  # before inserting: it loads current rows
        stored = self._stored(scope, hashes)
        fresh: dict[str, str] = {}
        for h, text in zip(hashes, texts):
            if h not in stored:
                fresh.setdefault(h, text)  # the first spelling of a repeated text wins
        vectors = dict(zip(fresh, self.embedder.embed(list(fresh.values())))) if fresh and index is not None else {}
        with index.lock if index is not None else contextlib.nullcontext():
            ids = self._stored(scope, hashes)  # again: another add may have stored some meanwhile
            rows = [Memory(persona_id=persona_id, user_id=user_id, kind=kind, text=text, content_hash=h,
                           vector=vectors[h].tobytes() if vectors else None, source_message_id=source_message_id)
                    for h, text in fresh.items() if h not in ids]
            if rows:
                with self.store.session() as s:
                    s.add_all(rows)
                    s.flush()
                    ids.update((row.content_hash, row.id) for row in rows)
                if index is not None:
                    index.add([row.id for row in rows], np.vstack([vectors[row.content_hash] for row in rows]))
        return [ids[h] for h in hashes]

    def _stored(self, scope: Scope, hashes: list[str]) -> dict[str, int]:
        """content hash -> id of the rows of ``scope`` that already hold one of ``hashes``."""
        with self.store.session() as s:
            return dict(s.execute(select(Memory.content_hash, Memory.id)
                                  .where(scope.where(), Memory.content_hash.in_(set(hashes)))).all())

    def _owned(self, memory_id: int, user_id: int | None) -> Memory:
        """The row, if ``user_id`` may change it: their own memories, and the seed of their personas.

        Seed memories of no persona, or of a persona nobody owns, are shared by everyone.
        """
        with self.store.session() as s:
            row = s.get(Memory, memory_id)
            owner = None
            if row is not None:
                owner = row.user_id
                if owner is None and row.persona_id is not None:
                    owner = s.scalar(select(Persona.user_id).where(Persona.id == row.persona_id))
            if row is None or (owner is not None and owner != user_id):
                raise NotFound(f"no memory {memory_id}")
            s.expunge(row)
            return row

    def edit(self, memory_id: int, text: str, *, user_id: int | None) -> None:
        """Replace a memory's text and vector; another user's memory is reported as not found."""
        row = self._owned(memory_id, user_id)
        text = text.strip()
        if not text:
            raise KeepsakeError("a memory cannot be empty; delete it instead")
        vector = self.embedder.embed([text])
        index = self.index(row.persona_id, row.user_id)
        with index.lock:
            with self.store.session() as s:
                s.execute(update(Memory).where(Memory.id == memory_id).values(
                    text=text, content_hash=content_hash(text), vector=vector[0].tobytes(), updated_at=utcnow()))
            index.remove([memory_id])
            index.add([memory_id], vector)

    def delete(self, memory_id: int, *, user_id: int | None) -> None:
        """Forget one memory; another user's memory is reported as not found."""
        row = self._owned(memory_id, user_id)
        index = self.index(row.persona_id, row.user_id)
        with index.lock:
            with self.store.session() as s:
                s.execute(delete(Memory).where(Memory.id == memory_id))
            index.remove([memory_id])

    def delete_scope(self, persona_id: int | None, user_id: int | None = None) -> int:
        """Forget everything in one scope (a user's memories of a persona, or the persona's seed); returns how many."""
        index = self.index(persona_id, user_id)
        with index.lock:
            with self.store.session() as s:
                count = s.execute(delete(Memory).where(Scope(persona_id, user_id).where())).rowcount or 0
            index.rebuild()
        return count

    def drop_persona(self, persona_id: int) -> None:
        """Forget the cached indexes and index files of a deleted persona (its rows are already gone)."""
        with self._lock:
            for scope in [sc for sc in self._indexes if sc.persona_id == persona_id]:
                del self._indexes[scope]
        for path in self.directory.glob(f"persona-{int(persona_id)}_user-*"):
            path.unlink(missing_ok=True)

    def rebuild_index(self, persona_id: int | None, user_id: int | None = None) -> None:
        """Rebuild the scope's index from the database (after rows were written around this class)."""
        self.index(persona_id, user_id).rebuild()

    # -- reading ------------------------------------------------------------------------------------

    @staticmethod
    def _visible(persona_id: int | None, user_id: int | None):  # type: ignore[no-untyped-def]
        """SQL condition: the persona's seed memories and, with a user, that user's own."""
        p = Memory.persona_id.is_(None) if persona_id is None else Memory.persona_id == persona_id
        u = Memory.user_id.is_(None) if user_id is None else (Memory.user_id == user_id) | Memory.user_id.is_(None)
        return p & u

    def count(self, persona_id: int | None, user_id: int | None = None) -> int:
        """How many memories a search for this user and persona would look through (~100 ms at 100k rows)."""
        with self.store.session() as s:
            return s.scalar(select(func.count(Memory.id)).where(self._visible(persona_id, user_id))) or 0

    def has_any(self, persona_id: int | None, user_id: int | None = None) -> bool:
        """Whether a search for this user and persona has anything to look through; a few ms at any size."""
        with self.store.session() as s:
            return s.scalar(select(Memory.id).where(self._visible(persona_id, user_id)).limit(1)) is not None

    def list(self, persona_id: int | None, user_id: int | None = None, kind: str | None = None,
             limit: int = 50, offset: int = 0, query: str | None = None) -> list[MemoryRecord]:
        """Memories a user can see for a persona (shared seed ones and their own), newest first.

        ``query`` filters by a case-insensitive substring (for a search box); ``search`` is the
        semantic look-up.
        """
        q = select(Memory).where(self._visible(persona_id, user_id))
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
        """The ``k`` memories most similar to ``query`` among the persona's seed and the user's own.

        Similarity below ``min_score`` is never returned. With ``recency_half_life_days`` a memory's
        score is multiplied by 0.5 per half-life of age, which re-orders the best matches (it does
        not lift a memory below the threshold). Near-duplicates (same normalised text, or cosine
        above DUPLICATE_COSINE to a better hit) and anything in ``exclude_texts`` or from
        ``exclude_message_ids`` (the visible history) are left out.
        """
        if k <= 0 or not query.strip():
            return []
        qv = self.embedder.embed([query])[0]
        indexes = [self.index(persona_id, None)] + ([self.index(persona_id, user_id)] if user_id is not None else [])
        hidden_texts = {normalise(t) for t in exclude_texts}
        hidden_ids = set(exclude_message_ids)
        fetch = FETCH_FACTOR * k + len(hidden_texts) + len(hidden_ids)
        while True:
            candidates: dict[int, tuple[float, ScopeIndex]] = {}
            more = False  # could an index hold further matches above the threshold?
            for index in indexes:
                found = index.search(qv, fetch)
                more = more or (len(found) == fetch and found[-1][1] >= min_score)
                candidates.update((mid, (score, index)) for mid, score in found if score >= min_score)
            hits = self._rank(candidates, k, hidden_texts, hidden_ids, recency_half_life_days)
            if len(hits) == k or not more:
                return hits
            fetch *= 4  # exclusions and duplicates used up the candidates: look further

    def _rank(self, candidates: dict[int, tuple[float, ScopeIndex]], k: int, hidden_texts: set[str],
              hidden_ids: set[int], half_life_days: float | None) -> list[Hit]:
        """The best ``k`` candidates after exclusions, recency weighting and de-duplication."""
        if not candidates:
            return []
        with self.store.session() as s:  # the database, not the index, says what still exists
            rows = {r.id: r for r in s.execute(
                select(Memory.id, Memory.text, Memory.kind, Memory.created_at, Memory.source_message_id)
                .where(Memory.id.in_(candidates)))}
        now = utcnow()
        ranked = []
        for mid, (score, index) in candidates.items():
            row = rows.get(mid)
            if row is None or row.source_message_id in hidden_ids or normalise(row.text) in hidden_texts:
                continue
            if half_life_days:
                age_days = max((now - row.created_at).total_seconds(), 0.0) / 86400
                score *= 0.5 ** (age_days / half_life_days)
            ranked.append((score, row, index))
        ranked.sort(key=lambda r: (-r[0], r[1].id))
        hits: list[Hit] = []
        kept: list[np.ndarray] = []
        seen: set[str] = set()
        for score, row, index in ranked:
            vec = index.vector(row.id)
            if normalise(row.text) in seen or any(float(vec @ v) > DUPLICATE_COSINE for v in kept):
                continue
            seen.add(normalise(row.text))
            kept.append(vec)
            hits.append(Hit(row.id, row.text, row.kind, round(score, 4), row.created_at))
            if len(hits) == k:
                break
        return hits
