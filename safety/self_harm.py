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
Only the trained layers and the unit are shipped (``safety/weights/self_harm.npz``, float16), made by
``python -m safety.train --part self-harm``; the probability is recentred so that 0.5 is the threshold
chosen on validation look-alikes.

``SelfHarmAware`` wraps any judge: where the detector fires, the verdict's request category becomes
self-harm, so the filter answers with its steered supportive retry or the support message with help
lines; it never lowers what the judge said.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError
from app.core.text import sentences
from safety.judges import Judge, Verdict, sigmoid

WEIGHTS = Path(__file__).parent / "weights" / "self_harm.npz"
CATEGORY = "self_harm"
FROZEN = 3  # lower layers of the packaged model kept as they are; the top three are the trained ones
MAX_TOKENS = 128
WINDOW_CHARS = 300  # about the length of the messages it was trained on
DELTA_STEPS = 8  # int8 steps per standard deviation of a row's change from the packaged weights


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


class Reader:
    """The packaged MiniLM split in two: the frozen bottom, and the top layers that training replaces."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from memory.embedder import packaged_model_dir

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = packaged_model_dir()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.bert = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager").eval()
        self.top = self.bert.encoder.layer[FROZEN:]
        self.dim = self.bert.config.hidden_size

    def tokens(self, texts: Sequence[str]) -> dict:
        return self.tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")

    def _mask(self, attention):  # noqa: ANN001, ANN202
        return (1.0 - attention[:, None, None, :].float()) * -1e4

    def bottom(self, batch: dict):  # noqa: ANN201
        """Hidden states after the frozen layers (no gradient: they are never trained)."""
        with self.torch.no_grad():
            h = self.bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
            m = self._mask(batch["attention_mask"])
            for layer in self.bert.encoder.layer[:FROZEN]:
                h = layer(h, m)
        return h

    def pooled(self, h, attention):  # noqa: ANN001, ANN201
        """The top layers over frozen hidden states, mean-pooled over the real tokens."""
        m = self._mask(attention)
        for layer in self.top:
            h = layer(h, m)
        weight = attention[:, :, None].to(h.dtype)
        return (h * weight).sum(1) / weight.sum(1).clamp(min=1.0)


def packed(trained: dict[str, np.ndarray], packaged: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trained top layers as what fine-tuning changed, in int8 with one scale per row: the change is
    small and compresses to about a third of the layers in float16 (3.6 MB against 9.9), and moves the
    detector's logits by about 0.01."""
    out = {}
    for key, value in trained.items():
        change = value.astype(np.float32) - packaged[key]
        spread = change.std(axis=-1, keepdims=True) if change.ndim == 2 else np.array(change.std())
        scale = (spread / DELTA_STEPS + 1e-12).astype(np.float32)
        out[f"delta.{key}"] = np.clip(np.round(change / scale), -127, 127).astype(np.int8)
        out[f"scale.{key}"] = scale
    return out


def unpacked(w, packaged: dict[str, np.ndarray]) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The trained layers back from ``packed`` form (a ``np.load``-ed file)."""
    keys = [k[len("delta."):] for k in w.files if k.startswith("delta.")]
    return {k: packaged[k] + w[f"delta.{k}"].astype(np.float32) * w[f"scale.{k}"] for k in keys}


class SelfHarmDetector:
    """P(self-harm intent) of a message, 0.5 at the trained threshold."""

    CACHE = 64  # the filter judges the same request once per attempt

    def __init__(self, weights: Path = WEIGHTS) -> None:
        if not weights.is_file():
            raise KeepsakeError(f"the self-harm detector's weights are missing ({weights}); "
                                "run python -m safety.train --part self-harm")
        w = np.load(weights, allow_pickle=False)
        self.meta = json.loads(str(w["meta"]))
        self.reader = Reader()
        torch = self.reader.torch
        unfit = KeepsakeError(f"{weights} does not fit the packaged embedding model; "
                              "run python -m safety.train --part self-harm")
        if self.meta.get("frozen_layers") != FROZEN:
            raise unfit
        packaged = {k: v.numpy() for k, v in self.reader.top.state_dict().items()}
        try:
            state = {k: torch.from_numpy(v) for k, v in unpacked(w, packaged).items()}
            missing, unexpected = self.reader.top.load_state_dict(state, strict=False)
        except (KeyError, ValueError, RuntimeError):  # a layer the model lacks, or a tensor of another shape
            raise unfit from None
        if missing or unexpected:
            raise unfit
        self.weight = w["weight"].astype(np.float32)
        self.bias = float(w["bias"])
        self.threshold_logit = float(w["threshold_logit"])
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The unit's raw logit for each text (no windows, no recentring): what training thresholds."""
        reader, out = self.reader, []
        with reader.torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = reader.tokens(texts[start:start + 32])
                out.append(reader.pooled(reader.bottom(batch), batch["attention_mask"]).numpy() @ self.weight + self.bias)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def probability(self, texts: Sequence[str]) -> list[float]:
        with self._lock:  # one forward at a time; torch's CPU threads are shared anyway
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                parts = [(i, w) for i, t in enumerate(missing) for w in windows(t)]
                logit = self.logits([w for _, w in parts])
                best = np.full(len(missing), -np.inf)
                for (i, _), z in zip(parts, logit):
                    best[i] = max(best[i], z)
                for t, p in zip(missing, sigmoid(best - self.threshold_logit)):
                    self._cache[t] = float(p)
            for t in texts:
                self._cache.move_to_end(t)
            out = [self._cache[t] for t in texts]
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return out


def lifted(verdict: Verdict, p: float) -> Verdict:
    """The verdict with self-harm made the request's category: enough probability moved onto it that it
    clears the judge's own threshold and outweighs every other category."""
    share = max(p, verdict.unsafe_threshold)
    prompt = {k: v * (1 - share) for k, v in verdict.prompt.items()}
    prompt[CATEGORY] = prompt.get(CATEGORY, 0.0) + share
    verdict.prompt = prompt
    return verdict


class SelfHarmAware:
    """A judge whose request verdict the self-harm detector can raise, never lower."""

    def __init__(self, judge: Judge, detector: SelfHarmDetector) -> None:
        self.inner = judge
        self.detector = detector
        self.name = judge.name

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        many = getattr(self.inner, "judge_many", None)
        verdicts = many(pairs) if many else [self.inner.judge(p, r) for p, r in pairs]
        out = []
        for verdict, p in zip(verdicts, self.detector.probability([p for p, _ in pairs])):
            verdict.extra["self_harm"] = round(p, 4)
            out.append(lifted(verdict, p) if p >= 0.5 else verdict)
        return out
