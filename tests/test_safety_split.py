"""The safety judge's training and evaluation data stay apart, and ``python -m safety.train`` works.

Issue 16: XSTest prompts were in the exemplars, the reply head trained on completions of the very
prompts it was scored on, and do-not-answer was split by even/odd id. These tests hold the split
in ``safety.data`` to its word: by source and template, no shared text, no near copies.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from safety import companion, companion_train, data, exemplars, self_harm_train

from shared_data import needs_data

PROBES = json.loads((Path(__file__).parent / "data" / "safety_probes.json").read_text(encoding="utf-8"))
NEAR = 0.9  # the cosine safety.train uses

# Each text's embedding, kept for the session: the held-out side (every suite and probe file) is the same few thousand
# messages in each check below, and embedding them again each time was most of these tests' minutes.
VECTORS: dict[str, np.ndarray] = {}


def embedded(embedder, texts: list[str]) -> np.ndarray:  # noqa: ANN001
    new = sorted({t for t in texts if t not in VECTORS})
    if new:
        VECTORS.update(zip(new, embedder.embed(new)))
    return np.stack([VECTORS[t] for t in texts])


def exemplar_texts() -> list[str]:
    return [*exemplars.SAFE_PROMPTS, *(t for ts in exemplars.UNSAFE_PROMPTS.values() for t in ts),
            *(p for p, _, _ in exemplars.REPLIES), *(r for _, r, _ in exemplars.REPLIES)]


def probe_texts() -> list[str]:
    return [*(p["text"] for p in PROBES["requests"]), *(p["prompt"] for p in PROBES["replies"])]


def test_normalise_ignores_case_and_punctuation_only() -> None:
    assert data.normalise("How can I kill a Python process?") == data.normalise("how can i KILL a python-process")
    assert data.normalise("How can I kill a Python process?") != data.normalise("How can I kill a person?")


def test_probes_are_no_copies_of_the_exemplars(real_embedder) -> None:  # noqa: ANN001
    """Our probe file shares no sentence with our training exemplars, not even reworded (embedding cosine)."""
    probes, ours = probe_texts(), exemplar_texts()
    assert not {data.normalise(t) for t in probes} & {data.normalise(t) for t in ours}
    sims = embedded(real_embedder, probes) @ embedded(real_embedder, ours).T
    worst = np.unravel_index(sims.argmax(), sims.shape)
    assert sims.max() < NEAR, f"probe {probes[worst[0]]!r} is a near copy of exemplar {ours[worst[1]]!r}"


def suite_messages() -> list[str]:
    """Every message of every companion suite, once."""
    return sorted(set().union(*(companion.messages(path) for path in companion.SUITES)))


def assert_apart(embedder, ours: list[str], held: list[str], what: str = "written text") -> None:  # noqa: ANN001
    """No training message of ours is a copy of a held-out one, nor a reworded copy (cosine ``NEAR`` or more)."""
    assert not {data.normalise(t) for t in ours} & {data.normalise(t) for t in held}
    sims = embedded(embedder, ours) @ embedded(embedder, held).T
    worst = np.unravel_index(sims.argmax(), sims.shape)
    assert sims.max() < NEAR, f"{what} {ours[worst[0]]!r} is a near copy of {held[worst[1]]!r}"


def test_companion_templates_are_not_the_companion_suite(real_embedder) -> None:  # noqa: ANN001
    """The companion-voice training text (safety.companion_train) shares no message with the suites that
    measure the filter end to end (the first and the two blind ones), not even reworded, nor with our probes."""
    ours = [*(r.text for r in companion_train.requests()), *(r.reply for r in companion_train.replies())]
    suite = suite_messages()
    assert len(ours) > 100 and len(suite) > 150
    assert_apart(real_embedder, ours, suite + probe_texts(), "template text")


WRITTEN_AFTER = {"Tell me it's okay to kill myself."}


@pytest.mark.parametrize("written", [False, True], ids=["templates", "written"])
def test_self_harm_training_messages_are_not_the_probes_nor_the_suites(real_embedder, written: bool) -> None:  # noqa: ANN001
    """The self-harm detector's training messages (the templates in safety.self_harm_train and the messages written
    for it in safety/written, the optional authors' too) are no copies, not even reworded, of the self-harm probes that
    measure it, the amount and calm probes nor the companion suites."""
    rows = self_harm_train.written(authors=self_harm_train.OPTIONAL) if written else self_harm_train.requests()
    # A template older than the short probes, which one of them repeats ("tell me its okay to kill myself"): the
    # training drops it as a near copy (safety.train), and the shipped detector was trained without it.
    ours = [r.text for r in rows if r.text not in WRITTEN_AFTER]
    assert len(ours) > 300 and {r.label for r in rows} == {"safe", "self_harm"}
    held = suite_messages() + data.self_harm_probes() + data.quantity_probes() + data.calm_probes()
    assert_apart(real_embedder, ours, held, "template text")


def test_companion_templates_label_every_row_and_keep_templates_apart() -> None:
    """Each row names its template, so the validation slice of safety.train holds whole templates out."""
    requests, replies = companion_train.requests(), companion_train.replies()
    assert all(r.group and r.source == companion_train.SOURCE for r in [*requests, *replies])
    assert {r.label for r in requests} >= {"safe", "self_harm", "hate", "privacy", "sexual_minors"}
    assert {(r.disallowed, r.refusal) for r in replies} == {(False, False), (False, True), (True, False)}
    assert not any(r.label == "sexual_minors" for r in requests if r.text in {x.prompt for x in replies if x.disallowed})


@needs_data
def test_exemplars_hold_no_evaluation_text(real_embedder) -> None:  # noqa: ANN001
    """No exemplar is an XSTest prompt or another held-out request, verbatim or as a near copy."""
    held = sorted({r.text for rows in data.eval_requests().values() for r in rows if r.source != "davidson"})
    ours = exemplar_texts()
    assert not {data.normalise(t) for t in ours} & {data.normalise(t) for t in held}
    sims = embedded(real_embedder, ours) @ embedded(real_embedder, held).T
    worst = np.unravel_index(sims.argmax(), sims.shape)
    assert sims.max() < NEAR, f"exemplar {ours[worst[0]]!r} is a near copy of held-out {held[worst[1]]!r}"


@needs_data
def test_train_and_eval_share_no_text_and_no_template() -> None:
    train_requests, eval_requests = data.train_requests(), data.eval_requests()
    train_replies, eval_replies = data.train_replies(), data.eval_replies()
    held = data.eval_texts()
    # Every evaluation set is there and not empty, so the checks below are about something.
    assert all(eval_requests.values()) and all(eval_replies.values())
    # Templates: one side each for do-not-answer's specific harms, GPTFuzz's questions, HarmBench's behaviours.
    for source in ("do-not-answer", "gptfuzz", "harmbench", "harmbench-classifier-val"):
        train_groups = {r.group for r in [*train_requests, *train_replies] if r.source == source}
        eval_groups = {r.group for rows in [*eval_requests.values(), *eval_replies.values()] for r in rows if r.source == source}
        if source != "harmbench-classifier-val":
            assert train_groups and eval_groups
        assert not train_groups & eval_groups, source
    # Whole sources held out: XSTest (prompts and completions), StrongREJECT, the RBR gold set, CoCoNot's contrast set.
    held_sources = {"xstest", "strongreject", "rbr-gold"}
    assert not held_sources & {r.source for r in [*train_requests, *train_replies]}
    contrast = {data.normalise(r.text) for r in eval_requests["coconot_contrast"]}
    assert not contrast & {data.normalise(r.text) for r in train_requests if r.source == "coconot"}
    # Text: within a source the same text never lands on both sides; across sources (AdvBench and HarmBench
    # word some behaviours alike) the near-copy filter of safety.train drops the training copy.
    def texts(rows, source):  # noqa: ANN001, ANN202
        return {data.normalise(getattr(r, "text", None) or r.prompt) for r in rows if r.source == source}

    evaluated = [r for rows in [*eval_requests.values(), *eval_replies.values()] for r in rows]
    for source in {r.source for r in evaluated}:
        assert not texts([*train_requests, *train_replies], source) & texts(evaluated, source), source
    crossing = {data.normalise(r.text) for r in train_requests} & held
    assert len(crossing) < 0.02 * len(train_requests)


@needs_data
def test_rbr_gold_reads_whether_the_completion_refuses_not_what_the_policy_wants() -> None:
    # response_type is the reply the policy wants; the completion is graded against it and often is not that reply.
    lines = (data.data_dir() / "openai-rbr-gold" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    wanted = [json.loads(line)["response_type"] for line in lines if line.strip()]
    refuses = [row[3] for row in data.rbr_gold()]
    assert len(refuses) == len(wanted) == 351
    complied_where_refusal_wanted = sum(w == "Hard Refuse" and not r for w, r in zip(wanted, refuses))
    refused_where_compliance_wanted = sum(w == "Comply" and r for w, r in zip(wanted, refuses))
    assert complied_where_refusal_wanted == 26 and refused_where_compliance_wanted == 109
    assert sum(row[4] for row in data.rbr_gold()) == 17  # completions the annotators found disallowed content in


@needs_data
def test_do_not_answer_is_split_by_template_not_by_id() -> None:
    train = list(data.do_not_answer("train"))
    held = list(data.do_not_answer("eval"))
    assert {r.group for r in train}.isdisjoint({r.group for r in held})
    assert 0.2 < len(held) / (len(train) + len(held)) < 0.5


def test_harm_others_training_messages_are_not_the_probes_nor_the_suites(real_embedder) -> None:  # noqa: ANN001
    """Every written message for the harm-to-others detector (safety/written: authors C, D, J, K, BH and BJ, which it
    trains on, and F, AB, AC and BL, kept out) is no copy, not even reworded, of the companion suites, the blind
    harm-to-others, writing and threat probes or our other probes."""
    from safety.train import HARM_OTHERS_WRITTEN

    rows = [json.loads(line) for line in HARM_OTHERS_WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = [r["text"] for r in rows]
    assert len(ours) > 3000 and {r["label"] for r in rows} == {"safe", "harm_others"}
    held = (suite_messages() + data.harm_others_probes() + data.writing_probes() + data.threat_probes()
            + [r["text"] for r in data.probes()["requests"]])
    assert_apart(real_embedder, ours, held)


def test_dose_training_messages_are_not_the_probes_nor_the_suites(real_embedder) -> None:  # noqa: ANN001
    """The written messages the dose detector trains on (safety/written, authors N, O, Q, X, U and V) are no copies, not
    even reworded, of the dose probes that measure it, the amount and calm probes, the companion suites or our other probes."""
    from safety.train import DOSE_SOURCE, dose_written

    rows = [r for r in dose_written() if r.source == DOSE_SOURCE]
    ours = [r.text for r in rows]
    assert len(ours) > 1500 and {r.label for r in rows} == {"safe", "dangerous_dose"}
    held = [*suite_messages(), *data.dose_probes(), *data.quantity_probes(), *data.calm_probes(),
            *(r["text"] for r in data.probes()["requests"])]
    assert_apart(real_embedder, ours, held)


@pytest.mark.parametrize(("part", "label", "probes"), [("hate", "hate",
                                                        lambda: data.hate_probes() + data.writing_probes()),
                                                       ("minors", "sexual_minors", data.minors_probes)])
def test_written_training_messages_are_not_the_probes_nor_the_suites(real_embedder, part: str, label: str,  # noqa: ANN001
                                                                      probes) -> None:  # noqa: ANN001
    """The written messages the hate and minors detectors train on (safety/written: authors AI, AJ and BH, AY and AZ)
    are no copies, not even reworded, of the probes that measure each, the companion suites or our other probes."""
    from safety import train

    rows = getattr(train, f"{part}_written")()
    assert len(rows) > 1000 and {r.label for r in rows} == {"safe", label}
    held = [*suite_messages(), *probes(), *(r["text"] for r in data.probes()["requests"])]
    assert_apart(real_embedder, [r.text for r in rows], held)


@needs_data
def test_train_command_writes_a_working_judge(tmp_path: Path, real_embedder) -> None:  # noqa: ANN001
    """``python -m safety.train`` on a tiny configuration: weights files the judge and the detectors load and use."""
    from safety.dangerous_dose import DangerousDoseDetector
    from safety.dangerous_dose import detector as shipped_dose
    from safety.harm_others import HarmOthersDetector
    from safety.harm_others import detector as shipped_harm_others
    from safety.hate import HateDetector
    from safety.hate import detector as shipped_hate
    from safety.judges import EmbeddingJudge
    from safety.minors import MinorsDetector
    from safety.self_harm import SelfHarmDetector
    from safety.self_harm import detector as shipped_self_harm

    out, self_harm, harm_others = tmp_path / "tiny.npz", tmp_path / "tiny_self_harm.npz", tmp_path / "tiny_ho.npz"
    dose, hate, minors = tmp_path / "tiny_dose.npz", tmp_path / "tiny_hate.npz", tmp_path / "tiny_minors.npz"
    result = subprocess.run([sys.executable, "-m", "safety.train", "--limit", "12", "--output", str(out),
                             "--self-harm-output", str(self_harm), "--harm-others-output", str(harm_others),
                             "--dangerous-dose-output", str(dose), "--hate-output", str(hate),
                             "--minors-output", str(minors)],
                            capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"requests: \d+ rows \(\d+ exact", result.stderr) and "wrote" in result.stderr
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["limit"] == 12 and meta["request_rows"] > 50 and meta["reply_rows"] > 50
    judge = EmbeddingJudge(real_embedder, weights=out)
    v = judge.judge("How is your garden this spring?", "The tulips are out and the pear tree is in blossom.")
    assert abs(sum(v.prompt.values()) - 1) < 1e-5 and abs(sum(v.reply.values()) - 1) < 1e-5
    assert re.search(r"self-harm: \d+ rows", result.stderr)
    detector = SelfHarmDetector(weights=self_harm)
    assert detector.meta["limit"] == 12 and detector.meta["positives"] > 5
    assert all(0.0 <= p <= 1.0 for p in detector.probability(["I miss you, Grandad.", "Tell me a story."]))
    runs = shipped_self_harm(self_harm.with_suffix(".json"))  # the eight runs read as one, as the chat path reads them
    assert [m.meta["seed"] for m in runs.members] == [13, 14, 15, 13] * 2
    assert [m.meta["authors"] for m in runs.members] == [[], [], [], ["AM", "AN"], ["AQ", "AR"], ["AQ", "AR"],
                                                         ["AQ", "AR"], ["AM", "AN", "AQ", "AR"]]
    assert all(0.0 <= p <= 1.0 for p in runs.probability(["I miss you, Grandad.", "Tell me a story."]))
    assert re.search(r"harm-others: \d+ rows", result.stderr)
    other = HarmOthersDetector(weights=harm_others)
    assert other.meta["limit"] == 12 and other.meta["positives"] > 5
    assert all(0.0 <= p <= 1.0 for p in other.probability(["I miss you, Grandad.", "Tell me a story."]))
    other_runs = shipped_harm_others(harm_others.with_suffix(".json"))  # without author BJ's rows and with them
    assert [m.meta["with_bj"] for m in other_runs.members] == [False, True]
    assert all(0.0 <= p <= 1.0 for p in other_runs.probability(["I miss you, Grandad.", "Tell me a story."]))
    assert re.search(r"dangerous-dose: \d+ rows", result.stderr)
    doses = DangerousDoseDetector(weights=dose)
    assert doses.meta["limit"] == 12 and doses.meta["positives"] > 5
    assert all(0.0 <= p <= 1.0 for p in doses.probability(["I miss you, Grandad.", "Tell me a story."]))
    dose_runs = shipped_dose(dose.with_suffix(".json"))  # four seeds read as one
    assert [m.meta["seed"] for m in dose_runs.members] == [13, 14, 15, 16]
    assert all(0.0 <= p <= 1.0 for p in dose_runs.probability(["I miss you, Grandad.", "Tell me a story."]))
    assert re.search(r"hate: \d+ rows", result.stderr)
    hateful = HateDetector(weights=hate)
    assert hateful.meta["limit"] == 12 and hateful.meta["positives"] > 0  # 5 of the 48 rows the limit keeps
    assert all(0.0 <= p <= 1.0 for p in hateful.probability(["I miss you, Grandad.", "Tell me a story."]))
    hate_runs = shipped_hate(hate.with_suffix(".json"))  # without author BH's rows and with them, read as one
    assert [m.meta["with_bh"] for m in hate_runs.members] == [False, True]
    assert re.search(r"minors: \d+ rows", result.stderr)
    about_minors = MinorsDetector(weights=minors)
    assert about_minors.meta["limit"] == 12 and about_minors.meta["positives"] > 0
    assert all(0.0 <= p <= 1.0 for p in about_minors.probability(["I miss you, Grandad.", "Tell me a story."]))
    assert not list(tmp_path.glob("*.partial.npz"))
    # Bad input: a clear one-line error, nothing written.
    bad = subprocess.run([sys.executable, "-m", "safety.train", "--limit", "12", "--output", str(tmp_path / "x.npz"),
                          "--self-harm-output", str(tmp_path / "y.npz")],
                         capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1],
                         env={**os.environ, "KEEPSAKE_SAFETY_DATA": str(tmp_path / "nowhere")})
    assert bad.returncode != 0 and bad.stderr.startswith("error: the safety data sets are not at")
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()
