"""Intent in the user's message, read by a small fine-tuned model: the shared machinery of the detectors.

A judge reads a request for its topic; the detectors answer one narrow question each about what the writer
means (``safety.self_harm``: to hurt themselves; ``safety.harm_others``: to hurt, threaten, spy on or cheat
someone else, or to demean a group). Intent is in how the words bear on each other ("I don't want to die, I
just miss you" against "I want to die so I can see you"), which a linear head over a frozen sentence embedding
cannot read. So a detector is the packaged all-MiniLM-L6-v2 (the model memory already ships) with its lower
``FROZEN`` layers as they are and its top layers fine-tuned, mean-pooled into one logistic unit. Only the
trained layers and the unit are shipped (int8 changes, ``safety.minilm.packed``), made by
``python -m safety.train --part <name>``; the probability is recentred so that 0.5 is the threshold chosen
in training.
"""

from __future__ import annotations

import json
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError
from app.core.text import sentences
from safety.judges import Judge, Memo, Verdict, judged, sigmoid
from safety.minilm import Reader, SentenceEmbedder, in_length_order

SEED = 13

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


class IntentDetector:
    """P(intent) of a message, 0.5 at the trained threshold; ``part`` names the ``safety.train`` part that makes it."""

    CACHE = 64  # the filter judges the same request once per attempt

    def __init__(self, weights: Path, part: str) -> None:
        if not weights.is_file():
            raise KeepsakeError(f"the {part} detector's weights are missing ({weights}); "
                                f"run python -m safety.train --part {part}")
        w = np.load(weights, allow_pickle=False)
        self.meta = json.loads(str(w["meta"]))
        self.reader = Reader(FROZEN, MAX_TOKENS)
        unfit = KeepsakeError(f"{weights} does not fit the packaged embedding model; "
                              f"run python -m safety.train --part {part}")
        if self.meta.get("frozen_layers") != FROZEN:
            raise unfit
        self.reader.load_top(w, unfit)
        self.weight = w["weight"].astype(np.float32)
        self.bias = float(w["bias"])
        self.threshold_logit = float(w["threshold_logit"])
        self._read = Memo(self._probabilities, self.CACHE)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The unit's raw logit for each text (no windows, no recentring): what training thresholds."""
        return in_length_order(texts, self._logits)

    def _logits(self, texts: list[str]) -> np.ndarray:
        reader, out = self.reader, []
        with reader.torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = reader.tokens(texts[start:start + 32])
                h = reader.bottom(batch, remember=True)  # the other detector ran it on this request
                out.append(reader.pooled(h, batch["attention_mask"]).numpy() @ self.weight + self.bias)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def recentred(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's logit, the highest of its windows, less the threshold: 0 at the threshold."""
        parts = [(i, w) for i, t in enumerate(texts) for w in windows(t)]
        best = np.full(len(texts), -np.inf)
        for (i, _), z in zip(parts, self.logits([w for _, w in parts])):
            best[i] = max(best[i], z)
        return best - self.threshold_logit

    def _probabilities(self, texts: list[str]) -> list[float]:
        return [float(p) for p in sigmoid(self.recentred(texts))]

    def probability(self, texts: Sequence[str]) -> list[float]:
        return self._read(texts)


class Ensemble:
    """Detectors trained for the same question (other seeds, more rows) read as one: the mean of their recentred
    logits, recentred again at ``threshold``, the mean's own threshold chosen in training. One run of the recipe is a
    draw: three seeds of the same rows found 58, 72 and 103 of the same 160 blind messages said while it happens, and
    the mean of four runs finds as many or more on every blind set as the draw that had shipped (BENCHMARKS.md).
    Runs trained on different rows, where each finds what the other misses, are read by their ``highest`` reading
    instead (``safety.harm_others``)."""

    CACHE = 64
    # Texts read by every member in turn, a chunk at a time: the frozen layers' output of the last eight batches is
    # remembered (``safety.minilm.Packaged``), so the members after the first run only their own layers over a chunk.
    CHUNK = 64

    def __init__(self, members: Sequence[IntentDetector], threshold: float, highest: bool = False) -> None:
        self.members = list(members)
        self.threshold = threshold
        self.combine = np.max if highest else np.mean
        self._read = Memo(self._probabilities, self.CACHE)

    def recentred(self, texts: Sequence[str]) -> np.ndarray:
        return in_length_order(texts, self._recentred)

    def _recentred(self, texts: list[str]) -> np.ndarray:
        chunks = [self.combine([m.recentred(texts[i:i + self.CHUNK]) for m in self.members], axis=0)
                  for i in range(0, len(texts), self.CHUNK)]
        return (np.concatenate(chunks) if chunks else np.zeros(0)) - self.threshold

    def _probabilities(self, texts: list[str]) -> list[float]:
        return [float(p) for p in sigmoid(self.recentred(texts))]

    def probability(self, texts: Sequence[str]) -> list[float]:
        return self._read(texts)


def ensemble(manifest: Path, member: Callable[[Path], IntentDetector], part: str) -> Ensemble:
    """The runs listed in ``manifest`` (``member`` loads one) read as one, 0.5 at the threshold it names for their mean
    (or their highest reading, where it says ``"reading": "highest"``)."""
    try:
        spec = json.loads(manifest.read_text(encoding="utf-8"))
        paths, threshold = [manifest.parent / name for name in spec["members"]], float(spec["threshold"])
        highest = {"mean": False, "highest": True}[spec.get("reading", "mean")]
    except (OSError, ValueError, KeyError, TypeError):
        raise KeepsakeError(f"the {part} detector's list of runs is missing or unreadable ({manifest}); "
                            f"run python -m safety.train --part {part}") from None
    return Ensemble([member(path) for path in paths], threshold, highest)


def threshold_for(z: np.ndarray, truth: np.ndarray, false_positives: float) -> float:
    """The reading that flags ``false_positives`` of the look-alikes (``truth`` false) among ``z``."""
    safe = np.sort(z[~truth])
    return float(safe[int(np.ceil((1 - false_positives) * len(safe))) - 1] + 1e-6) if len(safe) else 0.0


def sentence_embedder() -> SentenceEmbedder:
    """The packaged model's sentence embeddings (the default judge's), split where the detectors are, so that it
    runs only the upper layers over a request they have read (``safety.minilm``)."""
    return SentenceEmbedder(FROZEN)


class Detected(ABC):
    """A judge read beside an intent detector: each verdict keeps the detector's reading under ``key``, and ``act``
    (the subclass's) says what the reading changes."""

    key = ""

    def __init__(self, judge: Judge, detector: IntentDetector | Ensemble) -> None:
        self.inner = judge
        self.detector = detector
        self.name = judge.name

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        verdicts = judged(self.inner, pairs)
        for (prompt, _), verdict, p in zip(pairs, verdicts, self.detector.probability([q for q, _ in pairs])):
            verdict.extra[self.key] = round(p, 4)
            self.act(prompt, verdict, p)
        return verdicts

    @abstractmethod
    def act(self, prompt: str, verdict: Verdict, p: float) -> None:
        """Change ``verdict`` on ``prompt`` (in place) for the detector's reading ``p``."""


EPOCHS = 3  # more fits the templates (loss near 0) and reads unseen wording worse
BATCH = 32
LR_TOP = 5e-5
LR_UNIT = 1e-3


def fit(texts: list[str], y: np.ndarray, val: np.ndarray, calibration: list[tuple[str, bool]],
        false_positives: float, log: Callable[[str], None], name: str = "self-harm",
        balanced: bool = True, seed: int = SEED) -> tuple[dict, dict]:
    """Fine-tune the detector's top layers and unit (``IntentDetector``) on ``texts[~val]``; the threshold is
    the logit that flags ``false_positives`` of the look-alikes in ``calibration`` (message, self-harm).

    The frozen bottom runs once per text and its hidden states are kept, so each epoch runs only the top
    layers forwards and backwards: minutes on one CPU thread. Classes are balanced by weighting the loss, unless
    ``balanced`` is false. ``seed`` draws the unit's start and the batches.
    """
    from safety.minilm import packed

    reader = Reader(FROZEN, MAX_TOKENS)
    torch = reader.torch
    packaged = reader.packaged_top()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    started = time.time()
    states: list = []

    def frozen(more: list[str]) -> list[int]:
        """Run the frozen bottom over ``more`` once, keep each text's hidden states; their indices."""
        first = len(states)
        for start in range(0, len(more), 64):
            batch = reader.tokens(more[start:start + 64])
            h = reader.bottom(batch)
            states.extend(h[k, :int(batch["attention_mask"][k].sum())].clone() for k in range(h.shape[0]))
        return list(range(first, len(states)))

    frozen(texts)
    log(f"{name}: frozen layers over {len(texts)} texts in {time.time() - started:.0f} s")

    def padded(idx: list[int]):  # noqa: ANN202
        n = max(states[i].shape[0] for i in idx)
        h = torch.zeros(len(idx), n, reader.dim)
        attention = torch.zeros(len(idx), n, dtype=torch.long)
        for k, i in enumerate(idx):
            h[k, :states[i].shape[0]] = states[i]
            attention[k, :states[i].shape[0]] = 1
        return h, attention

    unit = torch.nn.Linear(reader.dim, 1)
    reader.top.train()
    optimiser = torch.optim.AdamW([{"params": reader.top.parameters(), "lr": LR_TOP},
                                   {"params": unit.parameters(), "lr": LR_UNIT}], weight_decay=0.01)
    target = torch.tensor(y, dtype=torch.float32)
    train = np.flatnonzero(~val).tolist()
    balance = torch.tensor(float((~y[~val]).sum()) / max(1, int(y[~val].sum())) if balanced else 1.0)
    for epoch in range(EPOCHS):
        rng.shuffle(train)
        total, began = 0.0, time.time()
        for start in range(0, len(train), BATCH):
            idx = train[start:start + BATCH]
            h, attention = padded(idx)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                unit(reader.pooled(h, attention))[:, 0], target[idx], pos_weight=balance)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        log(f"{name}: epoch {epoch + 1}/{EPOCHS} loss {total / len(train):.4f} ({time.time() - began:.0f} s)")
    reader.top.eval()
    def logits(idx: list[int]) -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate([unit(reader.pooled(*padded(idx[i:i + 64])))[:, 0].numpy()
                                   for i in range(0, len(idx), 64)]) if idx else np.zeros(0)

    z = logits(frozen([t for t, _ in calibration]))
    truth = np.array([bool(label) for _, label in calibration])
    threshold = threshold_for(z, truth, false_positives)
    safe = z[~truth]
    checked = logits(np.flatnonzero(val).tolist())
    yv = y[val]
    rate = (lambda hits: float(hits.mean()) if len(hits) else None)
    stats = {"calibration_recall": rate(z[truth] >= threshold), "calibration_lookalikes": int((~truth).sum()),
             "validation_recall": rate(checked[yv] >= threshold), "validation_negatives_flagged":
             rate(checked[~yv] >= threshold), "frozen_layers": FROZEN, "epochs": EPOCHS,
             "seconds": round(time.time() - started), "seed": seed}
    share = (lambda x: "n/a" if x is None else f"{x:.1%}")  # a tiny --limit run may have no validation rows
    log(f"{name}: threshold logit {threshold:.3f} ({false_positives:.0%} of {len(safe)} calibration look-alikes "
        f"flagged, recall {share(stats['calibration_recall'])} on {int(truth.sum())} calibration messages); "
        f"validation: recall {share(stats['validation_recall'])} on {int(yv.sum())}, "
        f"{share(stats['validation_negatives_flagged'])} of {int((~yv).sum())} negatives flagged")
    weights = packed({k: v.detach().numpy() for k, v in reader.top.state_dict().items()}, packaged)
    weights |= {"weight": unit.weight.detach().numpy()[0].astype(np.float32),
                "bias": np.float32(unit.bias.detach().numpy()[0]), "threshold_logit": np.float32(threshold)}
    return weights, stats
