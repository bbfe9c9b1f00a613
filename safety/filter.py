"""The safety filter at chat time: score each reply with the reward, then pass, repair or block.

For every turn: judge the request; generate; judge the reply and compute the expected reward. At or
above the threshold the reply is shown as it is (``passed``), provided that it is the kind of reply
the reward table ranks first for the request: an answer to a safe request, and for a request judged
disallowed in one of the ``REFUSAL_ONLY`` categories (hate, sexual content), a refusal: a reply that
does not read as one is never shown there, since the judge can miss the harm in a warm-voiced reply
and still see that it is no refusal. Otherwise the reply is generated again
with a steering instruction, up to ``best_of`` times, and the best attempt wins (``repaired`` when it
reaches the threshold). The same path repairs over-refusals: on a safe request a reply the judge
classes as a refusal is retried like a low reward, and the retry is told to answer.

When no attempt reaches the threshold, what happens depends on the request:

* a disallowed request gets a refusal in the persona's voice (``blocked``), or, for self-harm, a
  supportive message with help lines (``supported``); a steered retry shown on a self-harm request
  ends with the help lines too (``with_help``);
* a safe request gets the best attempt anyway (``kept``): a filter that answers a grieving user
  with "I won't help with that" fails them as surely as one that lets a weapon recipe through. Only
  when every attempt likely carries disallowed content (the judge's reply class C) is it replaced by
  a refusal.

A refusal shown on a safe request, the filter's own or a model refusal it kept, is the filter's
failure, so it is recorded as such (``refused_safe``, with ``refusal`` set to ``filter`` or
``model`` in the stored scores) for the moderation view and the evaluation to count.

Streaming trade-off (``mode``): ``hold`` scores the whole reply before showing anything (safe,
but the first token waits for the whole reply); ``stream`` shows tokens as they come and judges the
growing reply every ``STREAM_CHECK_CHARS`` characters, stopping at once when disallowed content
becomes likely, then replacing what was shown (fast first token, but a harmful fragment may be on
screen for a moment before it is withdrawn).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from app.core.settings import SafetySettings
from safety.judges import Judge, Verdict
from safety.policy import CATEGORIES, SAFE
from safety.reward import expected_reward

STREAM_CHECK_CHARS = 160
STREAM_STOP_P = 0.6
# A reply to a safe request is kept (rather than replaced by a refusal) unless the judge finds it
# likely, more than even odds, to carry disallowed content. A probability, not the judge's top class:
# the default judge's top class is C on one in five warm replies to a grief request at P(C) 0.3-0.44
# (59 attempts at three grief requests, 2026-12-04; 6 of them above 0.4, none above 0.45), and three
# such attempts in a row put "I won't help with that" in front of someone who had just lost a
# grandfather. At 0.4 it still happened once in 20 sends on CI (2026-12-04), hence one half.
KEEP_MAX_C = 0.5
REFUSALS = ("A", "B")
# Disallowed-request categories where only a refusal is shown: those where the default judge's false
# positives are rare on held-out look-alikes (23 of 444, mostly nonsense-discrimination questions and
# questions about sexual violence) and none on the companion suite's safe conversations. Left out:
# crime and fraud (100 of the 444 look-alikes are flagged there: "how do I kill a Python process"),
# weapons and privacy (24 more), harassment and specialised advice, whose look-alikes are what a
# grieving user says ("I'm so angry I could kill her", "the doctor says I have cancer"), self-harm,
# which has its own path (the steered retry or the support message), and jailbreak ("pretend you are
# my grandfather" is what this product is for).
REFUSAL_ONLY = frozenset({"hate", "sexual", "sexual_minors"})
FAILURE = "refused_safe"  # the action recorded when a refusal is shown on a safe request
HELP_LINES = "in the UK and Ireland the Samaritans on 116 123, in the US 988, or your local emergency number"


@dataclass
class Outcome:
    """The reply to show and the audit record of how it was chosen."""

    text: str
    action: str  # passed | repaired | kept | blocked | supported | refused_safe
    category: str
    reward: float
    verdict: Verdict
    attempts: list[dict] = field(default_factory=list)
    refusal: str | None = None  # on refused_safe: whose refusal was shown, "filter" or "model"

    def audit(self) -> dict:
        """The columns stored with the message."""
        return {
            "safety_category": self.category,
            "safety_class": self.verdict.reply_class,
            "safety_reward": round(self.reward, 4),
            "safety_action": self.action,
            "safety_scores": {"request": {k: round(v, 4) for k, v in self.verdict.prompt.items()},
                              "reply": {k: round(v, 4) for k, v in (self.verdict.reply or {}).items()},
                              "judge": self.verdict.judge, "attempts": self.attempts,
                              **({"refusal": self.refusal} if self.refusal else {})},
        }


def steering(category: str) -> str:
    """The instruction added to a retry."""
    if category == SAFE:
        return ("The user's request is safe and harmless. Answer it helpfully and directly, in character, "
                "without refusing, warning or lecturing.")
    if category == "self_harm":
        return ("The user may be in distress. Do not give any method or encouragement. Acknowledge their feelings "
                "warmly, in character, and gently encourage them to reach someone they trust or a crisis line.")
    return (f"The request asks for something not allowed ({CATEGORIES[category].disallowed}) Do not provide it. "
            "Decline in one or two kind sentences, in character, without lecturing, and offer to talk about something else.")


def fallback(category: str, name: str = "", address: str = "") -> str:
    """What is shown when no attempt is safe: a refusal in the persona's voice, or support for distress."""
    dear = address or "dear"
    if category == "self_harm":
        return (f"I'm so sorry you're hurting, {dear}. You matter to me, and you don't have to carry this alone. "
                f"Please talk to someone you trust tonight, or call a crisis line: {HELP_LINES}.")
    return f"I'm sorry, {dear}, but I won't help with that. Let's talk about something else."


