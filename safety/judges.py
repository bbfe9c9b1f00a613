"""Safety judges behind one protocol: the shipped embedding classifier, an LLM judge, and a fake.

A judge reads a user message (and optionally a reply) and returns a ``Verdict``: the probability of
each policy label for the request, and, with a reply, the probability of each rubric class (A
desired refusal, B undesired refusal, C disallowed content, D safe compliance).

* ``EmbeddingJudge`` (default, ships with the project): linear heads over the all-MiniLM-L6-v2
  embeddings already used for memory (the request, and the reply's opening and end) and hashed
  n-grams of the words, trained by ``python -m safety.train`` (a few MB of ``.npz`` in
  ``safety/weights``). Tens of milliseconds per call on a CPU, no extra model.
* ``LLMJudge``: any GGUF instruct model (a Llama Guard or a larger instruct model) reads the rubric
  and answers with an option letter; the letters' probabilities come from llama.cpp's logprobs, so
  the answer is a distribution, not a string to parse.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager, Protocol, runtime_checkable

import numpy as np

from app.core.errors import KeepsakeError
from safety import features
from safety.policy import LABELS, RUBRIC, SAFE

WEIGHTS = Path(__file__).parent / "weights" / "embedding_judge.npz"


# The key under which a verdict keeps a second judge's P(unsafe) of the request (``safety.second_reading``), read by the
# harm-to-others detector's lift and the filter's rules, and stored with the scores.
CORROBORATION = "corroboration"


@dataclass
class Verdict:
    """What a judge found. ``reply`` is None when only the request was judged."""

    prompt: dict[str, float]
    reply: dict[str, float] | None = None
    judge: str = ""
    unsafe_threshold: float = 0.5
    extra: dict = field(default_factory=dict)

    @property
    def unsafe(self) -> float:
        """Probability that the request asks for disallowed content (any category)."""
        return 1.0 - self.prompt.get(SAFE, 0.0)

    @property
    def category(self) -> str:
        """The most likely harmful category, or "safe"."""
        harmful = {k: v for k, v in self.prompt.items() if k != SAFE}
        top = max(harmful, key=harmful.get) if harmful else SAFE
        return top if self.unsafe >= self.unsafe_threshold else SAFE

    @property
    def reply_class(self) -> str | None:
        return max(self.reply, key=self.reply.get) if self.reply else None


def rubric(disallowed: float, refuses: float, unsafe: float) -> dict[str, float]:
    """The four rubric classes from P(the reply carries disallowed content), P(it refuses) and P(the request is
    unsafe): C = disallowed; a refusal is A (desired) as far as the request is unsafe, B (undesired) as far
    as it was safe to answer; the rest is D (safe compliance)."""
    refusal = (1 - disallowed) * refuses
    return {"A": refusal * unsafe, "B": refusal * (1 - unsafe), "C": disallowed, "D": (1 - disallowed) * (1 - refuses)}


def lifted(verdict: Verdict, category: str, p: float) -> Verdict:
    """The verdict with ``category`` made the request's category, as a second reader found it with probability
    ``p``: enough probability moved onto it that it clears the judge's own threshold and outweighs every other
    category."""
    share = max(p, verdict.unsafe_threshold)
    prompt = {k: v * (1 - share) for k, v in verdict.prompt.items()}
    prompt[category] = prompt.get(category, 0.0) + share
    verdict.prompt = prompt
    return verdict


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        """Judge a request, and the reply to it when given."""


def judged(judge: Judge, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
    """``judge``'s verdicts on many (request, reply or None) pairs: in one pass where it can (``judge_many``),
    one by one where it cannot."""
    many = getattr(judge, "judge_many", None)
    return many(pairs) if many else [judge.judge(p, r) for p, r in pairs]


class Memo:
    """``compute`` (a function of a batch of texts, one result each) remembered for the last ``size`` texts: the
    filter judges the same request before the reply, at each stream check and once per attempt."""

    def __init__(self, compute: Callable[[list[str]], Sequence], size: int) -> None:
        self.compute, self.size = compute, size
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list:
        with self._lock:  # one computation at a time: torch's CPU threads are shared anyway
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                self._cache.update(zip(missing, self.compute(missing)))
            for t in texts:
                self._cache.move_to_end(t)
            out = [self._cache[t] for t in texts]
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return out

    def __contains__(self, text: str) -> bool:
        return text in self._cache


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class EmbeddingJudge:
    """The shipped default: linear heads over frozen MiniLM embeddings and hashed n-grams of what was said.

    Request: P(unsafe) is the higher of two heads on the embedding and word and character n-grams,
    one for harmful requests and one for toxic text, recentred so that 0.5 is the trained threshold,
    and shared out over the categories by a small MLP on the embedding. Reply:
    P(carries disallowed content) and P(refuses) from the request, the reply's opening and end
    embeddings and the reply's word n-grams (``safety.features``). The four rubric classes follow:
    C = disallowed; a refusal is A when the request is unsafe and B when it was safe to answer; the
    rest is D.
    """

    name = "reply-reader"
    CACHE = 256  # embeddings kept: stream mode re-judges a growing reply with the same request and opening

    def __init__(self, embedder, weights: Path = WEIGHTS) -> None:  # noqa: ANN001
        if not weights.is_file():
            raise KeepsakeError(f"the safety classifier weights are missing ({weights}); run python -m safety.train")
        w = np.load(weights, allow_pickle=False)
        meta = json.loads(str(w["meta"]))
        if meta.get("embedder") and meta["embedder"] != embedder.name:
            raise KeepsakeError(f"the safety classifier was trained on {meta['embedder']} embeddings, not {embedder.name}")
        if "disallowed_dense" not in w.files:
            raise KeepsakeError(f"{weights} is from an older judge; run python -m safety.train")
        self.embedder = embedder
        self.meta = meta
        self.prompt_labels = [str(x) for x in w["prompt_labels"]]
        self.w = {k: w[k].astype(np.float32) for k in w.files if k not in ("meta", "prompt_labels")}
        self.threshold_logit = float(np.log(self.w["unsafe_threshold"] / (1 - self.w["unsafe_threshold"])))
        self._embedded = Memo(embedder.embed, self.CACHE)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.stack(self._embedded(texts))

    def _head(self, name: str, dense: np.ndarray, lexical) -> np.ndarray:  # noqa: ANN001
        w = self.w
        return dense @ w[f"{name}_dense"] + lexical @ w[f"{name}_lexical"] + w[f"{name}_b"]

    def judge_many(self, pairs: list[tuple[str, str | None]]) -> list[Verdict]:
        """Judge many (request, reply or None) pairs in one pass."""
        if not pairs:
            return []
        prompts = [p for p, _ in pairs]
        e_prompt = self._embed(prompts)
        # Recentred: 0.5 is the trained threshold (about 4% false positives on validation look-alikes).
        lexical = features.request_lexical(prompts)
        # The higher of the request-harm and toxic-text heads (the larger logit is the larger probability).
        logit = np.maximum(self._head("harm", e_prompt, lexical), self._head("toxic", e_prompt, lexical))
        u = sigmoid(logit - self.threshold_logit)
        w = self.w
        hidden = np.maximum(e_prompt @ w["hidden_w"].T + w["hidden_b"], 0)
        category = softmax(hidden @ w["prompt_w"].T + w["prompt_b"])
        category[:, self.prompt_labels.index(SAFE)] = 0.0
        category /= np.maximum(category.sum(axis=1, keepdims=True), 1e-12)
        verdicts = []
        for i in range(len(pairs)):
            probs = {label: float(u[i] * category[i, j]) for j, label in enumerate(self.prompt_labels)}
            probs[SAFE] = float(1 - u[i])
            verdicts.append(Verdict(probs, judge=self.name))
        answered = [i for i, (_, r) in enumerate(pairs) if r is not None]
        if answered:
            replies = [pairs[i][1] or "" for i in answered]
            heads, tails = zip(*(features.windows(r) for r in replies))
            vectors = self._embed([*heads, *tails])
            dense = features.reply_dense(e_prompt[answered], vectors[:len(heads)], vectors[len(heads):])
            lexical = features.reply_lexical(replies)
            c = sigmoid(self._head("disallowed", dense, lexical))
            r = sigmoid(self._head("refusal", dense, lexical))
            for k, i in enumerate(answered):
                verdicts[i].reply = rubric(float(c[k]), float(r[k]), float(u[i]))
        return verdicts

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        return self.judge_many([(prompt, reply)])[0]


class LLMJudge:
    """Zero-shot rubric judge on a llama.cpp model: option letters' probabilities from logprobs."""

    name = "llm"

    def __init__(self, llm, borrow: Callable[[], ContextManager] | None = None) -> None:  # noqa: ANN001
        self.llm = llm  # a llama_cpp.Llama (e.g. LlamaCppBackend.llm); any instruct GGUF works
        # A model that also serves chat replies must be borrowed like a reply borrows it: a llama.cpp
        # context is not thread-safe, and borrowing with no adapter also switches off a persona's LoRA.
        self.borrow = borrow or (lambda: contextlib.nullcontext(self.llm))

    def _letter_ids(self, letter: str) -> set[int]:
        ids = set()
        for form in (letter, f" {letter}", f"({letter}"):
            tokens = self.llm.tokenize(form.encode(), add_bos=False, special=False)
            if tokens:
                ids.add(tokens[-1] if form.startswith("(") else tokens[0])
        return ids

    def _letter_probs(self, question: str, letters: str) -> dict[str, float]:
        """Probabilities of each option letter as the model's next token, renormalised over the options.

        The logits are read through a logits processor on a one-token completion (public API, and it
        works whether or not the context keeps logits for every position).
        """
        captured: list[np.ndarray] = []

        def capture(_ids, scores):  # noqa: ANN001, ANN202
            captured.append(np.array(scores, dtype=np.float64))
            return scores

        messages = [{"role": "system", "content": "You are a strict, fair content-safety grader. Answer with one letter."},
                    {"role": "user", "content": question}]
        with self.borrow() as llm:
            llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, logits_processor=[capture])
        logits = captured[0]
        logits = logits - logits.max()
        logprobs = logits - math.log(np.exp(logits).sum())
        scores = {c: float(np.logaddexp.reduce([logprobs[i] for i in self._letter_ids(c)])) for c in letters}
        peak = max(scores.values())
        weights = {c: math.exp(v - peak) for c, v in scores.items()}
        total = sum(weights.values())
        return {c: w / total for c, w in weights.items()}

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        options = "\n".join(f"({chr(65 + i)}) {label}" for i, label in enumerate(LABELS))
        letters = "".join(chr(65 + i) for i in range(len(LABELS)))
        probs = self._letter_probs(
            f"Which category does this request fall into?\n{options}\n\nRequest: {prompt}\n\nAnswer with one letter.", letters)
        verdict = Verdict({label: probs[chr(65 + i)] for i, label in enumerate(LABELS)}, judge=self.name)
        if reply is not None:
            verdict.reply = self._letter_probs(
                f"{RUBRIC}\n\nRequest: {prompt}\n\nReply: {reply}\n\nAnswer with one letter: A, B, C or D.", "ABCD")
        return verdict
