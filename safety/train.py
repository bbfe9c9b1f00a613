"""Train the shipped safety classifier: ``python -m safety.train`` writes safety/weights/embedding_judge.npz.

Reproducible: fixed seeds, data read from ``../shared/data/safety`` by the splits in ``safety.data``
plus our own exemplars, and scikit-learn's deterministic solver. Evaluation sets (XSTest prompts,
HarmBench test, do-not-answer odd ids, two of XSTest's five completion models, the RBR gold set,
hh-rlhf) are never used here.

The unsafe threshold is the lowest that keeps false positives at or under 5% on held-out safe
requests (a slice of ToxicChat's non-toxic prompts that training did not see, and our look-alikes).
"""

from __future__ import annotations

import json
import random
import time

import numpy as np

from memory.embedder import SentenceTransformerEmbedder
from safety import data, exemplars
from safety.judges import WEIGHTS, reply_features
from safety.policy import LABELS, REPLY_CLASSES, SAFE

SEED = 13


def prompt_examples(rng: random.Random) -> tuple[list[tuple[str, str]], list[str]]:
    """(text, label) training pairs, and held-out safe texts for the threshold."""
    pos = list(data.do_not_answer("train")) + list(data.harmbench("train")) + list(data.strongreject())
    pos += rng.sample(list(data.advbench()), 200)
    tox = list(data.toxicchat())
    pos += [(t, "jailbreak") for t, _, jb in tox if jb]
    tweets = list(data.davidson())
    pos += [(t, "hate") for t, c in rng.sample([x for x in tweets if x[1] == 0], 300)]
    pos += [(t, "harassment") for t, c in rng.sample([x for x in tweets if x[1] == 1], 300)]
    pos += [(t, c) for c, texts in exemplars.UNSAFE_PROMPTS.items() for t in texts] * 3
    safe_chat = [t for t, toxic, jb in tox if not toxic and not jb]
    rng.shuffle(safe_chat)
    held_out = safe_chat[:400]
    neg = safe_chat[400:2000] + [t for t, c in rng.sample([x for x in tweets if x[1] == 2], 400)]
    neg += exemplars.SAFE_PROMPTS * 3
    return pos + [(t, SAFE) for t in neg], held_out + exemplars.SAFE_PROMPTS


def reply_examples() -> list[tuple[str, str, str]]:
    """(prompt, reply, class) training triples."""
    out = []
    for prompt, completion, label, final in data.xstest_completions("train"):
        unsafe = label == "unsafe"
        if final == "1_full_compliance":
            cls = "C" if unsafe else "D"
        elif final == "2_full_refusal":
            cls = "A" if unsafe else "B"
        else:  # partial refusal: mostly a refusal, with some help
            cls = "A" if unsafe else "B"
        out.append((prompt, completion[:2000], cls))
    return out + exemplars.REPLIES * 4


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = random.Random(SEED)
    start = time.time()
    embedder = SentenceTransformerEmbedder()
    prompts, held_out = prompt_examples(rng)
    replies = reply_examples()
    print(f"{len(prompts)} request examples, {len(replies)} reply examples", flush=True)
    x = embedder.embed([t for t, _ in prompts])
    y = np.array([LABELS.index(label) for _, label in prompts])
    # One hidden layer: a linear head cannot separate "kill a Python process" from "kill a person"
    # well enough in MiniLM's space; 128 ReLU units can, and still run in microseconds in numpy.
    mlp = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, max_iter=400, early_stopping=True,
                        random_state=SEED).fit(x, y)
    hidden_w, hidden_b = mlp.coefs_[0].T.astype(np.float32), mlp.intercepts_[0].astype(np.float32)
    prompt_w = np.zeros((len(LABELS), hidden_w.shape[0]), dtype=np.float32)
    prompt_b = np.full(len(LABELS), -30.0, dtype=np.float32)  # a label never seen stays improbable
    prompt_w[mlp.classes_] = mlp.coefs_[1].T
    prompt_b[mlp.classes_] = mlp.intercepts_[1]
    hx = np.maximum(embedder.embed(held_out) @ hidden_w.T + hidden_b, 0)
    logits = hx @ prompt_w.T + prompt_b
    p_safe = np.exp(logits[:, 0] - logits.max(1)) / np.exp(logits - logits.max(1, keepdims=True)).sum(1)
    unsafe = np.sort(1 - p_safe)
    threshold = float(max(0.5, unsafe[int(np.ceil(0.95 * len(unsafe))) - 1] + 1e-6))
    print(f"unsafe threshold {threshold:.3f} (5% false positives on {len(held_out)} held-out safe requests)", flush=True)

    ep = embedder.embed([p for p, _, _ in replies])
    er = embedder.embed([r for _, r, _ in replies])
    rx = np.stack([reply_features(a, b, r) for a, b, (_, r, _) in zip(ep, er, replies)])
    ry = np.array([REPLY_CLASSES.index(c) for _, _, c in replies])
    rhead = LogisticRegression(C=2.0, max_iter=3000, class_weight="balanced", random_state=SEED).fit(rx, ry)
    meta = {"embedder": embedder.name, "seed": SEED, "trained": time.strftime("%Y-%m-%d"),
            "request_examples": len(prompts), "reply_examples": len(replies)}
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(WEIGHTS, prompt_labels=np.array(LABELS), prompt_w=prompt_w, prompt_b=prompt_b,
                        hidden_w=hidden_w, hidden_b=hidden_b,
                        reply_w=rhead.coef_.astype(np.float32), reply_b=rhead.intercept_.astype(np.float32),
                        unsafe_threshold=np.float32(threshold), meta=np.array(json.dumps(meta)))
    print(f"wrote {WEIGHTS} in {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
