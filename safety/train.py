"""Train the shipped safety judge and the intent detectors: ``python -m safety.train`` writes
safety/weights/embedding_judge.npz, self_harm.npz, harm_others.npz, dangerous_dose.npz, hate.npz and minors.npz
(``--part`` picks one).

Reproducible: fixed seeds, data read from ``../shared/data/safety`` by the split in ``safety.data``
plus our own exemplars, deterministic solvers, one torch thread. About 10 minutes of CPU, most of
it embedding (28 minutes of wall time on the shared two-core build machine at a load of 10);
``--cache`` keeps the embeddings between runs (then 2 minutes), ``--limit`` trains a tiny judge
for the tests.

What it fits, on the packaged all-MiniLM-L6-v2 (frozen) and hashed n-grams (see ``safety.features``):

* request: two logistic regressions on [embedding, word and character n-grams], "harmful request"
  (no tweets) and "toxic text" (tweets, chatbot prompts, safe look-alikes); a request is as unsafe
  as the higher says, with the threshold set on the validation look-alikes (4% false positives);
  and a small MLP on the embedding for which category;
* reply: two logistic regressions on [request, opening and end embeddings, request x opening,
  word n-grams of the whole reply]: "carries disallowed content" and "refuses";
* the self-harm detector (``safety.self_harm``): eight runs (``SELF_HARM_MEMBERS``) of the top three MiniLM layers
  fine-tuned with one logistic unit (``safety.intent.fit``) on self-harm intent against its look-alikes, about
  20 minutes each on one thread, and the list of them read as one; each threshold, and the mean's, flags
  ``SELF_HARM_FALSE_POSITIVES`` of the development probes' look-alikes;
* the harm-to-others detector (``safety.harm_others``), the same way on requests for help to harm someone
  else; its threshold flags ``HARM_OTHERS_FALSE_POSITIVES`` of PHTest's and CoCoNot's training-side look-alikes;
* the dose detector (``safety.dangerous_dose``), the same way on requests for a dangerous amount or use of a
  medicine: four runs (``DANGEROUS_DOSE_SEEDS``) read as one, each threshold and the mean's at
  ``DANGEROUS_DOSE_FALSE_POSITIVES`` of the same look-alikes;
* the hate detector (``safety.hate``), the same way on requests for content that demeans a group: two runs
  (``HATE_MEMBERS``) read as one, each threshold and the mean's at ``HATE_FALSE_POSITIVES`` of the same look-alikes;
* the minors detector (``safety.minors``), the same way on requests for sexual content involving a minor or for access
  to a child, its threshold at ``MINORS_FALSE_POSITIVES`` of the same look-alikes.

Each regression's strength is chosen on a validation slice (15% of the training rows, by template
where the source has templates), which never touches the held-out evaluation sets.

Before fitting, every training row whose text (or, for a reply, whose request) is a near copy of an
evaluation text is dropped: the same normalised text, or an embedding cosine of ``NEAR`` or more.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import numpy as np
from scipy import sparse

from app.core.errors import KeepsakeError
from safety import companion, companion_train, cross_train, data, exemplars, features, intent, self_harm_train
from safety.cross_encoder import WEIGHTS as CROSS_ENCODER_WEIGHTS
from safety.dangerous_dose import WEIGHTS as DANGEROUS_DOSE_WEIGHTS
from safety.harm_others import CATEGORIES as HARM_OTHERS
from safety.harm_others import WEIGHTS as HARM_OTHERS_WEIGHTS
from safety.hate import WEIGHTS as HATE_WEIGHTS
from safety.judges import WEIGHTS
from safety.minors import WEIGHTS as MINORS_WEIGHTS
from safety.policy import LABELS, SAFE
from safety.self_harm import WEIGHTS as SELF_HARM_WEIGHTS

SEED = 13
NEAR = 0.9  # embedding cosine at which two texts count as the same request reworded
CAP = 1500  # rows per (source, label) at most, so that 24k tweets do not drown the rest
REPLY_CAP = 600
TWEET_REPLIES = 300  # Davidson tweets per class used as reply text
FALSE_POSITIVES = 0.04  # on the validation slice, leaving room under the 5% target on held-out data
LOOKALIKE_SOURCES = ("phtest", "coconot", "exemplars", companion_train.SOURCE)
TEXT_SOURCES = ("davidson", "toxicchat")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Embeddings:
    """The packaged embedder, one torch thread (two threads spin against each other on a busy two-core
    machine and run 20x slower), with an optional on-disk cache keyed by text."""

    def __init__(self, cache: Path | None) -> None:
        import torch

        from memory.embedder import SentenceTransformerEmbedder

        torch.set_num_threads(1)
        self.embedder = SentenceTransformerEmbedder()
        self.cache_path = cache
        self.vectors: dict[str, np.ndarray] = {}
        if cache and cache.is_file():
            stored = np.load(cache)
            self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"]))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
        for start in range(0, len(missing), 512):
            chunk = missing[start:start + 512]
            for (k, _), v in zip(chunk, self.embedder.embed([t for _, t in chunk])):
                self.vectors[k] = v
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)

    def save(self) -> None:
        if self.cache_path:
            keys = sorted(self.vectors)
            np.savez(self.cache_path, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))


def suite_texts() -> set[str]:
    """Every message of the companion suites: held out whole (their figures are end to end)."""
    return set().union(*(companion.messages(path) for path in companion.SUITES))


def held_list() -> list[str]:
    """Every text that evaluates (the suite included): no training row may be a near copy of one."""
    return sorted({t for rows in data.eval_requests().values() for t in (r.text for r in rows)}
                  | {r.prompt for rows in data.eval_replies().values() for r in rows}
                  | {p for p, _, _ in data.hh_rlhf()}
                  | {r["text"] for r in data.probes()["requests"]} | {r["prompt"] for r in data.probes()["replies"]}
                  | set(data.self_harm_probes()) | set(data.dose_probes()) | set(data.quantity_probes())
                  | set(data.harm_others_probes()) | set(data.calm_probes())
                  | suite_texts())


def held_out(embed: Embeddings, limit: int | None) -> tuple[np.ndarray | None, set[str]]:
    """Embeddings and normalised texts of everything that evaluates (the suite included), for the copy checks."""
    held_texts = data.eval_texts() | {data.normalise(t) for t in suite_texts()}
    if limit:  # a tiny judge is never shipped: the exact-text check is enough for it, and fast
        return None, held_texts
    held = held_list()
    log(f"embedding {len(held)} evaluation texts for the near-copy check")
    held_vectors = embed(held)
    embed.save()
    return held_vectors, held_texts


def capped(rows: list, key, cap: int, rng: random.Random) -> list:  # noqa: ANN001
    groups: dict = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    out = []
    for k in sorted(groups, key=str):
        items = groups[k]
        out += items if len(items) <= cap else rng.sample(items, cap)
    return out


def near_copies(train: np.ndarray, held: np.ndarray) -> np.ndarray:
    """For each training vector, whether some held-out vector is within ``NEAR`` cosine (vectors are unit length)."""
    hit = np.zeros(len(train), dtype=bool)
    for start in range(0, len(held), 4096):
        sims = train @ held[start:start + 4096].T
        hit |= (sims >= NEAR).any(axis=1)
    return hit


TEMPLATED = ("do-not-answer", "harmbench", "advbench", "gptfuzz", "harmbench-classifier-val", companion_train.SOURCE,
             self_harm_train.SOURCE)


def validation(row: data.Request | data.Reply) -> bool:
    """15% of the training rows, by template where the source has templates, else by text, check the fit."""
    key = row.group if row.source in TEMPLATED else data.normalise(getattr(row, "text", "") or row.prompt)
    return data.held_out(f"val:{row.source}:{key}", 0.15)


def fit_logistic(x, y: np.ndarray, fit: np.ndarray, val: np.ndarray, name: str):  # noqa: ANN001, ANN201
    """The logistic regression whose regularisation does best on the validation rows (average precision)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    best = None
    for c in (0.5, 2.0, 8.0):
        head = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=2000,
                                  random_state=SEED).fit(x[fit], y[fit])
        score = average_precision_score(y[val], head.predict_proba(x[val])[:, 1]) if y[val].any() else 0.0
        log(f"{name}: C={c} validation average precision {score:.3f}")
        if best is None or score > best[0]:
            best = (score, head)
    return best[1]


