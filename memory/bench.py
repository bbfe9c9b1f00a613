"""Retrieval latency at 10k and 100k memories: the index alone, and the whole ``search`` path.

The whole path is what a chat turn pays: the FAISS scan of both scopes, reading the candidate rows
from SQLite, exclusions and duplicate checks. The query vector comes from a stand-in embedder that
returns random unit vectors, so the figure is about the store and the index; embedding the query
with all-MiniLM-L6-v2 is measured on its own and added in the table.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384


class RandomEmbedder:
    """Random unit vectors of the real model's size: fast, and enough to exercise the index."""

    name = "bench:random"
    dim = DIM

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def _fill(store, n: int, embedder: RandomEmbedder) -> None:  # noqa: ANN001
    """Insert n memories straight into the table (the add() path embeds, which is not measured here)."""
    from memory.memories import content_hash
    from memory.schema import Memory, utcnow

    now = utcnow()
    batch = 10_000
    with store.engine.begin() as conn:
        for start in range(0, n, batch):
            vectors = embedder.embed(["x"] * min(batch, n - start))
            conn.execute(Memory.__table__.insert(), [
                {"persona_id": None, "user_id": None, "kind": "seed", "text": f"memory number {start + i}",
                 "content_hash": content_hash(f"memory number {start + i}"), "vector": vec.tobytes(),
                 "created_at": now, "updated_at": now}
                for i, vec in enumerate(vectors)
            ])


def bench_retrieval(sizes: tuple[int, ...] = (10_000, 100_000), queries: int = 200, k: int = 4) -> list[dict]:
    """p50/p95 in milliseconds per size, for the index scan and the whole search path."""
    from memory.memories import LongTermMemory
    from memory.store import Store

    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            embedder = RandomEmbedder(n)
            _fill(store, n, embedder)
            memory = LongTermMemory(store, embedder, Path(tmp))
            uid = store.user_id("bench")
            index = memory.index(None, None)
            memory.search("warm-up", persona_id=None, user_id=uid, k=k)
            qs = embedder.embed(["q"] * queries)
            scan, full = [], []
            for q in qs:
                t = time.perf_counter()
                index.index.search(q.reshape(1, -1), k * 4)
                scan.append(time.perf_counter() - t)
            for _ in range(queries):
                t = time.perf_counter()
                memory.search("a question", persona_id=None, user_id=uid, k=k, min_score=-1.0)
                full.append(time.perf_counter() - t)
            store.close()
        s50, s95 = _percentiles(scan)
        f50, f95 = _percentiles(full)
        results.append({"size": n, "scan_p50_ms": s50, "scan_p95_ms": s95, "p50_ms": f50, "p95_ms": f95})
    return results


def bench_query_embedding(queries: int = 50) -> tuple[float, float]:
    """p50/p95 ms to embed one short query with the packaged all-MiniLM-L6-v2."""
    from memory.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm-up"])
    samples = []
    for i in range(queries):
        t = time.perf_counter()
        embedder.embed([f"What did you do on the farm in the summer of {1950 + i}?"])
        samples.append(time.perf_counter() - t)
    return _percentiles(samples)


if __name__ == "__main__":
    for r in bench_retrieval():
        print(f"{r['size']:>7,} memories: index scan p50 {r['scan_p50_ms']:.2f} / p95 {r['scan_p95_ms']:.2f} ms; "
              f"whole search p50 {r['p50_ms']:.2f} / p95 {r['p95_ms']:.2f} ms")
    e50, e95 = bench_query_embedding()
    print(f"query embedding (all-MiniLM-L6-v2): p50 {e50:.2f} / p95 {e95:.2f} ms")
