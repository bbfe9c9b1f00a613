"""The binding's physical limit: decode tokens/s through the chat path against llama.cpp's own C++
``llama-bench``, built by ``scripts/build-llama-bench`` from the same llama.cpp source and CPU options as
the installed llama-cpp-python.

Both decode the same model with the same threads, after the same number of tokens already in context
(the chat path's prompt: persona, recalled memories, history), flash attention off as in the binding.
``llama-bench`` only decodes; the chat path also samples, detokenizes and streams each token in
Python, stores the reply and remembers the exchange. The ratio is what all of that costs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 0.85


# What the chat path is asked to write when decode speed is measured: a reply that runs to max_tokens.
STORY = "Write a long story about a lighthouse keeper and his dog."


def timed_turn(live, sent: float) -> dict:  # noqa: ANN001
    """Stream a reply: its token count, turn time from ``sent`` (storing and remembering included) and
    decode rate between the first and the last piece."""
    first = last = None
    for _ in live:
        last = time.perf_counter()
        first = first or last
    end = time.perf_counter()
    tokens = live.reply.completion_tokens
    return {"tokens": tokens, "turn_s": end - sent,
            "tok_s": (tokens - 1) / (last - first) if first and last > first and tokens > 1 else 0.0}


def llama_bench() -> Path | None:
    """The llama-bench binary: KEEPSAKE_LLAMA_BENCH, else where scripts/build-llama-bench puts it."""
    path = Path(os.environ.get("KEEPSAKE_LLAMA_BENCH") or Path(sys.prefix) / "llama.cpp-build" / "bin" / "llama-bench")
    return path if path.is_file() and os.access(path, os.X_OK) else None


def native_decode(exe: Path, model: Path, threads: int, n_gen: int, depth: int, repeats: int) -> dict:
    """llama-bench's decode rate (mean and spread of ``repeats`` runs) of ``n_gen`` tokens after ``depth``."""
    out = subprocess.run([str(exe), "-m", str(model), "-t", str(threads), "-p", "0", "-n", str(n_gen),
                          "-d", str(depth), "-r", str(repeats), "-fa", "off", "-o", "json"],
                         capture_output=True, text=True, timeout=1800, check=True).stdout
    row = next(r for r in json.loads(out) if r["n_gen"] == n_gen)
    return {"tok_s": row["avg_ts"], "stdev": row["stddev_ts"], "cpu": row.get("cpu_info", ""),
            "backend": row.get("backends", "")}


def decode_vs_llama_bench(settings, backend, persona, store, memory, repeats: int = 5,  # noqa: ANN001
                          max_tokens: int = 128) -> dict:
    """Chat-path decode tokens/s (filter off) beside llama-bench on the same model, threads and context depth."""
    from app.core.settings import Sampling
    from app.service import ChatService
    from personas.builder import create

    exe = llama_bench()
    if exe is None:
        return {"skipped": "llama-bench is not built: run scripts/build-llama-bench"}
    model = Path(getattr(backend, "path", "") or "")
    service = ChatService(settings.model_copy(update={"safety": False}), backend=backend, store=store, memory=memory)
    runs, depths = [], []
    for repeat in range(repeats + 1):  # the first turn warms caches and indexes; it is not counted
        uid = store.user_id(f"native-{repeat}-{time.monotonic_ns()}")
        live = service.send(uid, STORY, persona_id=create(memory, uid, persona),
                            sampling=Sampling(seed=300 + repeat, max_tokens=max_tokens, temperature=0.7))
        timed = timed_turn(live, time.perf_counter())
        if repeat:
            runs.append(timed)
            depths.append(live.turn.plan.tokens)
    chat = statistics.median(r["tok_s"] for r in runs)
    tokens = int(statistics.median(r["tokens"] for r in runs))
    threads = settings.n_threads or os.cpu_count() or 1
    native = native_decode(exe, model, threads, max(tokens, 2), int(statistics.median(depths)), repeats)
    return {"chat_tok_s": chat, "llama_bench_tok_s": native["tok_s"], "llama_bench_stdev": native["stdev"],
            "ratio": chat / native["tok_s"], "tokens": tokens, "depth": int(statistics.median(depths)),
            "threads": threads, "repeats": repeats, "cpu_variant": _variant(), "llama_bench_cpu": native["cpu"]}


def _variant() -> str:
    from app.core import cpu_backend

    return cpu_backend.load() or "portable build (no variants)"


def render(figure: dict) -> str:
    """One block for ``python -m app bench``'s table."""
    if "skipped" in figure:
        return f"\nDecode vs llama-bench: skipped ({figure['skipped']})"
    met = "met" if figure["ratio"] >= TARGET else "NOT met"
    return (f"\nDecode vs llama-bench (same llama.cpp source, {figure['threads']} threads, {figure['tokens']} tokens "
            f"after {figure['depth']} in context, median of {figure['repeats']}; CPU kernels: {figure['cpu_variant']})\n"
            f"  chat path, filter off {figure['chat_tok_s']:.1f} tokens/s; llama-bench {figure['llama_bench_tok_s']:.1f} "
            f"± {figure['llama_bench_stdev']:.1f}; ratio {figure['ratio']:.3f} (target >= {TARGET}: {met})")
