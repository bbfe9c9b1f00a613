"""The cross-encoder judge: MiniLM fine-tuned end to end to read the request and the reply together.

The embedding judges see a reply as a sentence embedding of its topic, so a refusal that names bombs
and instructions for one look alike to them. Here the request and the reply go through the model as
one sequence (``[CLS] request [SEP] reply [SEP]``), so attention relates what was asked to what was
said; the request alone goes through it for the request verdict. Four heads over the mean-pooled
output: P(unsafe request) and which category (request alone); P(reply carries disallowed content)
and P(reply refuses) (the pair).

The model is the packaged all-MiniLM-L6-v2 (memory ships it) with all six layers fine-tuned; only
what training changed is shipped (``safety/weights/cross_encoder.npz``, int8 steps, see
``safety.minilm``), made by ``python -m safety.train --part cross-encoder``. A long reply is read as
its opening and its end (``REPLY_TOKENS``), where instructions and refusals are.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.errors import KeepsakeError
from safety.judges import Memo, Verdict, rubric, sigmoid, softmax
from safety.minilm import Reader
from safety.policy import SAFE

WEIGHTS = Path(__file__).parent / "weights" / "cross_encoder.npz"
FROZEN = 0  # every layer is trained; the embeddings stay the packaged ones
# Steps per standard deviation of a row's change when the trained layers are packed (``safety.minilm.packed``):
# six layers at the self-harm detector's 8 made a 7.3 MB file, over the 5 MB a tracked file may take; at 2
# it is 4.9 MB and the held-out figures moved by at most a point (BENCHMARKS.md). Training only the top four
# layers fit too, but read two of the test sentences wrongly (tests/test_cross_encoder.py).
DELTA_STEPS = 2
REQUEST_TOKENS = 128  # the request read alone
PAIR_REQUEST_TOKENS = 64  # the request's share of the pair
REPLY_TOKENS = 192  # the reply's share: its opening and its last ``TAIL_TOKENS``
TAIL_TOKENS = 48
MAX_CHARS = 6000  # of a reply, tokenized: more is never read


class Encoder:
    """Token ids for the two kinds of input, and the pooled MiniLM output over them."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        tok = reader.tokenizer
        self.cls, self.sep, self.pad = tok.cls_token_id, tok.sep_token_id, tok.pad_token_id

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        return self.reader.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]

    def request(self, request_ids: list[int]) -> tuple[list[int], list[int]]:
        return [self.cls, *request_ids[:REQUEST_TOKENS - 2], self.sep], [0] * min(len(request_ids) + 2, REQUEST_TOKENS)

    def pair(self, request_ids: list[int], reply_ids: list[int]) -> tuple[list[int], list[int]]:
        if len(reply_ids) > REPLY_TOKENS:
            reply_ids = reply_ids[:REPLY_TOKENS - TAIL_TOKENS] + reply_ids[-TAIL_TOKENS:]
        first = [self.cls, *request_ids[:PAIR_REQUEST_TOKENS - 2], self.sep]
        second = [*reply_ids, self.sep]
        return first + second, [0] * len(first) + [1] * len(second)

    def batch(self, items: list[tuple[list[int], list[int]]]) -> dict:
        torch = self.reader.torch
        n = max(len(ids) for ids, _ in items)
        input_ids = torch.full((len(items), n), self.pad, dtype=torch.long)
        types = torch.zeros((len(items), n), dtype=torch.long)
        attention = torch.zeros((len(items), n), dtype=torch.long)
        for k, (ids, tt) in enumerate(items):
            input_ids[k, :len(ids)] = torch.tensor(ids)
            types[k, :len(tt)] = torch.tensor(tt)
            attention[k, :len(ids)] = 1
        device = self.reader.device
        return {"input_ids": input_ids.to(device), "token_type_ids": types.to(device), "attention_mask": attention.to(device)}

    def pooled(self, batch: dict):  # noqa: ANN201
        return self.reader.pooled(self.reader.bottom(batch), batch["attention_mask"])


