"""``python -m app bench``: side-by-side measurements printed as medians and ratios.

Each figure is measured in this one run against a baseline measured the same way, so the ratios
hold on a noisy machine even when the absolute numbers move. What limits each figure is said next
to it in BENCHMARKS.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from app import bench_native
from app.bench_native import STORY, timed_turn

SCRIPT = [
    "Hello! It's me again. How are you today?",
    "I found your old letters in the attic.",
    "You wrote about the farm and the big storm of 1962.",
    "Do you remember the name of the dog we had?",
    "Mum says you used to sing in the church choir.",
    "What was your favourite hymn?",
    "I planted tomatoes this year, like you taught me.",
    "They are growing well, but the snails are eating the leaves.",
    "How did you keep the snails away?",
    "I also started learning the violin.",
    "It is harder than I thought it would be.",
    "My teacher says I should practise every day.",
    "Did you ever play an instrument?",
    "Grandma's garden still has the roses you planted.",
    "They bloom every June, right on time.",
    "I think about you when I see them.",
    "Next week I am going back to the village.",
    "What should I visit while I am there?",
    "I will bring some roses to the churchyard.",
    "Thank you for listening. I miss you.",
]


def ttft_by_turn(service, turns=(2, 10, 20), repeats: int = 3, max_tokens: int = 32) -> dict:  # noqa: ANN001
    """Median time to first token at the given turns of a scripted conversation, warm cache vs cold.

    The same seeded conversation is played twice per repeat: "warm" is the normal path (llama.cpp
    reuses the KV cache of the previous turn's prompt); "cold" clears the cache before each measured
    turn, which is what every turn would cost without a stable prompt prefix.
    """
    from app.core.settings import Sampling

    llm = getattr(service.backend, "llm", None)
    modes = ("warm", "cold") if llm is not None else ("warm",)
    times: dict[str, dict[int, list[float]]] = {m: {t: [] for t in turns} for m in modes}
    service.warm_up()
    sampling = Sampling(seed=1, max_tokens=max_tokens, temperature=0.7)
    for repeat in range(repeats):
        for mode in modes:
            # A user of its own per run, so that one run's turns are not recalled as memories in the next.
            uid = service.store.user_id(f"bench-{repeat}-{mode}")
            conversation = None
            for n, text in enumerate(SCRIPT[: max(turns)], start=1):
                if mode == "cold" and n in turns:
                    llm.reset()
                start = time.perf_counter()  # from the user's send: planning and recall count too
                live = service.send(uid, text, conversation_id=conversation, sampling=sampling)
                first = None
                for _ in live:
                    first = first or time.perf_counter() - start
                conversation = live.conversation_id
                if n in turns:
                    times[mode][n].append(first or time.perf_counter() - start)
    return {mode: {t: statistics.median(v) for t, v in by_turn.items()} for mode, by_turn in times.items()}


def decode_speed(settings, backend, persona, store, memory, repeats: int = 5, max_tokens: int = 128) -> dict:  # noqa: ANN001
    """Decode tokens/s through the full chat path (persona, memory retrieval; filter off, then on) and
    bare llama.cpp streaming of the very prompt the chat path built, same sampler, seed and threads.

    With one seed per repeat the three runs generate the same tokens, so their turn times compare too:
    the filter's share of a turn is the extra time the filtered turn takes. Each run has a user of its
    own (with its own copy of the ``persona``, a built seed), so no run recalls another's turns.
    """
    from app.core.settings import Sampling
    from app.service import ChatService
    from personas.builder import create

    services = {mode: ChatService(settings.model_copy(update={"safety": mode == "on"}), backend=backend, store=store,
                                  memory=memory) for mode in ("off", "on")}
    for mode, service in services.items():  # first uses load indexes and warm caches: not part of a turn
        warm = store.user_id(f"decode-warm-up-{mode}")
        service.send(warm, STORY, persona_id=create(memory, warm, persona), sampling=Sampling(max_tokens=8)).run()
    runs: dict[str, list[dict]] = {"bare": [], "off": [], "on": []}
    for repeat in range(repeats):
        sampling = Sampling(seed=100 + repeat, max_tokens=max_tokens, temperature=0.7)
        for mode in ("off", "on"):
            uid = store.user_id(f"decode-{repeat}-{mode}")  # nothing recalled from the other runs
            persona_id = create(memory, uid, persona)
            sent = time.perf_counter()  # the turn is timed from the user's send: planning and recall count
            live = services[mode].send(uid, STORY, persona_id=persona_id, sampling=sampling)
            runs[mode].append(timed_turn(live, sent))
            if mode == "off":
                messages = live.turn.plan.messages
        tokens, stop = backend.render(messages)
        with backend.borrow() as llm:
            start, first, count = time.perf_counter(), None, 0
            for _ in llm.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=sampling.temperature,
                                           top_p=sampling.top_p, top_k=sampling.top_k, min_p=sampling.min_p,
                                           repeat_penalty=sampling.repeat_penalty, seed=sampling.seed, stop=stop,
                                           stream=True):
                last = time.perf_counter()
                first = first or last
                count += 1
        runs["bare"].append({"tokens": count, "tok_s": (count - 1) / (last - first) if count > 1 else 0.0,
                             "turn_s": last - start})
    med = {mode: {k: statistics.median(r[k] for r in rs) for k in ("tokens", "tok_s", "turn_s")}
           for mode, rs in runs.items()}
    return {**med, "ratio_off": med["off"]["tok_s"] / med["bare"]["tok_s"],
            "ratio_on": med["on"]["tok_s"] / med["bare"]["tok_s"],
            "filter_share": max(0.0, 1 - med["off"]["turn_s"] / med["on"]["turn_s"]), "repeats": repeats}


def cold_start(repeats: int = 3) -> dict:
    """`python -m app serve` from launch to answering, then one chat through the API: seconds and peak RSS."""
    import socket
    import subprocess
    import sys

    import httpx

    starts, peaks = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as home, socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sock.close()
            env = {**os.environ, "KEEPSAKE_HOME": home}
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                        if models.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None or time.perf_counter() - start > 300:
                        raise RuntimeError("the server did not start")
                    time.sleep(0.05)
                starts.append(time.perf_counter() - start)
                httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=120, json={
                    "model": models.json()["data"][-1]["id"], "max_tokens": 32,
                    "messages": [{"role": "user", "content": "Hello! How are you?"}]}).raise_for_status()
                with open(f"/proc/{proc.pid}/status") as f:
                    peaks.append(next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024)
            finally:
                proc.kill()
                proc.wait()
    return {"ready_s": statistics.median(starts), "peak_rss_mb": statistics.median(peaks), "repeats": repeats}


def synthetic_letters(words: int, seed: int = 0) -> str:
    """About ``words`` words of letter-like text: greetings, plain sentences, sign-offs."""
    import random

    rng = random.Random(seed)
    nouns = "farm dog river garden church winter harvest tractor letter roses school kitchen barn orchard".split()
    verbs = "walked mended planted remembered watched painted carried found visited read".split()
    out, count = [], 0
    while count < words:
        body = " ".join(f"Today I {rng.choice(verbs)} the {rng.choice(nouns)} with {rng.choice(['Tom', 'Elsie', 'Albert'])}."
                        for _ in range(rng.randint(6, 14)))
        letter = f"Dear Annie,\n{body}\nAll my love,\nGrandpa"
        out.append(letter)
        count += len(letter.split())
    return "\n---\n".join(out)


def finetune_figures(quick: bool = False) -> dict:
    """Fine-tuning figures on a generated seed of letters: training speed (and minutes for 20k seed
    tokens), held-out perplexity before and after, and decode speed with the adapter and without.

    ``quick`` trains a few steps and extrapolates the 20k-token time; the full run trains on 20k
    seed tokens for one epoch.
    """
    import tempfile

    from app.core.llama import LlamaCppBackend, backend_for
    from app.core.models import embedded_model_path
    from app.core.settings import Sampling, load_settings
    from memory.embedder import WordLengthEmbedder
    from memory.memories import LongTermMemory
    from memory.store import Store
    from personas import persona as personas
    from personas.builder import build, create
    from personas.finetune import finetune
    from personas.seed import read_seed

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp), n_threads=os.cpu_count())
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        seed = Path(tmp) / "letters.txt"
        seed.write_text(synthetic_letters(1_200 if quick else 15_000), encoding="utf-8")  # ~1.3 tokens a word
        uid = store.user_id()
        pid = create(LongTermMemory(store, WordLengthEmbedder(), settings.home), uid, build([read_seed(seed)]))
        result = finetune(store, settings, uid, pid, epochs=1, max_minutes=2 if quick else 30)
        backend = LlamaCppBackend(embedded_model_path(), n_ctx=1024, n_threads=settings.n_threads)
        adapted = backend_for(backend, personas.get(store, uid, pid))
        messages = [{"role": "user", "content": "Tell me a long story about the farm."}]
        sampling = Sampling(temperature=0.0, max_tokens=32 if quick else 128, seed=1)
        decode = {}
        for label, b in (("base", backend), ("adapter", adapted)):
            for _ in b.stream(messages, sampling.model_copy(update={"max_tokens": 2})):
                pass  # warm: the measured run reuses the prompt
            first, n = None, 0
            for _ in b.stream(messages, sampling):
                first, n = first or time.perf_counter(), n + 1
            decode[label] = (n - 1) / (time.perf_counter() - first) if n > 1 and first else 0.0
        store.close()
    return {"train_tokens_per_s": result.tokens_per_s, "train_tokens": result.train_tokens, "steps": result.steps,
            "minutes_per_20k_tokens": 20_000 / result.tokens_per_s / 60 if result.tokens_per_s else float("inf"),
            "perplexity_before": result.perplexity_before, "perplexity_after": result.perplexity_after,
            "decode_tok_s_base": decode["base"], "decode_tok_s_adapter": decode["adapter"]}


def persona_create_seconds(words: int = 100_000) -> dict:
    """Wall time of `personas create` on a generated seed: reading, profiling, embedding, storing."""
    from app.core.settings import load_settings
    from app.service import ChatService
    from memory.store import Store
    from personas.builder import build, create
    from personas.seed import read_seed

    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp) / "letters.txt"
        seed_file.write_text(synthetic_letters(words), encoding="utf-8")
        service = ChatService(load_settings(home=Path(tmp)), store=Store(f"sqlite:///{Path(tmp) / 'p.db'}"))
        service.memory.embedder.embed(["warm-up"])  # model loading is cold start, measured elsewhere
        start = time.perf_counter()
        built = build([read_seed(seed_file)])
        built_at = time.perf_counter()
        create(service.memory, service.store.user_id(), built)
        end = time.perf_counter()
    return {"words": words, "chunks": len(built.chunks), "build_s": built_at - start, "total_s": end - start}


def companion_suite(quick: bool = False) -> dict:
    """Issue 14's end-to-end figures: a fair sample of the companion-conversation suite through the chat path,
    default model and filter (safe conversations refused or blocked, harmful ones shown the content)."""
    from app.safety_e2e import companion_run

    return {k: v for k, v in companion_run(limit=6 if quick else 40).items() if k != "replies"}


def machine() -> dict:
    import llama_cpp

    info = {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "llama_cpp_python": llama_cpp.__version__}
    try:
        info["llama_cpp_system"] = llama_cpp.llama_print_system_info().decode().strip()
    except Exception:  # informative only
        pass
    return info


def run(quick: bool = False, skip: Sequence[str] = ()) -> dict:
    """All measurements, less the ``skip`` sections ("fidelity", "companion": the slow ones, each with a
    command of its own); ``quick`` shrinks them to a smoke test."""
    from app.core.settings import load_settings
    from app.service import ChatService
    from memory.store import Store
    from personas.builder import build
    from personas.seed import read_seed

    results: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp), n_ctx=4096)
        service = ChatService(settings.model_copy(update={"safety": False}),
                              store=Store(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        turns = (2, 5) if quick else (2, 10, 20)
        results["ttft"] = ttft_by_turn(service, turns=turns, repeats=1 if quick else 3)
        seed_file = Path(tmp) / "letters.txt"
        seed_file.write_text(synthetic_letters(2_000), encoding="utf-8")
        results["decode"] = decode_speed(settings, service.backend, build([read_seed(seed_file)]), service.store,
                                         service.memory,
                                         repeats=2 if quick else 5, max_tokens=48 if quick else 128)
        results["llama_bench"] = bench_native.decode_vs_llama_bench(
            settings, service.backend, build([read_seed(seed_file)]), service.store, service.memory,
            repeats=2 if quick else 5, max_tokens=48 if quick else 128)
    from memory.bench import bench_query_embedding, bench_retrieval

    results["retrieval"] = bench_retrieval(sizes=(10_000,) if quick else (10_000, 100_000), queries=50 if quick else 200)
    results["query_embedding_ms"] = dict(zip(("p50", "p95"), bench_query_embedding(20 if quick else 100)))
    results["persona_create"] = persona_create_seconds(10_000 if quick else 100_000)
    results["cold_start"] = cold_start(1 if quick else 3)

    results["finetune"] = finetune_figures(quick)
    if "fidelity" not in skip:
        results["fidelity"] = fidelity(quick)
    if "companion" not in skip:
        results["companion"] = companion_suite(quick)
    return results


def fidelity(quick: bool = False) -> dict:
    """Sounding like the person (``app.fidelity``): per writer, the share of replies the authorship
    classifier gives to the right writer, for the naive baseline, the prompt alone and after fine-tuning.

    Reads the letters in ../shared; without them the section says so (``absent``) and the rest of the
    bench runs. ``quick`` builds one writer's personas from 20 letters, asks one question, fine-tunes for 15 seconds.
    The full run takes hours on a small CPU: with KEEPSAKE_FIDELITY_JOURNAL set to a file, each writer's
    replies are kept there as they come, and a stopped run started again goes on from there.
    """
    from app import fidelity as harness
    from app.core.errors import KeepsakeError

    try:
        harness.letters_dir()
    except KeepsakeError as exc:
        return {"absent": str(exc)}
    progress = (lambda message: print(f"fidelity: {message}", file=sys.stderr, flush=True))
    if quick:
        return harness.run([harness.QUICK_WRITER], harness.questions("test")[:1], finetune_minutes=0.25,
                           seed_letters=20, progress=progress)
    journal = os.environ.get("KEEPSAKE_FIDELITY_JOURNAL")
    return harness.run(finetune_minutes=harness.FINETUNE_MINUTES, progress=progress,
                       journal=Path(journal) if journal else None)


def render(results: dict) -> str:
    """The results as a plain-text table."""
    m = results["machine"]
    lines = [f"Keepsake benchmark, {results['date']}: {m['cores']} cores, {m['cpu']}, llama-cpp-python {m['llama_cpp_python']}"]
    if m.get("llama_cpp_system"):
        lines.append(f"llama.cpp: {m['llama_cpp_system']}")
    d = results["decode"]
    lines.append(f"\nDecode (median of {d['repeats']}, tokens/s)        tokens/s   tokens   turn s   vs bare")
    for mode, label in (("bare", "bare llama_cpp.Llama streaming"), ("off", "chat path, safety filter off"),
                        ("on", "chat path, safety filter on")):
        ratio = "" if mode == "bare" else f"{d['ratio_' + mode]:.3f}"
        target = "  (target >= 0.97: " + ("met)" if d["ratio_off"] >= 0.97 else "NOT met)") if mode == "off" else ""
        lines.append(f"  {label:<37}{d[mode]['tok_s']:8.1f}   {d[mode]['tokens']:6.0f}   {d[mode]['turn_s']:6.2f}   {ratio}{target}")
    lines.append(f"  safety filter share of a turn: {d['filter_share']:.1%}  (target <= 15%: "
                 + ("met)" if d["filter_share"] <= 0.15 else "NOT met)"))
    lines.append(bench_native.render(results["llama_bench"]) if "llama_bench" in results else "")
    t = {kind: {int(n): v for n, v in row.items()} for kind, row in results["ttft"].items()}  # JSON keys are strings
    turns = sorted(t["warm"])
    lines.append("\nTime to first token (median s)   " + "".join(f"turn {n:<7}" for n in turns) + f"  turn {turns[-1]}/turn {turns[0]}")
    for kind in ("warm", "cold"):
        row = t.get(kind) or {}
        if row:
            ratio = row[turns[-1]] / row[turns[0]]
            lines.append(f"  {kind + (' (KV cache reused)' if kind == 'warm' else ' (cache cleared)'):<31}"
                         + "".join(f"{row[n]:<12.3f}" for n in turns) + f"  {ratio:.2f}  (target <= 1.5)" * (kind == "warm")
                         + (f"  {ratio:.2f}" if kind == "cold" else ""))
    lines.append("\nRetrieval (ms)          index scan p50/p95   whole search p50/p95   target p95 <= 20")
    for r in results["retrieval"]:
        lines.append(f"  {r['size']:>7,} memories     {r['scan_p50_ms']:6.2f} / {r['scan_p95_ms']:6.2f}      "
                     f"{r['p50_ms']:6.2f} / {r['p95_ms']:6.2f}          {'met' if r['p95_ms'] <= 20 else 'NOT met'}")
    e = results["query_embedding_ms"]
    lines.append(f"  query embedding (all-MiniLM-L6-v2), paid once per turn: {e['p50']:.2f} / {e['p95']:.2f}")
    pc = results["persona_create"]
    target = " (target <= 60 s: " + ("met)" if pc["total_s"] <= 60 else "NOT met)") if pc["words"] >= 100_000 else ""
    lines.append(f"\npersonas create on a {pc['words']:,}-word seed: {pc['total_s']:.1f} s "
                 f"(profile {pc['build_s']:.1f} s, embedding and storing {pc['chunks']} chunks the rest){target}")
    f = results["finetune"]
    lines.append(f"\nFine-tuning (LoRA, 1 epoch on {f['train_tokens']:,} seed tokens, {f['steps']} steps): "
                 f"{f['train_tokens_per_s']:.0f} tokens/s, {f['minutes_per_20k_tokens']:.1f} min per 20k seed tokens "
                 f"(target <= 10 min: {'met' if f['minutes_per_20k_tokens'] <= 10 else 'NOT met'})")
    lines.append(f"  held-out perplexity {f['perplexity_before']:.2f} -> {f['perplexity_after']:.2f}; decode "
                 f"{f['decode_tok_s_adapter']:.1f} tokens/s with the adapter vs {f['decode_tok_s_base']:.1f} without "
                 f"({f['decode_tok_s_adapter'] / f['decode_tok_s_base']:.2f})")
    if "fidelity" in results:
        from app.fidelity import render as render_fidelity

        lines.append(render_fidelity(results["fidelity"]))
    c = results["cold_start"]
    lines.append(f"\nCold start of `python -m app serve` to answering (median of {c['repeats']}): {c['ready_s']:.1f} s "
                 f"(target <= 10 s: {'met' if c['ready_s'] <= 10 else 'NOT met'}); peak RSS after one chat "
                 f"{c['peak_rss_mb']:.0f} MB (target <= 1.5 GB: {'met' if c['peak_rss_mb'] <= 1536 else 'NOT met'})")
    if "companion" in results:  # absent from results saved before issue 14
        from safety.companion import render as render_companion

        lines.append("\n" + render_companion(results["companion"]))
    return "\n".join(lines)
