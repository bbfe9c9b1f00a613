"""llama.cpp's CPU kernels chosen at run time (app.core.cpu_backend), and the checks that made us pin the
portable build: the kernels picked for this CPU must neither crash nor compute different logits from
the baseline x86-64 kernels.

Each case runs in a fresh process, since a process loads one CPU backend for good.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import cpu_backend

PROBE = r"""
import json, sys
import numpy as np
from app.core import cpu_backend
from app.core.llama import LlamaCppBackend
variant = cpu_backend.load()
backend = LlamaCppBackend(sys.argv[1], n_ctx=512, n_threads=2)
with backend.borrow() as llm:
    tokens, _ = backend.render([{"role": "user", "content": "Count from 1 to 20, separated by commas."}])
    llm.reset()
    llm.eval(tokens)
    logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    llm.reset()
    text = "".join(t["choices"][0]["text"] for t in llm.create_completion(tokens, max_tokens=60, temperature=0.0, stream=True))
import llama_cpp
print(json.dumps({"variant": variant, "text": text, "top": np.argsort(-logits)[:10].tolist(),
                  "logits": logits[np.argsort(-logits)[:50]].tolist(),
                  "system": llama_cpp.llama_print_system_info().decode()}))
"""


def probe(model_path: Path, variant: str | None) -> dict:
    env = {**os.environ, "KEEPSAKE_CPU_VARIANT": variant or ""}
    done = subprocess.run([sys.executable, "-c", PROBE, str(model_path)], env=env, capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, f"the {variant or 'default'} CPU kernels crashed ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_build_without_variants_loads_nothing() -> None:
    if cpu_backend.variants():
        pytest.skip("this llama.cpp build has CPU variants (see the tests below)")
    assert cpu_backend.load() is None


@pytest.mark.model
def test_the_kernels_chosen_for_this_cpu_count_like_the_baseline(model_path: Path) -> None:
    names = {p.name.removeprefix("libggml-cpu-").removesuffix(".so") for p in cpu_backend.variants()}
    if not names:
        pytest.skip("portable llama.cpp build: a single CPU backend, nothing is chosen at run time")
    best, baseline = probe(model_path, None), probe(model_path, "x64")
    assert best["variant"] in names and baseline["variant"] == "x64"
    assert "AVX2 = 1" not in baseline["system"] and (best["variant"] == "x64" or "AVX2 = 1" in best["system"])
    # Same answer, same ranking of the next token, logits equal up to float reassociation.
    assert best["text"] == baseline["text"] and "1, 2, 3" in best["text"]
    assert best["top"] == baseline["top"]
    assert max(abs(a - b) for a, b in zip(best["logits"], baseline["logits"])) < 0.05


def test_an_unknown_variant_is_refused_in_one_line() -> None:
    if not cpu_backend.variants():
        pytest.skip("portable llama.cpp build: no variants to choose from")
    done = subprocess.run([sys.executable, "-c", "from app.core import cpu_backend; cpu_backend.load()"],
                          env={**os.environ, "KEEPSAKE_CPU_VARIANT": "pentium"}, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode != 0 and "KEEPSAKE_CPU_VARIANT='pentium' is not one of this build's CPU variants" in done.stderr