HEADS = ("unsafe", "category", "disallowed", "refusal")


class CrossEncoderJudge:
    """Request and reply read together by fine-tuned MiniLM. P(unsafe) is recentred so that 0.5 is the
    threshold set on validation look-alikes; the rubric classes follow as in ``EmbeddingJudge``:
    C = disallowed, a refusal is A when the request is unsafe and B when it was safe, the rest D."""

    name = "cross-encoder"
    BATCH = 16
    CACHE = 64  # request verdicts: the filter judges the same request once per attempt and per stream check

    def __init__(self, embedder=None, weights: Path = WEIGHTS, model_dir: Path | None = None,  # noqa: ANN001
                 device: str = "cpu") -> None:
        if not weights.is_file():
            raise KeepsakeError(f"the cross-encoder judge's weights are missing ({weights}); "
                                "run python -m safety.train --part cross-encoder")
        w = np.load(weights, allow_pickle=False)
        self.meta = json.loads(str(w["meta"]))
        unfit = KeepsakeError(f"{weights} does not fit the packaged embedding model; "
                              "run python -m safety.train --part cross-encoder")
        if self.meta.get("frozen_layers") != FROZEN:
            raise unfit
        self.embedder = embedder  # what the evaluation's baseline judges are built on; not read here
        self.reader = Reader(FROZEN, REQUEST_TOKENS, model_dir, device)
        self.reader.load_top(w, unfit)
        self.encoder = Encoder(self.reader)
        self.heads = {name: (w[f"{name}_w"].astype(np.float32), w[f"{name}_b"].astype(np.float32)) for name in HEADS}
        self.labels = [str(x) for x in w["category_labels"]]
        self.threshold_logit = float(w["threshold_logit"])
        self._lock = threading.Lock()  # one pair forward at a time
        self._pooled_requests = Memo(self._pool_requests, self.CACHE)

    def _pooled(self, items: list[tuple[list[int], list[int]]]) -> np.ndarray:
        torch = self.reader.torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(items), self.BATCH):
                out.append(self.encoder.pooled(self.encoder.batch(items[start:start + self.BATCH])).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.reader.dim), np.float32)

    def _head(self, name: str, pooled: np.ndarray) -> np.ndarray:
        weight, bias = self.heads[name]
        return pooled @ weight.T + bias

    def _pool_requests(self, prompts: list[str]) -> list[np.ndarray]:
        return list(self._pooled([self.encoder.request(ids) for ids in self.encoder.ids(prompts)]))

    def _requests(self, prompts: list[str]) -> np.ndarray:
        """Pooled request vectors, remembered by text."""
        return np.stack(self._pooled_requests(prompts))

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        if not pairs:
            return []
        prompts = [p for p, _ in pairs]
        pooled = self._requests(prompts)
        u = sigmoid(self._head("unsafe", pooled)[:, 0] - self.threshold_logit)
        category = softmax(self._head("category", pooled))
        verdicts = []
        for i in range(len(pairs)):
            probs = {label: float(u[i] * category[i, j]) for j, label in enumerate(self.labels)}
            probs[SAFE] = float(1 - u[i])
            verdicts.append(Verdict(probs, judge=self.name))
        answered = [i for i, (_, r) in enumerate(pairs) if r is not None]
        if answered:
            request_ids = self.encoder.ids([prompts[i] for i in answered])
            reply_ids = self.encoder.ids([(pairs[i][1] or "")[:MAX_CHARS] for i in answered])
            with self._lock:
                both = self._pooled([self.encoder.pair(q, r) for q, r in zip(request_ids, reply_ids)])
            c = sigmoid(self._head("disallowed", both)[:, 0])
            r = sigmoid(self._head("refusal", both)[:, 0])
            for k, i in enumerate(answered):
                verdicts[i].reply = rubric(float(c[k]), float(r[k]), float(u[i]))
        return verdicts

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]
