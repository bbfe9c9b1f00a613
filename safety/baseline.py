"""The chat path's default judge (``safety_judge = "embedding"``), and the baseline that
``python -m safety eval`` measures the reply-reading judge (``safety.judges.EmbeddingJudge``,
``safety_judge = "reply-reader"``) against, on the same held-out rows in the same run. Its weights
are ``safety/weights/previous_embedding_judge.npz``, as trained then: two heads over frozen
all-MiniLM-L6-v2 embeddings of the request and the whole reply, plus four refusal markers.
It stays the default because the companion suite was measured end to end with it, and the reply
reader still takes many short, warm replies for disallowed content (see safety/weights/README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safety.judges import Memo, Verdict, softmax
from safety.policy import REPLY_CLASSES

PREVIOUS_WEIGHTS = Path(__file__).parent / "weights" / "previous_embedding_judge.npz"
REFUSAL_MARKERS = ("i can't", "i cannot", "i can not", "i won't", "i will not", "i'm not able", "i am not able",
                   "i'm unable", "i am unable", "not comfortable", "i must decline", "i'd rather not", "against my")
APOLOGY_MARKERS = ("sorry", "apolog", "unfortunately")


def reply_features(e_prompt: np.ndarray, e_reply: np.ndarray, reply: str) -> np.ndarray:
    head = reply[:300].lower().replace("’", "'")
    markers = np.array([any(m in head for m in REFUSAL_MARKERS), any(m in head for m in APOLOGY_MARKERS),
                        "as an ai" in head or "language model" in head, min(len(reply), 2000) / 2000],
                       dtype=np.float32)
    return np.concatenate([e_prompt, e_reply, e_prompt * e_reply, markers])


class PreviousJudge:
    """Two heads over embeddings of the request and the whole reply: the default judge."""

    name = "embedding"
    CACHE = 64  # request embeddings: the filter judges the same request before the reply, per stream check and attempt

    def __init__(self, embedder, weights: Path = PREVIOUS_WEIGHTS) -> None:  # noqa: ANN001
        w = np.load(weights, allow_pickle=False)
        self.embedder = embedder
        self._requests = Memo(embedder.embed, self.CACHE)
        self.labels = [str(x) for x in w["prompt_labels"]]
        self.hidden_w, self.hidden_b = w["hidden_w"], w["hidden_b"]
        self.prompt_w, self.prompt_b = w["prompt_w"], w["prompt_b"]
        self.reply_w, self.reply_b = w["reply_w"], w["reply_b"]
        self.unsafe_threshold = float(w["unsafe_threshold"])

    def _verdict(self, e_prompt: np.ndarray, e_reply: np.ndarray | None, reply: str | None) -> Verdict:
        h = np.maximum(e_prompt @ self.hidden_w.T + self.hidden_b, 0)
        p = softmax(h @ self.prompt_w.T + self.prompt_b)
        verdict = Verdict(dict(zip(self.labels, map(float, p))), judge=self.name, unsafe_threshold=self.unsafe_threshold)
        if e_reply is not None:
            r = softmax(reply_features(e_prompt, e_reply, reply or "") @ self.reply_w.T + self.reply_b)
            verdict.reply = dict(zip(REPLY_CLASSES, map(float, r)))
        return verdict

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        requests = self._requests([p for p, _ in pairs])
        answered = [r for _, r in pairs if r is not None]
        replies = iter(self.embedder.embed(answered) if answered else [])
        return [self._verdict(e, next(replies) if r is not None else None, r) for e, (_, r) in zip(requests, pairs)]
