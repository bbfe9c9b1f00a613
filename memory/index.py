"""A FAISS index per memory scope: a cache of the vectors stored in the database.

A scope is (persona, user): a persona's seed memories live in (persona, None) and are shared by
every user of that persona; a user's turns, summaries and notes live in (persona, user). The
database is the source of truth (text, hash and vector per row). An index is saved as
``<home>/index/<scope>.faiss`` with a JSON sidecar naming the embedder, the size, the row count and
a fingerprint of the rows (count, sum of ids, latest ``updated_at``); it is rebuilt from the rows
when the file is missing, unreadable, made by another embedder or for other rows. Rebuilding reads
the stored vectors, so nothing is re-embedded, except rows stored without a vector and, when a
sample of stored vectors is not what the current embedder makes of their text (the configured
model changed), every row of the scope.

Changes made through this process update the index at once. Changes made behind its back (another
process, a hand edit) are found by comparing the fingerprint with the database, in a background
thread at most every ``CHECK_EVERY_S``: at 100k rows that query takes ~100 ms on SQLite, five times
the search budget, so a search never waits for it and may answer from an index a few seconds old.
Rows deleted meanwhile are harmless: ``LongTermMemory.search`` reads its hits from the database.

Exact search (``IndexFlatIP`` on unit vectors: cosine similarity) is used at every size, with
faiss's OpenMP on one thread. On the 2-core development machine, with other work keeping its load
average at 3 to 5, one query over 100k x 384 took 7-9 ms p50 and 11-13 ms p95 on one thread, but
27-39 ms p50 and 48-60 ms p95 on two: when both cores are busy (llama.cpp generating for another
user, say) OpenMP's threads wait on each other. A whole ``search`` at 100k, rows read and
duplicates checked, stays under 20 ms p95 (``python -m memory.bench``). HNSW would cut the scan
further, at the price of approximate recall, a slow build and costly deletes; flat search already
fits the budget, so it waits until a persona outgrows a few hundred thousand memories.

Files are written atomically and lazily (``SAVE_EVERY_S``, or ``flush()``), since writing a large
index after every chat turn would cost more than the turn; a file left behind by a crash does not
match the database and is rebuilt.

Corners cut: rows do not record which model embedded them, so a model switch is inferred from
three sampled rows; a scope whose rows were embedded by two models is only caught if the sample
hits both. An edit made by another process in the instant between this process writing a row and
reading the new fingerprint goes unnoticed until that scope's next rebuild.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from sqlalchemy import bindparam, func, select

from memory.embedder import Embedder
from memory.schema import Memory
from memory.store import Store

SAVE_EVERY_S = 30.0
CHECK_EVERY_S = 2.0
SEARCH_THREADS = 1
SAME_MODEL_DISTANCE = 0.2  # between unit vectors, cosine >= 0.98: float noise, not another model


@dataclass(frozen=True)
class Scope:
    """Whose memories: a persona's shared seed (user None) or one user's with a persona (or none)."""

    persona_id: int | None
    user_id: int | None

    @property
    def filename(self) -> str:
        persona = "none" if self.persona_id is None else self.persona_id
        user = "shared" if self.user_id is None else self.user_id
        return f"persona-{persona}_user-{user}"

    def where(self) -> Any:
        """SQL condition selecting this scope's rows."""
        p = Memory.persona_id.is_(None) if self.persona_id is None else Memory.persona_id == self.persona_id
        u = Memory.user_id.is_(None) if self.user_id is None else Memory.user_id == self.user_id
        return p & u


def fingerprint(store: Store, scope: Scope) -> list:
    """What the index must match: [row count, sum of ids, latest update], JSON-ready."""
    with store.session() as s:
        count, total, latest = s.execute(
            select(func.count(Memory.id), func.coalesce(func.sum(Memory.id), 0), func.max(Memory.updated_at))
            .where(scope.where())
        ).one()
    return [int(count), int(total), latest.isoformat() if latest else None]


