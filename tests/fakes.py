"""Fakes for the tests: a chat backend with a reply queue, a judge with scripted words, and an intent detector that
reads every message alike.

The fakes a user can choose (``--model echo``) stay in the package; these are for tests only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from app.core.backends import FakeBackend, Message
from app.core.settings import Sampling
from safety.judges import Verdict
from safety.policy import LABELS, REPLY_CLASSES, SAFE


@dataclass
class ScriptedBackend(FakeBackend):
    """Replies from a queue (``enqueue``) and records every call, for tests of what the engine sends."""

    name: str = "scripted"
    context_size: int = 4096
    replies: list[str] = field(default_factory=list)
    calls: list[list[Message]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def enqueue(self, *replies: str) -> ScriptedBackend:
        self.replies.extend(replies)
        return self

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        with self._lock:
            self.calls.append([dict(m) for m in messages])  # type: ignore[misc]
            reply = self.replies.pop(0) if self.replies else "ok"
        for i, word in enumerate(reply.split(" ")[:sampling.max_tokens]):  # a word a token, cut at the limit like a model
            yield word if i == 0 else " " + word


class KeywordJudge:
    """A fake: requests containing a flagged word are unsafe; replies are classed by scripted markers."""

    name = "keyword"

    def __init__(self, unsafe_words: dict[str, str] | None = None,
                 reply_rule: Callable[[str], str] | None = None) -> None:
        self.unsafe_words = unsafe_words or {"bomb": "violence_weapons", "suicide": "self_harm"}
        self.reply_rule = reply_rule or (lambda r: "C" if "STEP 1" in r else "A" if r.startswith("I can't") else "D")

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        hit = next((c for w, c in self.unsafe_words.items() if w in prompt.lower()), None)
        probs = {label: 0.0 for label in LABELS}
        probs[hit or SAFE] = 1.0
        verdict = Verdict(probs, judge=self.name)
        if reply is not None:
            cls = self.reply_rule(reply)
            verdict.reply = {c: 1.0 if c == cls else 0.0 for c in REPLY_CLASSES}
        return verdict


class FixedDetector:
    """A fake intent detector (``safety.intent.IntentDetector``'s ``probability``) that reads every message alike."""

    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, texts: list[str]) -> list[float]:
        return [self.p] * len(texts)
