"""Training the cross-encoder judge (``safety.cross_encoder``): ``python -m safety.train --part cross-encoder``.

Same split as the embedding judges (``safety.data``, near copies of every evaluation text dropped),
larger caps, and our own rows: the exemplars, the companion-voice templates and Davidson tweets as
hateful reply text (the rows are chosen in ``safety.train.cross_encoder_bundle``).

All six MiniLM layers are fine-tuned end to end with four heads, a request batch and a reply batch in
turn: "unsafe request" (loss weighted so that both classes count alike) and which category on the
request alone, "carries disallowed content" and "refuses" on ``[CLS] request [SEP] reply [SEP]``,
each loss only on rows whose source says. The epoch kept is the one that does best on the validation
slice (15%, by template where the source has them), and the request threshold is set there on the safe
look-alikes, as for the embedding judge.

This takes a GPU: about 20 thousand sequences of up to 256 tokens for ``EPOCHS`` epochs are a few minutes
on one, hours on a two-core CPU (``--limit`` trains a tiny judge for the tests on a CPU). A machine
without ``../shared`` trains from a bundle that one with it wrote (``--export-bundle``, then
``--bundle``): the rows, the texts to keep away from, and the held-out evaluation rows, which a run
from a bundle also measures the new judge on.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from safety.cross_encoder import DELTA_STEPS, FROZEN, REQUEST_TOKENS, Encoder
from safety.minilm import Reader, SentenceEmbedder, packed
from safety.policy import CATEGORIES, SAFE

SEED = 13
CAP = 2500  # rows per (source, label) at most: four times the embedding judge's data fits in minutes on a GPU
REPLY_CAP = 1200
EPOCHS = 4
BATCH = 32
LR = 4e-5
LR_HEADS = 1e-3
WARMUP = 0.06  # of the steps, the learning rate rising linearly; then falling linearly to zero


def write_bundle(path: Path, rows: dict) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(rows, f)


def read_bundle(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


class Trainer:
    """The encoder, its heads, and the token ids of every row, on one device."""

    def __init__(self, model_dir: Path | None, device: str) -> None:
        import torch

        if device == "cpu":
            torch.set_num_threads(1)  # two threads on a busy two-core machine spin against each other
        self.reader = Reader(FROZEN, REQUEST_TOKENS, model_dir, device)
        self.encoder = Encoder(self.reader)
        self.embedder = SentenceEmbedder(FROZEN, model_dir, device)
        self.torch = torch
        self.device = device
        self.packaged = self.reader.packaged_top()
        dim = self.reader.dim
        self.labels = list(CATEGORIES)
        self.heads = torch.nn.ModuleDict({"unsafe": torch.nn.Linear(dim, 1), "category": torch.nn.Linear(dim, len(self.labels)),
                                          "disallowed": torch.nn.Linear(dim, 1), "refusal": torch.nn.Linear(dim, 1)}).to(device)

    def embed(self, texts: list[str]) -> np.ndarray:
        """The packaged model's sentence embedding (what memory's embedder computes), whatever training has changed."""
        return self.embedder.embed(texts)

    def pooled(self, items: list):  # noqa: ANN201
        batch = self.encoder.batch(items)
        if self.device.startswith("cuda"):
            with self.torch.autocast("cuda", dtype=self.torch.bfloat16):
                return self.encoder.pooled(batch).float()
        return self.encoder.pooled(batch)

    def logits(self, items: list, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        torch, out = self.torch, {n: [] for n in names}
        with torch.inference_mode():
            for start in range(0, len(items), 128):
                h = self.pooled(items[start:start + 128])
                for n in names:
                    out[n].append(self.heads[n](h).float().cpu().numpy())
        return {n: np.concatenate(v) if v else np.zeros((0, 1)) for n, v in out.items()}


def near_copies(train: np.ndarray, held: np.ndarray, near: float) -> np.ndarray:
    hit = np.zeros(len(train), dtype=bool)
    for start in range(0, len(held), 4096):
        hit |= ((train @ held[start:start + 4096].T) >= near).any(axis=1)
    return hit


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = int((predicted & truth).sum())
    return 2 * tp / max(1, int(predicted.sum() + truth.sum()))


def fit(rows: dict, model_dir: Path | None, device: str, log: Callable[[str], None], *, near: float,
        false_positives: float, lookalike_sources: tuple[str, ...], epochs: int = EPOCHS) -> tuple[dict, dict]:
    """Fine-tune on ``rows`` (a bundle); the weights in ``safety.cross_encoder``'s form, and what was measured.

    Training rows within cosine ``near`` of a held-out text are dropped first; the request threshold
    flags ``false_positives`` of the validation rows from ``lookalike_sources`` that are safe."""
    started = time.time()
    trainer = Trainer(model_dir, device)
    torch = trainer.torch
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    requests, replies = rows["requests"], rows["replies"]
    stats: dict = {"exact_dropped": rows.get("exact_dropped")}
    if rows["held"]:
        held = trainer.embed(rows["held"])
        near_q = near_copies(trainer.embed([r[0] for r in requests]), held, near)
        near_r = near_copies(trainer.embed([r[0] for r in replies]), held, near)
        requests = [r for r, n in zip(requests, near_q) if not n]
        replies = [r for r, n in zip(replies, near_r) if not n]
        stats |= {"request_near_dropped": int(near_q.sum()), "reply_near_dropped": int(near_r.sum())}
        log(f"cross-encoder: {int(near_q.sum())} requests and {int(near_r.sum())} replies within cosine {near} "
            f"of {len(held)} evaluation texts dropped ({time.time() - started:.0f} s)")
    enc = trainer.encoder
    q_items = [enc.request(ids) for ids in enc.ids([r[0] for r in requests])]
    pair_q = enc.ids([r[0] for r in replies])
    pair_r = enc.ids([r[1][:6000] for r in replies])
    r_items = [enc.pair(q, a) for q, a in zip(pair_q, pair_r)]
    unsafe = np.array([r[1] != SAFE for r in requests])
    category = np.array([trainer.labels.index(r[1]) if r[1] in trainer.labels else -1 for r in requests])
    q_val = np.array([bool(r[3]) for r in requests])
    disallowed = np.array([-1 if r[2] is None else int(r[2]) for r in replies])
    refusal = np.array([-1 if r[3] is None else int(r[3]) for r in replies])
    r_val = np.array([bool(r[5]) for r in replies])
    lookalike = np.array([r[2] in lookalike_sources for r in requests]) & ~unsafe
    stats |= {"request_rows": len(requests), "reply_rows": len(replies)}
    log(f"cross-encoder: training on {int((~q_val).sum())} requests and {int((~r_val).sum())} replies, "
        f"validating on {int(q_val.sum())} and {int(r_val.sum())}")

    train_q, train_r = np.flatnonzero(~q_val).tolist(), np.flatnonzero(~r_val).tolist()
    steps = epochs * (-(-len(train_q) // BATCH) + -(-len(train_r) // BATCH))
    params = [{"params": trainer.reader.top.parameters(), "lr": LR}, {"params": trainer.heads.parameters(), "lr": LR_HEADS}]
    optimiser = torch.optim.AdamW(params, weight_decay=0.01)
    warm = max(1, int(WARMUP * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    balance = torch.tensor(float((~unsafe[~q_val]).sum()) / max(1, int(unsafe[~q_val].sum())), device=device)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def validate() -> dict:
        trainer.reader.top.eval()
        vq = np.flatnonzero(q_val).tolist()
        vr = np.flatnonzero(r_val).tolist()
        z = trainer.logits([q_items[i] for i in vq], ("unsafe",))["unsafe"][:, 0]
        safe_look = np.sort(z[lookalike[vq]])
        threshold = float(safe_look[int(np.ceil((1 - false_positives) * len(safe_look))) - 1] + 1e-6) if len(safe_look) else 0.0
        recall = float((z[unsafe[vq]] >= threshold).mean()) if unsafe[vq].any() else 0.0
        zr = trainer.logits([r_items[i] for i in vr], ("disallowed", "refusal"))
        out = {"threshold_logit": threshold, "recall": recall}
        for name, y in (("disallowed", disallowed[vr]), ("refusal", refusal[vr])):
            known = y >= 0
            out[f"{name}_f1"] = _f1(zr[name][known, 0] >= 0, y[known] == 1)
        if (refusal[vr] >= 0).any():
            known = refusal[vr] >= 0
            out["refusal_macro_f1"] = (out["refusal_f1"] + _f1(zr["refusal"][known, 0] < 0, refusal[vr][known] == 0)) / 2
        out["score"] = (out["recall"] + out["disallowed_f1"] + out.get("refusal_macro_f1", out["refusal_f1"])) / 3
        trainer.reader.top.train()
        return out

    best: tuple | None = None
    trainer.reader.top.train()
    for epoch in range(epochs):
        began = time.time()
        order_q = rng.sample(train_q, len(train_q))
        order_r = rng.sample(train_r, len(train_r))
        batches = ([("q", order_q[i:i + BATCH]) for i in range(0, len(order_q), BATCH)]
                   + [("r", order_r[i:i + BATCH]) for i in range(0, len(order_r), BATCH)])
        rng.shuffle(batches)
        total = 0.0
        for kind, idx in batches:
            if kind == "q":
                h = trainer.pooled([q_items[i] for i in idx])
                truth = torch.tensor(unsafe[idx], dtype=torch.float32, device=device)
                loss = bce(trainer.heads["unsafe"](h)[:, 0], truth, pos_weight=balance)
                known = category[idx] >= 0
                if known.any():
                    cat = torch.tensor(category[idx][known], device=device)
                    loss = loss + torch.nn.functional.cross_entropy(trainer.heads["category"](h[torch.tensor(known, device=device)]), cat)
            else:
                h = trainer.pooled([r_items[i] for i in idx])
                loss = h.sum() * 0.0
                for name, y in (("disallowed", disallowed), ("refusal", refusal)):
                    known = y[idx] >= 0
                    if known.any():
                        mask = torch.tensor(known, device=device)
                        truth = torch.tensor(y[idx][known], dtype=torch.float32, device=device)
                        loss = loss + bce(trainer.heads[name](h[mask])[:, 0], truth)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        checked = validate()
        log(f"cross-encoder: epoch {epoch + 1}/{epochs} loss {total / max(1, len(batches)):.4f} ({time.time() - began:.0f} s); "
            "validation " + ", ".join(f"{k} {v:.3f}" for k, v in checked.items()))
        if best is None or checked["score"] > best[0]["score"]:
            state = {k: v.detach().float().cpu().numpy().copy() for k, v in trainer.reader.top.state_dict().items()}
            heads = {k: v.detach().float().cpu().numpy().copy() for k, v in trainer.heads.state_dict().items()}
            best = (checked, epoch + 1, state, heads)
    checked, epoch, state, heads = best
    weights = packed(state, trainer.packaged, steps=DELTA_STEPS)
    for name in ("unsafe", "category", "disallowed", "refusal"):
        weights[f"{name}_w"] = heads[f"{name}.weight"].astype(np.float32)
        weights[f"{name}_b"] = heads[f"{name}.bias"].astype(np.float32)
    weights["category_labels"] = np.array(trainer.labels)
    weights["threshold_logit"] = np.float32(checked["threshold_logit"])
    stats |= {"frozen_layers": FROZEN, "delta_steps": DELTA_STEPS, "epochs": epochs, "epoch_kept": epoch,
              "validation": checked,
              "seconds": round(time.time() - started), "device": device}
    log(f"cross-encoder: kept epoch {epoch} ({time.time() - started:.0f} s in all)")
    return weights, stats
