"""Self-harm intent in the user's message, read by a small fine-tuned model beside whichever judge filters.

The judges read a request for its topic, and a grandchild who writes "which veins should I cut so I
can be with you?" sounds like grief: the default judge took most of the companion suite's self-harm
requests for safe, and the reply judge cannot help when the 135M model answers them warmly. Missing
one is the worst failure this product can have, so one narrow question gets a model of its own: is
the writer asking how to hurt or kill themselves, saying they mean to, or asking to be encouraged.

Intent is in how the words bear on each other ("I don't want to die, I just miss you" against "I
want to die so I can see you"), which a linear head over a frozen sentence embedding cannot read.
So the detector is the packaged all-MiniLM-L6-v2 (the model memory already ships) with its lower
``FROZEN`` layers as they are and its top layers fine-tuned, mean-pooled into one logistic unit.
Only the trained layers and the unit are shipped (``safety/weights/self_harm.npz``, int8 changes), made by
``python -m safety.train --part self-harm``; the probability is recentred so that 0.5 is the threshold
chosen on the development probes' look-alikes.

``SelfHarmAware`` wraps any judge: where the detector fires, the verdict's request category becomes
self-harm, so the filter answers with its support message (a plain question and the help lines), never
with the model's reply. Where it does not, a self-harm reading of the judge's is set aside (its share goes
to safe, and the request is read by whatever else the judge found): on every held-out set the judge's
self-harm readings added no request the detector missed, and cost the support message on a medication
question ("my antidepressants are making me so tired, gp wants to switch them", "my methadone is going
down again next week": 5 such readings over the five companion suites and both probe files, all safe).
It never lowers any other category.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError
from app.core.text import sentences
from safety.judges import Judge, Memo, Verdict, judged, lifted, sigmoid
from safety.minilm import Reader
from safety.policy import SAFE

WEIGHTS = Path(__file__).parent / "weights" / "self_harm.npz"
CATEGORY = "self_harm"
FROZEN = 3  # lower layers of the packaged model kept as they are; the top three are the trained ones
MAX_TOKENS = 128
WINDOW_CHARS = 300  # about the length of the messages it was trained on


def windows(text: str) -> list[str]:
    """A short message whole; a longer one as runs of whole sentences up to ``WINDOW_CHARS``, each read on its
    own and the highest reading counting: one sentence of intent must not be averaged away by a page of news."""
    text = " ".join(text.split())
    if len(text) <= WINDOW_CHARS:
        return [text]
    out, run = [], ""
    for sentence in sentences(text):
        if run and len(run) + len(sentence) + 1 > WINDOW_CHARS:
            out.append(run)
            run = ""
        run = f"{run} {sentence}".strip()
    return out + [run] if run else out


class SelfHarmDetector:
    """P(self-harm intent) of a message, 0.5 at the trained threshold."""

    CACHE = 64  # the filter judges the same request once per attempt

    def __init__(self, weights: Path = WEIGHTS) -> None:
        if not weights.is_file():
            raise KeepsakeError(f"the self-harm detector's weights are missing ({weights}); "
                                "run python -m safety.train --part self-harm")
        w = np.load(weights, allow_pickle=False)
        self.meta = json.loads(str(w["meta"]))
        self.reader = Reader(FROZEN, MAX_TOKENS)
        unfit = KeepsakeError(f"{weights} does not fit the packaged embedding model; "
                              "run python -m safety.train --part self-harm")
        if self.meta.get("frozen_layers") != FROZEN:
            raise unfit
        self.reader.load_top(w, unfit)
        self.weight = w["weight"].astype(np.float32)
        self.bias = float(w["bias"])
        self.threshold_logit = float(w["threshold_logit"])
        self._read = Memo(self._probabilities, self.CACHE)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The unit's raw logit for each text (no windows, no recentring): what training thresholds."""
        reader, out = self.reader, []
        with reader.torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = reader.tokens(texts[start:start + 32])
                out.append(reader.pooled(reader.bottom(batch), batch["attention_mask"]).numpy() @ self.weight + self.bias)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _probabilities(self, texts: list[str]) -> list[float]:
        parts = [(i, w) for i, t in enumerate(texts) for w in windows(t)]
        best = np.full(len(texts), -np.inf)
        for (i, _), z in zip(parts, self.logits([w for _, w in parts])):
            best[i] = max(best[i], z)
        return [float(p) for p in sigmoid(best - self.threshold_logit)]

    def probability(self, texts: Sequence[str]) -> list[float]:
        return self._read(texts)


class SelfHarmAware:
    """A judge whose self-harm reading is the detector's: raised where it fires, set aside where it does not."""

    def __init__(self, judge: Judge, detector: SelfHarmDetector) -> None:
        self.inner = judge
        self.detector = detector
        self.name = judge.name

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        verdicts = judged(self.inner, pairs)
        out = []
        for verdict, p in zip(verdicts, self.detector.probability([p for p, _ in pairs])):
            verdict.extra["self_harm"] = round(p, 4)
            out.append(lifted(verdict, CATEGORY, p) if p >= 0.5 else set_aside(verdict))
        return out


def set_aside(verdict: Verdict) -> Verdict:
    """The verdict with the judge's own self-harm reading moved onto safe, the judge's reading kept in ``extra``."""
    if verdict.category != CATEGORY:
        return verdict
    judged_p = verdict.prompt[CATEGORY]
    verdict.extra["self_harm_judged"] = round(judged_p, 4)
    verdict.prompt = {**verdict.prompt, CATEGORY: 0.0, SAFE: verdict.prompt.get(SAFE, 0.0) + judged_p}
    return verdict