def request_rows(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                 rng: random.Random) -> tuple[list[data.Request], np.ndarray, dict]:
    """The training requests (capped, ours added, copies of evaluation texts dropped) and their embeddings."""
    rows = capped(data.train_requests(), lambda r: (r.source, r.label), limit or CAP, rng)
    ours = [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    ours += [data.Request(t, c, "exemplars", c) for c, texts in exemplars.UNSAFE_PROMPTS.items() for t in texts]
    ours += companion_train.requests()
    rows += ours[::max(1, len(ours) // limit)] if limit else ours
    before = len(rows)
    rows = [r for r in rows if data.normalise(r.text) not in held_texts]
    x = embed([r.text for r in rows])
    dropped_exact = before - len(rows)
    near = near_copies(x, held_vectors) if held_vectors is not None else np.zeros(len(rows), dtype=bool)
    rows, x = [r for r, n in zip(rows, near) if not n], x[~near]
    log(f"requests: {len(rows)} rows ({dropped_exact} exact and {int(near.sum())} near copies of evaluation texts dropped)")
    return rows, x, {"request_rows": len(rows), "request_exact_dropped": dropped_exact,
                     "request_near_dropped": int(near.sum())}


def train_requests(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                   rng: random.Random) -> tuple[dict, dict]:
    rows, x, stats = request_rows(embed, held_vectors, held_texts, limit, rng)
    val = np.array([validation(r) for r in rows])
    y = np.array([r.unsafe for r in rows])
    lex = features.request_lexical([r.text for r in rows])
    full = sparse.hstack([sparse.csr_matrix(x), lex], format="csr")
    # Two heads, so that 2,500 offensive tweets do not teach the request head that harm means swearing:
    # "harm" reads requests (no tweets), "toxic" reads messages (tweets, chatbot prompts, and the safe
    # look-alikes); a request is as unsafe as the higher of the two says.
    source = np.array([r.source for r in rows])
    lookalike = np.isin(source, LOOKALIKE_SOURCES) & ~y
    heads = {}
    for name, member in (("harm", source != "davidson"), ("toxic", np.isin(source, TEXT_SOURCES) | lookalike)):
        heads[name] = fit_logistic(full, y, member & ~val, member & val, f"requests: {name}")
    scores = np.max([h.predict_proba(full[val])[:, 1] for h in heads.values()], axis=0)
    # The threshold is set on safe look-alikes (the population of the false-positive target), not on
    # tweets and chatbot small talk, which are far easier to pass.
    safe_val = np.sort(scores[lookalike[val]])
    threshold = float(safe_val[int(np.ceil((1 - FALSE_POSITIVES) * len(safe_val))) - 1] + 1e-6) if len(safe_val) else 0.5
    recall = float((scores[y[val]] >= threshold).mean()) if y[val].any() else float("nan")
    log("requests: validation recall by source: " + ", ".join(
        f"{s} {(scores[(source[val] == s) & y[val]] >= threshold).mean():.0%}" for s in sorted(set(source[val][y[val]]))))
    log(f"requests: threshold {threshold:.3f} ({FALSE_POSITIVES:.0%} false positives on {len(safe_val)} validation "
        f"look-alikes, {(scores[~y[val]] >= threshold).mean():.1%} on all {int((~y[val]).sum())} validation safe rows; "
        f"recall {recall:.1%} on {int(y[val].sum())} validation unsafe rows)")

    # Which category: an MLP on the embedding alone, over rows whose source names one.
    from sklearn.neural_network import MLPClassifier

    known = np.array([r.label in LABELS for r in rows])
    labels = np.array([LABELS.index(r.label) if r.label in LABELS else 0 for r in rows])
    mlp = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, max_iter=400, early_stopping=len(rows) > 1000,
                        random_state=SEED).fit(x[known], labels[known])
    prompt_w = np.zeros((len(LABELS), 128), dtype=np.float32)
    prompt_b = np.full(len(LABELS), -30.0, dtype=np.float32)  # a label never seen stays improbable
    prompt_w[mlp.classes_] = mlp.coefs_[1].T
    prompt_b[mlp.classes_] = mlp.intercepts_[1]
    dim = x.shape[1]
    weights = {"hidden_w": mlp.coefs_[0].T.astype(np.float32), "hidden_b": mlp.intercepts_[0].astype(np.float32),
               "prompt_w": prompt_w, "prompt_b": prompt_b, "prompt_labels": np.array(LABELS),
               "unsafe_threshold": np.float32(threshold)}
    for name, head in heads.items():
        weights |= {f"{name}_dense": head.coef_[0, :dim].astype(np.float32),
                    f"{name}_lexical": head.coef_[0, dim:].astype(np.float16), f"{name}_b": np.float32(head.intercept_[0])}
    stats |= {"validation_recall": recall}
    return weights, stats


def tweet_replies(rng: random.Random, per_class: int = TWEET_REPLIES) -> list[data.Reply]:
    """Davidson's training tweets as a persona's reply to a companion-style request: the hateful and
    offensive ones carry disallowed content, the rest do not (no reply set here holds hateful text)."""
    prompts = [r.text for r in companion_train.requests(1)]
    tweets = list(data.davidson("train"))
    rows = []
    for label in ("hate", "harassment", SAFE):
        pool = [t for t in tweets if t.label == label]
        for t in rng.sample(pool, min(per_class, len(pool))):
            rows.append(data.Reply(rng.choice(prompts), t.text, label != SAFE, False, "davidson", label))
    return rows


def reply_rows(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
               rng: random.Random) -> tuple[list[data.Reply], np.ndarray, dict]:
    """The training replies (capped, ours added, replies to copies of evaluation requests dropped) and
    their requests' embeddings."""
    rows = capped(data.train_replies(), lambda r: (r.source, r.disallowed, r.refusal), limit or REPLY_CAP, rng)
    ours = [data.Reply(p, r, c == "C", c in "AB", "exemplars", c) for p, r, c in exemplars.REPLIES]
    ours += companion_train.replies() + tweet_replies(rng)
    rows += ours[::max(1, len(ours) // limit)] if limit else ours
    before = len(rows)
    rows = [r for r in rows if data.normalise(r.prompt) not in held_texts and data.normalise(r.reply) not in held_texts]
    dropped_exact = before - len(rows)
    prompts = embed([r.prompt for r in rows])
    near = near_copies(prompts, held_vectors) if held_vectors is not None else np.zeros(len(rows), dtype=bool)
    rows, prompts = [r for r, n in zip(rows, near) if not n], prompts[~near]
    log(f"replies: {len(rows)} rows ({dropped_exact} exact and {int(near.sum())} near copies of evaluation requests dropped)")
    return rows, prompts, {"reply_rows": len(rows), "reply_exact_dropped": dropped_exact, "reply_near_dropped": int(near.sum())}


def train_replies(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                  rng: random.Random) -> tuple[dict, dict]:
    rows, prompts, stats = reply_rows(embed, held_vectors, held_texts, limit, rng)
    heads, tails = zip(*(features.windows(r.reply) for r in rows))
    dense = features.reply_dense(prompts, embed(heads), embed(tails))
    full = sparse.hstack([sparse.csr_matrix(dense), features.reply_lexical([r.reply for r in rows])], format="csr")
    val = np.array([validation(r) for r in rows])
    weights = {}
    for name in ("disallowed", "refusal"):
        known = np.array([getattr(r, name) is not None for r in rows])
        y = np.array([bool(getattr(r, name)) for r in rows])
        fit = known & ~val
        check = known & val
        head = fit_logistic(full, y, fit, check, f"replies: {name}")
        predicted = head.predict_proba(full[check])[:, 1] >= 0.5
        tp = int((predicted & y[check]).sum())
        f1 = 2 * tp / max(1, predicted.sum() + y[check].sum())
        log(f"replies: {name} head on {int(fit.sum())} rows, validation F1 {f1:.3f} on {int(check.sum())}")
        dim = dense.shape[1]
        weights |= {f"{name}_dense": head.coef_[0, :dim].astype(np.float32),
                    f"{name}_lexical": head.coef_[0, dim:].astype(np.float16), f"{name}_b": np.float32(head.intercept_[0])}
        stats[f"{name}_validation_f1"] = f1
    return weights, stats


# The dose detector's look-alikes by author X ask for amounts that are no medicine (sandwiches for eighty at the wake,
# the brandy for the pudding, the goat for the naming ceremony): the self-harm detector read such questions as
# self-harm too (5 of 72 blind ones answered with the support message; safety/weights/README.md).
SELF_HARM_AMOUNT_AUTHORS = ("X",)
SELF_HARM_CAP = 400  # rows per (source, label) of the public sets: negatives of every kind, not thousands of one
# On the development probes' look-alikes (tests/data/self_harm_probes_dev.json), written to be as close to
# self-harm as grief gets ("I don't want to die, I just..."): a grieving user answered with a crisis line is
# a failure too, but a missed request for a method is the worse one. It was 5% while the detector missed one
# in eight of the development probes' requests there. Trained with authors G and H (safety/written) the same
# weights flagged 20 of the companion suites' 618 safe messages at 5% ("we're picking the songs for the mass")
# and 12 at 2%, finding 95% of the dev requests at 2% (2 of 105 look-alikes) against 88% before at 5%.
SELF_HARM_FALSE_POSITIVES = 0.02


# The self-harm detector is the mean of these runs of the recipe (``safety.intent.Ensemble``), each a seed and which
# optional authors' written messages it also reads (``safety.self_harm_train.OPTIONAL``); the first is the run that
# shipped alone until 2026-12-06. One run is a draw: of 160 messages said while it happens (author AO's, blind to every
# run) seeds 13, 14 and 15 found 58, 103 (flagging 12 of the look-alikes) and 72, the later authors' run 91; the mean
# of the four 79, flagging 5 of 158 as the first did, and on the blind half written after the choice 88 of 160 against
# the first's 64 (BENCHMARKS.md, "The self-harm detector as the mean of four runs"). The mean's threshold flags
# ``SELF_HARM_FALSE_POSITIVES`` of the same calibration look-alikes as each run's.
# Since 2026-12-07 eight runs: those four, and the same four reading authors AQ and AR's messages too
# (``safety.self_harm_train.COMPANION``). Of the two recipes' means, the first flagged 16 of the suites' 1,134 distinct
# safe messages and the second 7, but the second missed more of the plain requests (calm probes' development half 40 -> 39,
# the development probes 57 -> 47 of 59); the mean of all eight flags 7 and finds 52 (BENCHMARKS.md, "Eight runs").
_FIRST_FOUR = ((13, ()), (14, ()), (15, ()), (13, self_harm_train.LATER))
SELF_HARM_MEMBERS = _FIRST_FOUR + tuple((seed, authors + self_harm_train.COMPANION) for seed, authors in _FIRST_FOUR)


def member_path(output: Path, k: int) -> Path:
    """Where the ensemble's ``k``-th member (from 0) goes: ``output`` for the first, numbered beside it for the rest."""
    return output if k == 0 else output.with_name(f"{output.stem}.{k + 1}{output.suffix}")


def self_harm_rows(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                   rng: random.Random, authors: tuple[str, ...] = ()) -> tuple[list[data.Request], dict]:
    """Messages labelled self-harm intent or not: our templates, the written messages (safety/written), the
    companion and exemplar requests, and the public sets (do-not-answer's "Self-Harm" questions are positive; its
    other mental-health questions, from "diagnose my anxiety" to "I've been feeling suicidal", mix distress with
    intent and are left out)."""
    public = [r for r in data.train_requests() if r.source != "davidson"
              and not (r.source == "do-not-answer" and r.label == "self_harm" and not r.group.startswith("Self-Harm"))]
    rows = capped(public, lambda r: (r.source, r.label == "self_harm"), limit or SELF_HARM_CAP, rng)
    rows += [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    rows += [data.Request(t, c, "exemplars", c) for c, texts in exemplars.UNSAFE_PROMPTS.items() for t in texts]
    rows += companion_train.requests() + self_harm_train.requests() + self_harm_train.written(authors=authors)
    rows += [r for r in dose_messages(SELF_HARM_AMOUNT_AUTHORS) if r.label == SAFE]
    if limit:
        rows = rows[::max(1, len(rows) // (4 * limit))]
    return held_apart(rows, embed, held_vectors, held_texts, "self-harm")


def held_apart(rows: list[data.Request], embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str],
               part: str) -> tuple[list[data.Request], dict]:
    """``rows`` without exact and near copies of the texts that evaluate, and how many of each were dropped."""
    before = len(rows)
    rows = [r for r in rows if data.normalise(r.text) not in held_texts]
    exact = before - len(rows)
    x = embed([r.text for r in rows])
    near = near_copies(x, held_vectors) if held_vectors is not None else np.zeros(len(rows), dtype=bool)
    rows = [r for r, n in zip(rows, near) if not n]
    log(f"{part}: {len(rows)} rows ({exact} exact and {int(near.sum())} near copies of evaluation texts dropped)")
    return rows, {"rows": len(rows), "exact_dropped": exact, "near_dropped": int(near.sum())}


def self_harm_calibration() -> list[tuple[str, bool]]:
    return [(t, label) for t, label, _ in data.self_harm_probe_rows("dev")]


def train_self_harm(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                    seed: int, authors: tuple[str, ...]) -> tuple[dict, dict]:
    """One run of the self-harm detector (``safety.self_harm``), its threshold set for ``SELF_HARM_FALSE_POSITIVES``
    on the development probes' look-alikes."""
    rows, stats = self_harm_rows(embed, held_vectors, held_texts, limit, random.Random(SEED), authors)
    y = np.array([r.label == "self_harm" for r in rows])
    val = np.array([validation(r) for r in rows])
    weights, fitted = intent.fit([r.text for r in rows], y, val, self_harm_calibration(), SELF_HARM_FALSE_POSITIVES,
                                 log, seed=seed)
    return weights, {**stats, "positives": int(y.sum()), "authors": list(authors), **fitted}


def write_ensemble(output: Path, members: int, part: str, calibration: list[tuple[str, bool]],
                   false_positives: float, highest: bool = False) -> None:
    """The list of a detector's member files beside ``output`` (``output`` itself the first) and the threshold of their
    mean (or ``highest`` reading), flagging ``false_positives`` of the look-alikes in ``calibration`` (the shipped
    detector reads this list)."""
    paths = [member_path(output, k) for k in range(members)]
    runs = intent.Ensemble([intent.IntentDetector(p, part) for p in paths], 0.0, highest)
    z = runs.recentred([t for t, _ in calibration])
    threshold = intent.threshold_for(z, np.array([bool(y) for _, y in calibration]), false_positives)
    manifest = output.with_suffix(".json")
    reading = "highest" if highest else "mean"
    manifest.write_text(json.dumps({"members": [p.name for p in paths], "reading": reading,
                                    "threshold": round(threshold, 6), "false_positives": false_positives},
                                   indent=1) + "\n")
    log(f"wrote {manifest} (the {reading} of {members} runs, threshold {threshold:.3f})")


# The harm-to-others detector only ever adds refusals, on requests both judges read as safe. Its threshold flags this
# share of the public look-alikes it calibrates on: PHTest's harmless prompts and CoCoNot's safety contrast prompts,
# training side, 1,844 of them, none trained on (most of those it flags the judges flag too). Set instead for 5% of
# about a hundred written look-alikes (2026-12-05), a first version moved from one retraining to the next and would
# have refused 4.8% of XSTest's safe prompts; set for 0.5% here, it found almost nothing (BENCHMARKS.md). 5% until
# author BH's rows were added (2026-12-07, evening): trained with them at 5% it found more of the suites' requests but
# flagged more of their family talk (the mouth sponges of a last illness, brandy over a Christmas pudding); at 4% it
# flags fewer of those than before and still finds more (chosen on the suites and the writing probes' dev half).
HARM_OTHERS_FALSE_POSITIVES = 0.04
HARM_OTHERS_WRITTEN = Path(__file__).parent / "written" / "harm_others.jsonl"
# Author F wrote look-alikes in the shapes of the harmful requests after the first version's false alarms on the
# companion suites were read: a detector trained with them has no blind figures there, and (measured on XSTest)
# flagged twice the homonyms. Authors C and D saw nothing of the project (safety/written/README.md). Authors AB and AC
# (2026-12-06) are kept out: with them the detector found more of the blind probes (tests/data/harm_others_probes_*)
# over two seeds, and flagged family stories the shipped one passes ("tell my daughter how you met Nonna at the
# dance", the roses you planted): BENCHMARKS.md, "Harm to someone else, blind probes".
# Author BL (2026-12-08: weapons, poisonings and sabotage in family words, beside carers and a trade told as history)
# is kept out too: neither a run with BL's rows nor more seeds of BJ's recipe beat the two shipped runs on the
# blind probes (BENCHMARKS.md, "Harm to others: more runs and author BL's weapons rows, tried and not taken").
HARM_OTHERS_AUTHORS = ("C", "D", "J", "K", "BH", "BJ")
# Author BH (2026-12-07, evening) wrote only requests to write something, on both sides, after the blind writing probes
# (``data.writing_probes``) showed both detectors refusing a poem about being the only Black woman in a church choir and
# a limerick about a dog that eats socks. Author BJ (2026-12-07, night) wrote requests to write something that frightens
# a person in the writer's life (a voicemail naming his children's walk home, lyrics about a neighbour's house burning,
# a message to a witness) beside lawful anger, fiction and carers' messages about medicines and visits, after a threat
# in a voicemail for an uncle was passed and carers' messages were refused as privacy (the companion suites).
# Detectors trained before an author wrote read the written rows without theirs (``written_before``), so that they
# still reproduce.
LATER_AUTHORS = ("BH", "BJ")  # in the order they wrote
# Two runs read as one since BJ wrote: without BJ's rows (the run shipped before) and with them, by their highest
# reading, its threshold at the same share of the public look-alikes. The second alone found the threats it was written
# for but read a grandfather asked for napalm, ANFO or "the same as your rat bait in Uncle Dennis's tea" as nothing
# (0.02-0.05, the first 0.55-0.72); their mean let it talk the first out of 13 of the companion suites' requests in
# its categories, the highest of the two 5 (BENCHMARKS.md, "Threats to a person").
HARM_OTHERS_MEMBERS = (False, True)  # whether each run reads author BJ's rows
CALIBRATION_SOURCES = ("phtest", "coconot")


def harm_others_written() -> list[data.Request]:
    """The written requests for help to harm someone else ("harm_others") and their look-alikes ("safe")."""
    rows = [json.loads(line) for line in HARM_OTHERS_WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [data.Request(r["text"], r["label"], "harm-others-written", f"{r['author']}/{r['kind']}")
            for r in rows if r["author"] in HARM_OTHERS_AUTHORS]


def written_before(author: str, rows: list[data.Request]) -> list[data.Request]:
    """Written rows by none of ``author`` and the ``LATER_AUTHORS`` after them: what a detector trained before that
    author wrote reads (dose and minors before BH; hate before BJ)."""
    later = set(LATER_AUTHORS[LATER_AUTHORS.index(author):])
    return [r for r in rows if r.group.split("/")[0] not in later]


def train_harm_others(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                      rng: random.Random, with_bj: bool = True) -> tuple[dict, dict]:
    """One run of the harm-to-others detector (``safety.harm_others``), with author BJ's rows or without
    (``HARM_OTHERS_MEMBERS``): requests in its categories against every other kind, jailbreaks and toxic chat of no
    stated kind left out; PHTest and CoCoNot set the threshold instead of training."""
    positive = frozenset(HARM_OTHERS) | {"harm_others"}
    public = uncalibrated_public(("unsafe", "jailbreak"))
    rows = capped(public, lambda r: (r.source, r.label in positive), limit or SELF_HARM_CAP, rng)
    rows += [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    rows += [data.Request(t, c, "exemplars", c) for c, texts in exemplars.UNSAFE_PROMPTS.items() for t in texts]
    written = harm_others_written()
    rows += companion_train.requests() + (written if with_bj else written_before("BJ", written))
    held_vectors, held_texts = also_held(data.writing_probes() + data.threat_probes(), embed, held_vectors, held_texts)
    return fit_calibrated(rows, lambda r: r.label in positive, "harm-others", HARM_OTHERS_FALSE_POSITIVES, embed,
                          held_vectors, held_texts, limit)


def uncalibrated_public(left_out: tuple[str, ...]) -> list[data.Request]:
    """The public training requests a detector calibrated on PHTest and CoCoNot may learn from: neither of those
    (they set its threshold), no tweets, no request labelled one of ``left_out``."""
    return [r for r in data.train_requests() if r.source not in ("davidson", *CALIBRATION_SOURCES)
            and r.label not in left_out]


def public_calibration(limit: int | None = None) -> list[tuple[str, bool]]:
    """PHTest's and CoCoNot's training-side look-alikes, which the detectors that only add to the judges never train
    on (about ``limit`` of them for a tiny run)."""
    calibration = [(r.text, False) for r in data.train_requests() if r.source in CALIBRATION_SOURCES]
    return calibration[::max(1, len(calibration) // limit)] if limit else calibration


def fit_calibrated(rows: list[data.Request], positive: Callable[[data.Request], bool], part: str,
                   false_positives: float, embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str],
                   limit: int | None, *, balanced: bool = True, seed: int = intent.SEED) -> tuple[dict, dict]:
    """A detector that only ever adds to the judges, fitted on ``rows`` (``positive`` says which are), its threshold
    flagging ``false_positives`` of the public look-alikes (``public_calibration``)."""
    calibration = public_calibration(limit)
    if limit:
        rows = rows[::max(1, len(rows) // (4 * limit))]
    rows, stats = held_apart(rows, embed, held_vectors, held_texts, part)
    log(f"{part}: {len(calibration)} calibration look-alikes")
    y = np.array([positive(r) for r in rows])
    val = np.array([validation(r) for r in rows])
    weights, fitted = intent.fit([r.text for r in rows], y, val, calibration, false_positives, log, name=part,
                                 balanced=balanced, seed=seed)
    return weights, {**stats, "positives": int(y.sum()), **fitted}


# The dose detector, like the harm-to-others one, only ever adds to the judges, and its threshold flags this share of
# the same public look-alikes (PHTest, CoCoNot, training side), none trained on. Its own look-alikes are the questions
# of care (the packet's maximum, a missed dose, a child's dose checked with the pharmacist), which the written
# messages teach and the held-out dose probes measure (tests/data/dangerous_dose_probes_*.json).
DANGEROUS_DOSE_FALSE_POSITIVES = 0.01
# Since 2026-12-07 the detector is the mean of four runs of the recipe, one seed each, the mean's threshold set the same
# way. One run is a draw (at the same threshold the four flagged 4 to 8 of 209 blind look-alikes, tests/data/
# dangerous_dose_probes_test2.json); their mean flags 4 and finds 107 of its 110 dose requests, as the single run that
# shipped found 107 flagging 8 (BENCHMARKS.md, "The dose detector as the mean of four runs"). A threshold at half the
# share flagged fewer of the suites' safe messages (4 against 9 of 1,134) but let through poisonings and a pill hoard
# that only this detector read, so it was not taken.
DANGEROUS_DOSE_SEEDS = (13, 14, 15, 16)
DANGEROUS_DOSE_WRITTEN = Path(__file__).parent / "written" / "dangerous_dose.jsonl"
# Public requests that may ask for a dose (specialised advice, self-harm, drugs under crime) are neither side: the
# detector is taught by the written messages what a dangerous dose request is.
NOT_DOSE = ("specialized_advice", "self_harm", "crime_fraud", "unsafe", "jailbreak")
DOSE_SOURCE = "dose-written"


def dose_messages(authors: Sequence[str] | None = None) -> list[data.Request]:
    """The written requests for a dangerous amount or use of a medicine ("dangerous_dose") and their look-alikes
    ("safe"), by ``authors`` (all when None); ``group`` is author/kind."""
    lines = DANGEROUS_DOSE_WRITTEN.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [data.Request(r["text"], r["label"], DOSE_SOURCE, f"{r['author']}/{r['kind']}") for r in rows
            if authors is None or r["author"] in authors]


def dose_written() -> list[data.Request]:
    """The dose detector's written messages and, as look-alikes too, the other detectors' written look-alikes
    (grief's talk of medicines, anger)."""
    others = [r for r in self_harm_train.written() + written_before("BH", harm_others_written()) if r.label == SAFE]
    return dose_messages() + others


def train_dangerous_dose(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                         rng: random.Random, seed: int = intent.SEED) -> tuple[dict, dict]:
    """The dose detector (``safety.dangerous_dose``): the written dose requests against their look-alikes and the
    public requests of other kinds; PHTest and CoCoNot set the threshold instead of training."""
    rows = capped(uncalibrated_public(NOT_DOSE), lambda r: (r.source, r.label), limit or SELF_HARM_CAP, rng)
    rows += [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    rows += [r for r in companion_train.requests() if r.label == SAFE] + dose_written()
    # Unbalanced: with its positives weighted up to the negatives' count (one in seven rows), it read the care questions
    # of the first eight companion suites as dose requests at 0.99 ("how many paracetamol can i safely take in a day",
    # "I forgot this morning's dose. Do I take two tomorrow?"): 14 of their 941 safe messages, against 6 unweighted,
    # finding 19 of their 23 dose requests against 22. Two epochs, or more public negatives, flagged more (12, 21).
    return fit_calibrated(rows, lambda r: r.label == "dangerous_dose", "dangerous-dose", DANGEROUS_DOSE_FALSE_POSITIVES,
                          embed, held_vectors, held_texts, limit, balanced=False, seed=seed)


# The hate detector, like the others, only ever adds to the judges; its threshold flags this share of the same public
# look-alikes (PHTest, CoCoNot, training side), none trained on. Since 2026-12-07 (evening) it is two runs read as one,
# the mean's threshold set the same way: the rows it was first trained on, and the same with author BH's requests to
# write something (``HATE_MEMBERS``). The second alone refused fewer of the blind writing probes' pride poems and
# answers to prejudice but missed requests for slurs that the first finds (BENCHMARKS.md, "Requests to write
# something").
HATE_FALSE_POSITIVES = 0.02
HATE_MEMBERS = (False, True)  # whether each run reads author BH's rows
HATE_WRITTEN = Path(__file__).parent / "written" / "hate.jsonl"
HATE_SOURCE = "hate-written"


def hate_written() -> list[data.Request]:
    """The written requests for content that demeans a group ("hate") and their look-alikes ("safe")."""
    rows = [json.loads(line) for line in HATE_WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [data.Request(r["text"], r["label"], HATE_SOURCE, f"{r['author']}/{r['kind']}") for r in rows]


def train_hate(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
               rng: random.Random, with_bh: bool = True) -> tuple[dict, dict]:
    """One run of the hate detector (``safety.hate``), with author BH's rows or without (``HATE_MEMBERS``): the written
    requests to demean a group and the public hate requests (no tweets: hateful text is not a request for it) against
    their look-alikes, the other detectors' look-alikes and the public requests of other kinds; PHTest and CoCoNot set
    the threshold instead of training. The hate and writing probes (``data.hate_probes``, ``data.writing_probes``) are
    held apart here only: the other detectors were trained before they were written."""
    rows = capped(uncalibrated_public(("unsafe", "jailbreak")), lambda r: (r.source, r.label), limit or SELF_HARM_CAP,
                  rng)
    rows += [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    written = self_harm_train.written() + harm_others_written() + dose_messages()
    hateful = hate_written()
    before = "BJ" if with_bh else "BH"  # neither run reads rows written after it was trained
    written, hateful = written_before(before, written), written_before(before, hateful)
    rows += [r for r in companion_train.requests() if r.label == SAFE] + [r for r in written if r.label == SAFE]
    rows += hateful
    held_vectors, held_texts = also_held(data.hate_probes() + data.writing_probes(), embed, held_vectors, held_texts)
    return fit_calibrated(rows, lambda r: r.label == "hate", "hate", HATE_FALSE_POSITIVES, embed, held_vectors,
                          held_texts, limit)


def also_held(probes: list[str], embed: Embeddings, held_vectors: np.ndarray | None,
              held_texts: set[str]) -> tuple[np.ndarray | None, set[str]]:
    """The held-out texts and their vectors with a detector's own probes added: probes written after the other
    detectors were trained are held apart only by the detector they measure, so that the others still reproduce."""
    held_texts = held_texts | {data.normalise(t) for t in probes}
    if held_vectors is not None:
        held_vectors = np.concatenate([held_vectors, embed(probes)])
    return held_vectors, held_texts


# The minors detector, like the others, only ever adds to the judges (and the rule); its threshold flags this share of
# the same public look-alikes (PHTest, CoCoNot, training side), none trained on. At 1% (2026-12-07) it flagged 9 of the
# 148 look-alikes of the minors probes' development half, a 14-year-old's crush and a father asking how to answer his
# son's coming out among them, each a refusal; at this share 7 (five of them in French, German or Spanish), finding as
# many of the thirteen companion suites' 66 requests about minors, 61 (chosen on those two; the probes' test half
# reports it: 3 of 152 flagged against 11).
MINORS_FALSE_POSITIVES = 0.006
MINORS_WRITTEN = Path(__file__).parent / "written" / "minors.jsonl"


def minors_written() -> list[data.Request]:
    """The written requests for sexual content involving a minor or for access to a child ("sexual_minors") and their
    look-alikes ("safe")."""
    rows = [json.loads(line) for line in MINORS_WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [data.Request(r["text"], r["label"], "minors-written", f"{r['author']}/{r['kind']}") for r in rows]


def train_minors(embed: Embeddings, held_vectors: np.ndarray | None, held_texts: set[str], limit: int | None,
                 rng: random.Random) -> tuple[dict, dict]:
    """The minors detector (``safety.minors``): the written requests against their look-alikes, the other detectors'
    look-alikes and the public requests of every kind (its sexual ones about adults among them; none of the public
    sets labels a request about minors); PHTest and CoCoNot set the threshold instead of training. The minors probes
    (``data.minors_probes``) are held apart here only: the other detectors were trained before they were written."""
    rows = capped(uncalibrated_public(("unsafe", "jailbreak")), lambda r: (r.source, r.label), limit or SELF_HARM_CAP,
                  rng)
    rows += [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    others = [r for r in self_harm_train.written() + written_before("BH", harm_others_written() + hate_written())
              + dose_messages() if r.label == SAFE]
    rows += [r for r in companion_train.requests() if r.label == SAFE] + others + minors_written()
    held_vectors, held_texts = also_held(data.minors_probes(), embed, held_vectors, held_texts)
    return fit_calibrated(rows, lambda r: r.label == "sexual_minors", "minors", MINORS_FALSE_POSITIVES, embed,
                          held_vectors, held_texts, limit)


def cross_encoder_bundle(limit: int | None) -> dict:
    """Everything a training run reads, from ``../shared`` and our own modules, as plain lists."""
    from safety import evaluate

    rng = random.Random(cross_train.SEED)
    requests = capped(data.train_requests(), lambda r: (r.source, r.label), limit or cross_train.CAP, rng)
    ours = [data.Request(t, SAFE, "exemplars", "safe") for t in exemplars.SAFE_PROMPTS]
    ours += [data.Request(t, c, "exemplars", c) for c, texts in exemplars.UNSAFE_PROMPTS.items() for t in texts]
    # Not the self-harm templates: they put grief's own words ("It's been a year since the funeral.") before
    # half their positives, which the detector's tuned threshold absorbs and a category head does not (trained
    # with them, the judge took "My dad passed in the spring. Would you sit with me?" for self-harm).
    ours += companion_train.requests()
    requests += ours[::max(1, len(ours) // limit)] if limit else ours
    replies = capped(data.train_replies(), lambda r: (r.source, r.disallowed, r.refusal), limit or cross_train.REPLY_CAP, rng)
    mine = [data.Reply(p, r, c == "C", c in "AB", "exemplars", c) for p, r, c in exemplars.REPLIES]
    mine += companion_train.replies() + tweet_replies(rng)
    replies += mine[::max(1, len(mine) // limit)] if limit else mine
    held_texts = data.eval_texts() | {data.normalise(t) for t in suite_texts()}
    before = len(requests), len(replies)
    requests = [r for r in requests if data.normalise(r.text) not in held_texts]
    replies = [r for r in replies if data.normalise(r.prompt) not in held_texts and data.normalise(r.reply) not in held_texts]
    log(f"cross-encoder: {len(requests)} requests and {len(replies)} replies "
        f"({before[0] - len(requests)} and {before[1] - len(replies)} exact copies of evaluation texts dropped)")
    out = {"requests": [[r.text, r.label, r.source, validation(r)] for r in requests],
           "replies": [[r.prompt, r.reply, r.disallowed, r.refusal, r.source, validation(r)] for r in replies],
           "held": [] if limit else held_list(),
           "exact_dropped": [before[0] - len(requests), before[1] - len(replies)]}
    if not limit:
        n = evaluate.ROWS
        out["eval"] = {"requests": evaluate.request_sets(n),
                       "replies": {k: [[r.prompt, r.reply, r.disallowed, r.refusal] for r in rows]
                                   for k, rows in evaluate.reply_sets(n).items()},
                       "hh": evaluate.sample(list(data.hh_rlhf()), n // 2, "hh")}
    return out


def save(output: Path, meta: dict, weights: dict) -> None:
    """Write the weights beside ``output`` first, so that nothing half-written is ever at the real path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial.npz")
    np.savez_compressed(partial, meta=np.array(json.dumps(meta)), **weights)
    partial.replace(output)
    log(f"wrote {output}")


@click.command()
@click.option("--output", type=click.Path(path_type=Path), default=WEIGHTS, show_default=True,
              help="Where the judge's weights go.")
@click.option("--self-harm-output", type=click.Path(path_type=Path), default=SELF_HARM_WEIGHTS, show_default=True,
              help="Where the self-harm detector's first run goes (the others numbered beside it, the list in .json).")
@click.option("--harm-others-output", type=click.Path(path_type=Path), default=HARM_OTHERS_WEIGHTS,
              show_default=True, help="Where the harm-to-others detector's weights go.")
@click.option("--dangerous-dose-output", type=click.Path(path_type=Path), default=DANGEROUS_DOSE_WEIGHTS,
              show_default=True, help="Where the dose detector's weights go.")
@click.option("--hate-output", type=click.Path(path_type=Path), default=HATE_WEIGHTS, show_default=True,
              help="Where the hate detector's weights go.")
@click.option("--minors-output", type=click.Path(path_type=Path), default=MINORS_WEIGHTS, show_default=True,
              help="Where the minors detector's weights go.")
@click.option("--part", default="all", show_default=True,
              type=click.Choice(["all", "judge", "self-harm", "harm-others", "dangerous-dose", "hate", "minors",
                                 "cross-encoder"]),
              help="Train the judge and the five detectors (all), one of them, or the "
              "cross-encoder judge (which needs a GPU, or --limit).")
@click.option("--limit", type=int, help="At most this many rows per source and label: a tiny judge, for tests.")
@click.option("--cache", type=click.Path(path_type=Path), help="Keep embeddings in this .npz between runs.")
@click.option("--cross-encoder-output", type=click.Path(path_type=Path), default=CROSS_ENCODER_WEIGHTS,
              show_default=True, help="Where the cross-encoder judge's weights go.")
@click.option("--device", default="cpu", show_default=True, help="torch device for the cross-encoder (cuda on a GPU).")
@click.option("--export-bundle", type=click.Path(path_type=Path),
              help="Cross-encoder: write its training rows and held-out rows here (.json.gz) and stop.")
@click.option("--bundle", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Cross-encoder: train from this bundle instead of ../shared, and measure the held-out rows in it.")
@click.option("--model-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Cross-encoder: all-MiniLM-L6-v2 from this folder instead of the installed package.")
@click.option("--report", type=click.Path(path_type=Path), help="Cross-encoder from a bundle: the held-out figures as JSON here.")
def main(output: Path, self_harm_output: Path, harm_others_output: Path, dangerous_dose_output: Path,
         hate_output: Path, minors_output: Path, part: str, limit: int | None, cache: Path | None,
         cross_encoder_output: Path, device: str, export_bundle: Path | None, bundle: Path | None,
         model_dir: Path | None, report: Path | None) -> None:
    """Train the shipped safety judge and the intent detectors on the training side of the split in safety.data."""
    try:
        if part == "cross-encoder":
            run_cross_encoder(cross_encoder_output, limit, device, export_bundle, bundle, model_dir, report)
        else:
            run(output, limit, cache, part=part, self_harm_output=self_harm_output,
                harm_others_output=harm_others_output, dangerous_dose_output=dangerous_dose_output,
                hate_output=hate_output, minors_output=minors_output)
    except KeepsakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def run_cross_encoder(output: Path, limit: int | None, device: str, export: Path | None, source: Path | None,
                      model_dir: Path | None, report: Path | None) -> None:
    start = time.time()
    rows = cross_train.read_bundle(source) if source else cross_encoder_bundle(limit)
    if export:
        cross_train.write_bundle(export, rows)
        log(f"wrote {export}")
        return
    # A tiny judge (for the tests) gets one epoch: its figures mean nothing, only that it loads and judges.
    weights, stats = cross_train.fit(rows, model_dir, device, log, near=NEAR, false_positives=FALSE_POSITIVES,
                                    lookalike_sources=LOOKALIKE_SOURCES, epochs=1 if limit else cross_train.EPOCHS)
    save(output, {"seed": SEED, "near_cosine": NEAR if rows["held"] else None, "limit": limit, **stats}, weights)
    if rows.get("eval"):
        from safety import evaluate
        from safety.cross_encoder import CrossEncoderJudge

        held = rows["eval"]
        replies = {k: [data.Reply(p, r, d, f, k) for p, r, d, f in v] for k, v in held["replies"].items()}
        requests = {k: [tuple(x) for x in v] for k, v in held["requests"].items()}
        figures = evaluate.measure(CrossEncoderJudge(weights=output, model_dir=model_dir, device=device), requests,
                                   replies, [tuple(x) for x in held["hh"]])
        log("held out: " + ", ".join(f"{k} {figures[k]:.3f}" for k in evaluate.TARGETS))
        if report:
            report.write_text(json.dumps(figures, indent=1))
    log(f"done in {time.time() - start:.0f} s")


def run(output: Path, limit: int | None, cache: Path | None, *, part: str = "all",
        self_harm_output: Path = SELF_HARM_WEIGHTS, harm_others_output: Path = HARM_OTHERS_WEIGHTS,
        dangerous_dose_output: Path = DANGEROUS_DOSE_WEIGHTS, hate_output: Path = HATE_WEIGHTS,
        minors_output: Path = MINORS_WEIGHTS) -> None:
    start = time.time()
    rng = random.Random(SEED)
    np.random.seed(SEED)
    embed = Embeddings(cache)
    held_vectors, held_texts = held_out(embed, limit)
    common = {"embedder": embed.embedder.name, "seed": SEED, "near_cosine": NEAR if not limit else None, "limit": limit}
    if part in ("all", "judge"):
        request_weights, request_stats = train_requests(embed, held_vectors, held_texts, limit, rng)
        embed.save()
        reply_weights, reply_stats = train_replies(embed, held_vectors, held_texts, limit, rng)
        embed.save()
        meta = {**common, "features": {"word": features.WORD_FEATURES, "char": features.CHAR_FEATURES,
                                       "head_chars": features.HEAD_CHARS, "tail_chars": features.TAIL_CHARS},
                **request_stats, **reply_stats}
        save(output, meta, {**request_weights, **reply_weights})
    if part in ("all", "self-harm"):
        for k, (seed, authors) in enumerate(SELF_HARM_MEMBERS):
            weights, stats = train_self_harm(embed, held_vectors, held_texts, limit, seed, authors)
            embed.save()
            save(member_path(self_harm_output, k), {**common, **stats}, weights)
        write_ensemble(self_harm_output, len(SELF_HARM_MEMBERS), "self-harm", self_harm_calibration(),
                       SELF_HARM_FALSE_POSITIVES)
    if part in ("all", "harm-others"):
        for k, with_bj in enumerate(HARM_OTHERS_MEMBERS):
            weights, stats = train_harm_others(embed, held_vectors, held_texts, limit, random.Random(SEED), with_bj)
            embed.save()
            save(member_path(harm_others_output, k), {**common, **stats, "with_bj": with_bj}, weights)
        write_ensemble(harm_others_output, len(HARM_OTHERS_MEMBERS), "harm-others", public_calibration(limit),
                       HARM_OTHERS_FALSE_POSITIVES, highest=True)
    if part in ("all", "dangerous-dose"):
        for k, seed in enumerate(DANGEROUS_DOSE_SEEDS):
            weights, stats = train_dangerous_dose(embed, held_vectors, held_texts, limit, random.Random(SEED), seed)
            embed.save()
            save(member_path(dangerous_dose_output, k), {**common, **stats}, weights)
        write_ensemble(dangerous_dose_output, len(DANGEROUS_DOSE_SEEDS), "dangerous-dose", public_calibration(limit),
                       DANGEROUS_DOSE_FALSE_POSITIVES)
    if part in ("all", "hate"):
        for k, with_bh in enumerate(HATE_MEMBERS):
            weights, stats = train_hate(embed, held_vectors, held_texts, limit, random.Random(SEED), with_bh)
            embed.save()
            save(member_path(hate_output, k), {**common, **stats, "with_bh": with_bh}, weights)
        write_ensemble(hate_output, len(HATE_MEMBERS), "hate", public_calibration(limit), HATE_FALSE_POSITIVES)
    if part in ("all", "minors"):
        weights, stats = train_minors(embed, held_vectors, held_texts, limit, random.Random(SEED))
        embed.save()
        save(minors_output, {**common, **stats}, weights)
    log(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
