"""The benchmark command's smoke run: CI checks that it runs and reports every figure, not the targets."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str, timeout: int = 600) -> dict:
    result = subprocess.run([sys.executable, "-m", "app", "bench", "--quick", "--json", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.model
def test_quick_benchmark_reports_every_figure() -> None:
    """Every section but the two slow ones, which have their own tests: the fidelity section below, the companion
    suite through ``python -m safety eval`` (tests/test_companion.py)."""
    figures = bench("--skip", "fidelity", "--skip", "companion")
    assert "fidelity" not in figures and "companion" not in figures
    assert figures["machine"]["cores"] >= 1 and figures["machine"]["llama_cpp_python"]
    decode = figures["decode"]
    assert all(decode[mode]["tok_s"] > 0 and decode[mode]["tokens"] > 1 for mode in ("bare", "off", "on"))
    # The figures depend on the machine's load, so no target is checked; each ratio must follow from its medians.
    assert decode["ratio_off"] == pytest.approx(decode["off"]["tok_s"] / decode["bare"]["tok_s"])
    assert decode["filter_share"] == pytest.approx(max(0.0, 1 - decode["off"]["turn_s"] / decode["on"]["turn_s"]))
    assert figures["ttft"]["warm"] and figures["retrieval"][0]["p95_ms"] > 0
    assert figures["persona_create"]["chunks"] > 0
    assert 0 < figures["cold_start"]["ready_s"] < 300 and figures["cold_start"]["peak_rss_mb"] > 50
    tune = figures["finetune"]
    assert tune["train_tokens_per_s"] > 0 and tune["steps"] >= 1 and tune["decode_tok_s_adapter"] > 0
    assert tune["perplexity_after"] < tune["perplexity_before"]


@pytest.mark.model
@pytest.mark.timeout(1500)
def test_quick_fidelity_section() -> None:
    """Sounding like the person: measured when ../shared has the letters, a plain note when it has not.
    (One writer, one question, a 15-second fine-tune; the classifier still knows all eight writers.)"""
    fidelity = bench("--fidelity", timeout=1400)
    if "absent" in fidelity:
        assert "letters" in fidelity["absent"]
        return
    assert 0.5 < fidelity["classifier_heldout_mean"] <= 1 and list(fidelity["per_writer"]) == ["abigail_adams"]
    for row in fidelity["per_writer"].values():
        assert all(len(row["attributed"][c]) == 1 for c in ("naive", "prompt", "finetuned"))
        assert row["finetune"]["steps"] >= 1