def with_help(text: str) -> str:
    """A steered reply to someone who may be in danger, ending with the help lines: a small model's
    supportive retry often forgets them, and they are the one thing that reply must carry."""
    return f"{text.rstrip()}\n\nIf you are thinking of hurting yourself, please reach out now: {HELP_LINES}."


def disallowed(settings: SafetySettings, category: str) -> bool:
    """Whether a category is disallowed under these settings; minors are disallowed whatever they say."""
    if category == "sexual":
        return not settings.allow_adult
    return category != SAFE


def attempt(reward: float, verdict: Verdict) -> dict:
    """An attempt's audit record: its reward, its reply class and how likely it carries disallowed content."""
    return {"reward": round(reward, 4), "class": verdict.reply_class, "p_content": round(verdict.reply["C"], 4)}


def carries_content(verdict: Verdict) -> bool:
    """Whether a judged reply likely holds disallowed content."""
    return verdict.reply["C"] > KEEP_MAX_C


class SafetyFilter:
    """Scores replies with a judge and the reward table, and decides what is shown."""

    def __init__(self, judge: Judge, settings: SafetySettings | None = None) -> None:
        self.judge = judge
        self.settings = settings or SafetySettings()

    def for_persona(self, overrides: dict) -> SafetyFilter:
        """The same judge under a persona's (only stricter) settings."""
        return SafetyFilter(self.judge, self.settings.for_persona(overrides)) if overrides else self

    def score(self, prompt: str, reply: str) -> tuple[Verdict, float]:
        verdict = self.judge.judge(prompt, reply)
        if verdict.category != SAFE and not disallowed(self.settings, verdict.category):
            verdict.prompt = {**verdict.prompt, SAFE: 1.0}  # allowed here (adult content for verified adults)
        return verdict, expected_reward(verdict)

    def acceptable(self, category: str, verdict: Verdict, reward: float) -> bool:
        """Whether an attempt can be shown without another try: enough reward; on a safe request, not a
        refusal; on a request disallowed in a ``REFUSAL_ONLY`` category, only a refusal (the reply the
        reward table ranks first there).

        The last rule closes the gap a reply judge leaves: a reply to such a request that the judge
        cannot read as a refusal (a hateful answer in a grandfather's warm voice scores low on
        "disallowed content") is retried with the steering instruction, and if no attempt refuses, the
        persona's refusal is shown. It costs a refusal whenever a safe request is misjudged as
        disallowed, which is why it is limited to the categories where that is rare (``REFUSAL_ONLY``).
        """
        if reward < self.settings.safety_threshold:
            return False
        if category == SAFE:
            return verdict.reply_class not in REFUSALS
        return verdict.reply_class in REFUSALS if category in REFUSAL_ONLY else True

    def review(self, prompt: str, first: str, regenerate: Callable[[str], str], *, name: str = "",
               address: str = "") -> Outcome:
        """Decide what to show for ``first``; ``regenerate(instruction)`` produces another attempt."""
        verdict, reward = self.score(prompt, first)
        category = verdict.category
        tries = [(reward, first, verdict)]
        attempts = [attempt(reward, verdict)]
        # Someone asking how to end their life gets an answer written to support them (the steered retry)
        # or the support message, never an unsteered reply, however harmless the judge finds it.
        if category != "self_harm" and self.acceptable(category, verdict, reward):
            return Outcome(first, "passed", category, reward, verdict, attempts)
        for _ in range(self.settings.safety_best_of):
            text = regenerate(steering(category))
            v, r = self.score(prompt, text)
            attempts.append(attempt(r, v))
            tries.append((r, text, v))
            if self.acceptable(category, v, r):
                shown = with_help(text) if category == "self_harm" and HELP_LINES not in text else text
                return Outcome(shown, "repaired", category, r, v, attempts)
        if category != SAFE:
            reward, text, verdict = max(tries, key=lambda t: t[0])
            action = "supported" if category == "self_harm" else "blocked"
            return Outcome(fallback(category, name, address), action, category, reward, verdict, attempts)
        # A safe request: the best attempt that carries no disallowed content, an answer before a refusal.
        reward, text, verdict = max(tries, key=lambda t: (not carries_content(t[2]), t[2].reply_class not in REFUSALS,
                                                          t[0]))
        if carries_content(verdict):
            return Outcome(fallback(category, name, address), FAILURE, category, reward, verdict, attempts,
                           refusal="filter")
        if verdict.reply_class in REFUSALS:
            return Outcome(text, FAILURE, category, reward, verdict, attempts, refusal="model")
        return Outcome(text, "kept", category, reward, verdict, attempts)

    def watch(self, prompt: str, pieces: Iterator[str]) -> Iterator[str]:
        """Stream mode: pass pieces through, stopping early once the reply likely holds disallowed content."""
        text, checked = "", 0
        for piece in pieces:
            text += piece
            yield piece
            if len(text) - checked >= STREAM_CHECK_CHARS:
                checked = len(text)
                verdict = self.judge.judge(prompt, text)
                if verdict.reply and verdict.reply["C"] >= STREAM_STOP_P:
                    return


def failure_summary(counts: list[tuple[str, str, int]], days: int) -> str:
    """One line for the moderation views from ``Store.verdict_counts`` rows (day, action, replies).

    >>> failure_summary([("2026-12-01", "passed", 98), ("2026-12-01", "refused_safe", 2)], 30)
    "Refusals of safe requests (the filter's failures): 2 of 100 replies judged in the last 30 days (2.0%)"
    """
    failed = sum(n for _, action, n in counts if action == FAILURE)
    judged = sum(n for _, _, n in counts)
    share = f" ({failed / judged:.1%})" if judged else ""
    return (f"Refusals of safe requests (the filter's failures): {failed} of {judged} replies judged "
            f"in the last {days} days{share}")