def _empty(dim: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class ScopeIndex:
    """The vectors of one scope, searchable by inner product, keyed by memory row id. Thread-safe.

    Callers that change rows hold ``lock`` across the database write and the matching ``add`` or
    ``remove``, so a concurrent freshness check never sees one without the other.
    """

    def __init__(self, store: Store, scope: Scope, embedder: Embedder, directory: Path) -> None:
        self.store, self.scope, self.embedder = store, scope, embedder
        self.path = Path(directory) / f"{scope.filename}.faiss"
        self.meta_path = self.path.with_suffix(".json")
        self.lock = threading.RLock()
        self.index = _empty(embedder.dim)
        self.fingerprint: list | None = None
        self.generation = 0  # bumped by every change made through this object
        self.checked_at = self.saved_at = time.monotonic()
        self.dirty = False
        self.rebuilt = False  # whether the index was last built from the database rather than its file
        self.check_error: Exception | None = None  # why the last background check failed, if it did
        self._checker: threading.Thread | None = None
        self._open()

    # -- loading, rebuilding, saving -----------------------------------------------------------------

    def _describe(self, fp: list | None, file: os.stat_result | None) -> dict:
        """The sidecar: what the .faiss file holds and which file it is (size and mtime, so a pair
        written by two processes at once does not match)."""
        return {"embedder": self.embedder.name, "dim": self.embedder.dim, "count": fp[0] if fp else 0,
                "fingerprint": fp, "file": [file.st_size, file.st_mtime_ns] if file else None}

    def _open(self) -> None:
        """Load the saved index if it matches the database, else rebuild it from the rows."""
        current = fingerprint(self.store, self.scope)
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta == self._describe(current, self.path.stat()):
                index = faiss.read_index(str(self.path))
                if index.ntotal == current[0] and index.d == self.embedder.dim:
                    self.index, self.fingerprint, self.rebuilt = index, current, False
                    return
        except (OSError, ValueError, RuntimeError):
            pass  # missing, unreadable or truncated: rebuild below
        self.rebuild(current)

    def rebuild(self, current: list | None = None) -> None:
        """Reload every vector of the scope from the database, then save the index.

        Rows without a stored vector (added while the embedder was not loaded) or with one of another
        size are embedded now and their vectors written back; so is every row when a sample shows
        that another model made the stored vectors.
        """
        with self.lock:
            # Read the fingerprint before the rows: a row added in between then shows as a mismatch
            # at the next check instead of going unnoticed.
            current = current or fingerprint(self.store, self.scope)
            with self.store.session() as s:
                rows = s.execute(select(Memory.id, Memory.text, Memory.vector)
                                 .where(self.scope.where()).order_by(Memory.id)).all()
            size = 4 * self.embedder.dim
            stored = [r for r in rows if r.vector is not None and len(r.vector) == size]
            if stored and not self._made_by_this_embedder(stored):
                stored = []
            vectors = {r.id: np.frombuffer(r.vector, dtype=np.float32) for r in stored}
            missing = [r for r in rows if r.id not in vectors]
            if missing:
                fresh = self.embedder.embed([r.text for r in missing])
                vectors.update((r.id, v) for r, v in zip(missing, fresh))
                table = Memory.__table__
                with self.store.session() as s:  # not an edit: updated_at (and so the fingerprint) stays
                    s.execute(table.update().where(table.c.id == bindparam("mid"))
                              .values(vector=bindparam("blob"), updated_at=table.c.updated_at),
                              [{"mid": r.id, "blob": v.tobytes()} for r, v in zip(missing, fresh)])
            index = _empty(self.embedder.dim)
            if rows:
                ids = [r.id for r in rows]
                index.add_with_ids(np.vstack([vectors[i] for i in ids]), np.asarray(ids, dtype=np.int64))
            self.index = index
            self.fingerprint = current
            self.generation += 1
            self.checked_at, self.rebuilt = time.monotonic(), True
            self.save()

    def _made_by_this_embedder(self, rows: list) -> bool:
        """Whether the first, middle and last stored vectors are what this embedder makes of their text."""
        sample = list({id(r): r for r in (rows[0], rows[len(rows) // 2], rows[-1])}.values())
        fresh = self.embedder.embed([r.text for r in sample])
        stored = np.vstack([np.frombuffer(r.vector, dtype=np.float32) for r in sample])
        return float(np.linalg.norm(fresh - stored, axis=1).max()) <= SAME_MODEL_DISTANCE

    def save(self) -> None:
        """Write the index, then its sidecar, each to a temporary file renamed into place."""
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            suffix = f".{os.getpid()}-{threading.get_ident()}.tmp"
            tmp = self.path.with_name(self.path.name + suffix)
            faiss.write_index(self.index, str(tmp))
            written = tmp.stat()  # os.replace keeps size and mtime: the sidecar names this very file
            os.replace(tmp, self.path)
            meta_tmp = self.meta_path.with_name(self.meta_path.name + suffix)
            meta_tmp.write_text(json.dumps(self._describe(self.fingerprint, written)))
            os.replace(meta_tmp, self.meta_path)
            self.saved_at, self.dirty = time.monotonic(), False

    # -- freshness -------------------------------------------------------------------------------------

    def ensure_fresh(self) -> bool:
        """Compare with the database now and rebuild if rows changed behind this index's back.

        Returns whether it rebuilt. A change made through this object while the fingerprint was
        being read makes the comparison moot (the change refreshed the fingerprint), so it is skipped.
        """
        generation = self.generation
        current = fingerprint(self.store, self.scope)
        with self.lock:
            self.checked_at = time.monotonic()
            if generation != self.generation or current == self.fingerprint:
                return False
            self.rebuild(current)
            return True

    def check_soon(self) -> None:
        """Start a background freshness check, unless one ran in the last CHECK_EVERY_S or still runs."""
        with self.lock:
            busy = self._checker is not None and self._checker.is_alive()
            if busy or time.monotonic() - self.checked_at < CHECK_EVERY_S:
                return
            self.checked_at = time.monotonic()
            self._checker = threading.Thread(target=self._check, name=f"keepsake-index-{self.scope.filename}",
                                             daemon=True)
            self._checker.start()

    def _check(self) -> None:
        try:
            self.ensure_fresh()
            self.check_error = None
        except Exception as exc:  # nobody to raise to in this thread; the next check tries again
            self.check_error = exc

    def wait_for_check(self, timeout: float | None = None) -> None:
        """Block until the background check in progress (if any) is done."""
        checker = self._checker
        if checker is not None:
            checker.join(timeout)

    # -- changes and search ----------------------------------------------------------------------------

    def _changed(self) -> None:
        self.fingerprint = fingerprint(self.store, self.scope)
        self.generation += 1
        self.checked_at = time.monotonic()
        self.dirty = True
        if time.monotonic() - self.saved_at > SAVE_EVERY_S:
            self.save()

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        """Index rows just written to the database."""
        with self.lock:
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self._changed()

    def remove(self, ids: list[int]) -> None:
        """Forget rows just deleted (or about to be re-added with a new vector)."""
        with self.lock:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._changed()

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the k nearest vectors, best first."""
        self.check_soon()
        with self.lock:
            if self.index.ntotal == 0 or k <= 0:
                return []
            faiss.omp_set_num_threads(SEARCH_THREADS)  # per calling thread: OpenMP settings are thread-local
            scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, self.index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vector(self, memory_id: int) -> np.ndarray:
        """The indexed vector of one row."""
        with self.lock:
            return self.index.reconstruct(int(memory_id))
