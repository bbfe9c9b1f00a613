"""Retrieval latency at 10k and 100k memories: the index alone, and the whole ``search`` path.

The whole path is what a chat turn pays after embedding its query: the FAISS scan of both scopes
(the persona's seed and the user's own), reading the candidate rows from SQLite, exclusions,
recency and duplicate checks. Vectors come from a stand-in embedder that hashes each text to a
random unit vector of the real model's size, so filling 100k rows takes seconds and the figures are
about the index and the store; embedding the query with all-MiniLM-L6-v2 is measured on its own.

    python -m memory.bench
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIM = 384


class HashEmbedder:
    """A random unit vector per text, the same every time for the same text (as a real model's would be)."""

    name = "bench:hash"

    def __init__(self, dim: int = DIM) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dim, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds of durations in seconds (p95: nearest rank).

    >>> percentiles([0.001] * 19 + [0.1])
    (1.0, 1.0)
    """
    ms = sorted(s * 1000 for s in samples)
    return round(statistics.median(ms), 3), round(ms[max(0, int(np.ceil(0.95 * len(ms))) - 1)], 3)


def fill(store, n: int, embedder: HashEmbedder, batch: int = 10_000) -> None:  # noqa: ANN001
    """Insert ``n`` seed memories of no persona straight into the table, vectors included."""
    from memory.memories import content_hash
    from memory.schema import Memory, utcnow

    now = utcnow()
    with store.engine.begin() as conn:
        for start in range(0, n, batch):
            texts = [f"memory number {i}" for i in range(start, min(start + batch, n))]
            conn.execute(Memory.__table__.insert(), [
                {"persona_id": None, "user_id": None, "kind": "seed", "text": text, "content_hash": content_hash(text),
                 "vector": vec.tobytes(), "created_at": now, "updated_at": now}
                for text, vec in zip(texts, embedder.embed(texts))
            ])


def bench_retrieval(sizes: Sequence[int] = (10_000, 100_000), queries: int = 200, dim: int = DIM,
                    k: int = 5) -> list[dict]:
    """Per size: p50/p95 ms of one index scan for ``k`` (``scan_*``) and of a whole ``search`` (``p50_ms``,
    ``p95_ms``), and the seconds to rebuild the index from the database when its file is missing."""
    from memory.memories import LongTermMemory
    from memory.store import Store

    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            embedder = HashEmbedder(dim)
            fill(store, n, embedder)
            uid = store.user_id("bench")
            memory = LongTermMemory(store, embedder, Path(tmp))
            started = time.perf_counter()
            index = memory.index(None, None)
            rebuild_s = time.perf_counter() - started
            memory.search("warm-up", persona_id=None, user_id=uid, k=k)
            scan, whole = [], []
            for q in embedder.embed([f"scan {i}" for i in range(queries)]):
                t = time.perf_counter()
                index.search(q, k)
                scan.append(time.perf_counter() - t)
            for i in range(queries):
                t = time.perf_counter()
                memory.search(f"question {i}", persona_id=None, user_id=uid, k=k, min_score=-1.0)
                whole.append(time.perf_counter() - t)
            index.wait_for_check()
            store.close()
        s50, s95 = percentiles(scan)
        f50, f95 = percentiles(whole)
        results.append({"size": n, "dim": dim, "k": k, "queries": queries, "scan_p50_ms": s50, "scan_p95_ms": s95,
                        "p50_ms": f50, "p95_ms": f95, "rebuild_s": round(rebuild_s, 2)})
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
    return percentiles(samples)


def main() -> None:
    print(f"{'memories':>9}  {'index scan p50/p95 ms':>22}  {'whole search p50/p95 ms':>24}  {'rebuild s':>9}  target p95 <= 20 ms")
    for r in bench_retrieval():
        verdict = "met" if r["p95_ms"] <= 20 else "NOT met"
        print(f"{r['size']:>9,}  {r['scan_p50_ms']:>10.2f} / {r['scan_p95_ms']:<9.2f}  {r['p50_ms']:>11.2f} / "
              f"{r['p95_ms']:<10.2f}  {r['rebuild_s']:>9.2f}  {verdict}")
    e50, e95 = bench_query_embedding()
    print(f"query embedding (all-MiniLM-L6-v2, paid once per turn): p50 {e50:.2f} / p95 {e95:.2f} ms")


if __name__ == "__main__":
    main()
