"""A FAISS index per memory scope: a cache of the vectors stored in the database.

A scope is (persona, user): a persona's seed memories live in (persona, None) and are shared by
every user of that persona; a user's turns, summaries and notes live in (persona, user). The
database is the source of truth (text, hash and vector per row); an index is rebuilt from those rows
whenever its file is missing, was built by another embedder, or its fingerprint (row count, id sum,
last update) no longer matches the database. Rebuilding reads stored vectors, so nothing is
re-embedded.

Exact search (``IndexFlatIP`` on unit vectors: cosine similarity) is used at every size: at 100k
memories of 384 dimensions one query scans 150 MB in a few milliseconds on two cores, inside the
20 ms budget (see ``python -m app bench``), with none of the recall loss or build time of an
approximate index. Files are written atomically, and lazily (``SAVE_EVERY_S``), since writing a
large index after every chat turn would cost more than the turn.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import func, select, update

from memory.embedder import Embedder
from memory.schema import Memory
from memory.store import Store

SAVE_EVERY_S = 30.0
CHECK_EVERY_S = 2.0


@dataclass(frozen=True)
class Scope:
    persona_id: int | None
    user_id: int | None

    @property
    def filename(self) -> str:
        return f"persona-{self.persona_id if self.persona_id is not None else 'none'}_user-{self.user_id if self.user_id is not None else 'shared'}"

    def where(self):  # type: ignore[no-untyped-def]
        """SQL condition selecting this scope's rows."""
        p = Memory.persona_id.is_(None) if self.persona_id is None else Memory.persona_id == self.persona_id
        u = Memory.user_id.is_(None) if self.user_id is None else Memory.user_id == self.user_id
        return p & u


def fingerprint(store: Store, scope: Scope) -> list:
    """What the index must match: row count, sum of ids and the latest update, as JSON-ready values."""
    with store.session() as s:
        count, total, latest = s.execute(
            select(func.count(Memory.id), func.coalesce(func.sum(Memory.id), 0), func.max(Memory.updated_at))
            .where(scope.where())
        ).one()
    return [int(count), int(total), latest.isoformat() if latest else None]


class ScopeIndex:
    """The vectors of one scope, searchable by inner product, keyed by memory row id."""

    def __init__(self, store: Store, scope: Scope, embedder: Embedder, directory: Path) -> None:
        self.store, self.scope, self.embedder = store, scope, embedder
        self.dim, self.embedder_name = embedder.dim, embedder.name
        self.path = directory / f"{scope.filename}.faiss"
        self.meta_path = directory / f"{scope.filename}.json"
        self.lock = threading.RLock()
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self.fingerprint: list | None = None
        self.checked_at = 0.0
        self.saved_at = time.monotonic()
        self.dirty = False
        self.rebuilt = False  # for tests and logs: did the last check rebuild from the database?
        self._load_or_rebuild()

    # -- consistency ----------------------------------------------------------------------------

    def _load_or_rebuild(self) -> None:
        current = fingerprint(self.store, self.scope)
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta == {"embedder": self.embedder_name, "dim": self.dim, "fingerprint": current}:
                self.index = faiss.read_index(str(self.path))
                self.fingerprint, self.checked_at, self.rebuilt = current, time.monotonic(), False
                return
        except (OSError, ValueError, RuntimeError):
            pass  # missing or unreadable: rebuild below
        self.rebuild(current)

    def rebuild(self, current: list | None = None) -> None:
        """Reload every vector of the scope from the database and save the index.

        Rows stored without a vector (added while the embedder was not loaded) or with a vector of
        another size (another embedder) are embedded now and their vectors written back.
        """
        with self.lock:
            ids, vectors, missing = [], [], []
            with self.store.session() as s:
                for mid, blob, text in s.execute(select(Memory.id, Memory.vector, Memory.text).where(self.scope.where())):
                    if blob is not None and len(blob) == 4 * self.dim:
                        ids.append(mid)
                        vectors.append(np.frombuffer(blob, dtype=np.float32))
                    else:
                        missing.append((mid, text))
            if missing:
                fresh = self.embedder.embed([text for _, text in missing])
                with self.store.session() as s:
                    for (mid, _), vec in zip(missing, fresh):
                        s.execute(update(Memory).where(Memory.id == mid).values(vector=vec.tobytes()))
                        ids.append(mid)
                        vectors.append(vec)
                current = None  # the write-back moved updated_at: read the fingerprint again
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            if ids:
                index.add_with_ids(np.vstack(vectors), np.asarray(ids, dtype=np.int64))
            self.index = index
            self.fingerprint = current or fingerprint(self.store, self.scope)
            self.checked_at, self.rebuilt = time.monotonic(), True
            self.save()

    def ensure_fresh(self) -> None:
        """Rebuild if another process (or a hand edit) changed the rows; checked at most every CHECK_EVERY_S."""
        if time.monotonic() - self.checked_at < CHECK_EVERY_S:
            return
        current = fingerprint(self.store, self.scope)
        with self.lock:
            self.checked_at = time.monotonic()
            if current != self.fingerprint:
                self.rebuild(current)

    def save(self) -> None:
        """Write the index and its sidecar atomically."""
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".faiss.tmp")
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, self.path)
            meta_tmp = self.meta_path.with_suffix(".json.tmp")
            meta_tmp.write_text(json.dumps({"embedder": self.embedder_name, "dim": self.dim,
                                            "fingerprint": self.fingerprint}))
            os.replace(meta_tmp, self.meta_path)
            self.saved_at, self.dirty = time.monotonic(), False

    def _changed(self) -> None:
        self.fingerprint = fingerprint(self.store, self.scope)
        self.checked_at = time.monotonic()
        self.dirty = True
        if time.monotonic() - self.saved_at > SAVE_EVERY_S:
            self.save()

    # -- updates and search -----------------------------------------------------------------------

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        with self.lock:
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self._changed()

    def remove(self, ids: list[int]) -> None:
        with self.lock:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._changed()

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(memory id, cosine similarity) of the k nearest vectors, best first."""
        self.ensure_fresh()
        with self.lock:
            if self.index.ntotal == 0:
                return []
            scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), min(k, self.index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vector(self, memory_id: int) -> np.ndarray:
        with self.lock:
            return self.index.reconstruct(int(memory_id))
