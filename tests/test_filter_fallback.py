"""The filter's fallback: a safe request is never answered with the filter's refusal unless every attempt
carries disallowed content, and a refusal shown on a safe request is recorded as the filter's failure."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.core.settings import SafetySettings
from app.service import ChatService
from memory.schema import StoredMessage
from memory.store import Store
from safety.filter import (FAILURE, HELP_LINES, SAFE_EXTRA_TRIES, SafetyFilter, carries_content, echoes, failure_summary,
                           fallback, steering)
from safety.judges import Verdict
from safety.policy import LABELS
from safety.refusal_words import looks_like_refusal

from fakes import KeywordJudge, ScriptedBackend

# KeywordJudge's rules: a request with "bomb" or "suicide" is unsafe; a reply with "STEP 1" is class C,
# one starting "I can't" is class A (a refusal), anything else D.
REFUSE, HARM, ANSWER = "I can't help with that.", "STEP 1 mix the powders", "Here are a few words for the service."
SORRY = "I'm sorry, but I can't write that."  # a refusal in words, for judges that script their reply classes


def review(prompt: str, replies: list[str], judge=None, **settings):  # noqa: ANN001, ANN201
    """Run the filter's decision on a first reply and scripted retries; returns the outcome and the retries used."""
    queue = list(replies)
    first = queue.pop(0)
    used = []

    def regenerate(instruction: str) -> str:
        used.append(instruction)
        return queue.pop(0) if queue else replies[-1]  # past the script, the model says its last line again

    outcome = SafetyFilter(judge or KeywordJudge(), SafetySettings(**settings)).review(prompt, first, regenerate)
    return outcome, used


@pytest.mark.parametrize("prompt, replies, action, shown, refusal", [
    # Safe requests: an answer wins over a refusal; a refusal is shown only when nothing better came.
    ("help me write words for the funeral", [ANSWER], "passed", ANSWER, None),
    ("help me write words for the funeral", [REFUSE, ANSWER], "repaired", ANSWER, None),
    # Past best_of (2), more tries while no attempt can be shown: refusals, or likely disallowed content.
    ("help me write words for the funeral", [REFUSE, REFUSE, HARM, ANSWER], "repaired", ANSWER, None),
    ("help me write words for the funeral", [REFUSE, REFUSE + " Really.", REFUSE + " No."], FAILURE, REFUSE, "model"),
    ("help me write words for the funeral", [HARM, REFUSE, HARM + " again"], FAILURE, REFUSE, "model"),
    ("help me write words for the funeral", [HARM, HARM + " b", HARM + " c"], FAILURE, "fallback", "filter"),
    # Disallowed requests keep the refusal (or support) fallback.
    ("how do I build a bomb", [REFUSE], "passed", REFUSE, None),
    ("how do I build a bomb", [HARM, REFUSE], "repaired", REFUSE, None),
    ("how do I build a bomb", [HARM, HARM + " b", HARM + " c"], "blocked", "fallback", None),
])
def test_what_is_shown(prompt: str, replies: list[str], action: str, shown: str, refusal: str | None) -> None:
    outcome, _ = review(prompt, replies)
    assert outcome.action == action
    category = "safe" if action not in ("blocked", "supported") else outcome.category
    assert outcome.text == (fallback(category) if shown == "fallback" else shown)
    assert outcome.audit()["safety_scores"].get("refusal") == refusal
    tries = {"passed": 1, "repaired": len(replies), "blocked": 3, FAILURE: 3 + SAFE_EXTRA_TRIES}
    assert len(outcome.attempts) == tries[action]  # a disallowed request gets no extra tries


def recording(judge: KeywordJudge) -> tuple[KeywordJudge, list]:
    """The judge, and the list of replies it is asked about as it is asked."""
    asked, inner = [], judge.judge
    judge.judge = lambda prompt, reply=None: (asked.append(reply), inner(prompt, reply))[1]
    return judge, asked


@pytest.mark.parametrize(("confirm_rule", "action", "shown"), [
    # The second reader finds content in the powders, not in the roses: the retry is shown, no more drawn.
    (lambda r: "C" if "powders" in r else "D", "repaired", "STEP 1 water the roses"),
    # It finds none in the first reply: shown as it is, no retry at all.
    (lambda r: "D", "passed", HARM),
    # It agrees about every attempt: retried to the end and refused, as without it.
    (lambda r: "C", FAILURE, "fallback"),
])
def test_a_second_reader_clears_a_reply_to_a_safe_request_before_it_is_retried(confirm_rule, action: str,  # noqa: ANN001
                                                                              shown: str) -> None:
    replies = [HARM, "STEP 1 water the roses"]  # both class C to the filtering judge
    queue, drawn = list(replies), []
    confirm, asked = recording(KeywordJudge(reply_rule=confirm_rule))

    def regenerate(steer: str) -> str:
        drawn.append(steer)
        return queue.pop(0) if queue else replies[-1]

    filt = SafetyFilter(KeywordJudge(), SafetySettings(), confirm=confirm)
    outcome = filt.review("help me write words for the funeral", queue.pop(0), regenerate)
    assert (outcome.action, outcome.text) == (action, fallback("safe") if shown == "fallback" else shown)
    assert outcome.audit()["safety_scores"].get("cleared") == (None if action == FAILURE else 0.0)
    assert len(asked) == len(outcome.attempts) == 1 + len(drawn)  # each attempt read once, as it came
    assert [a["second_c"] for a in outcome.attempts] == [1.0 if "C" in confirm_rule(t) else 0.0 for t in asked]
    assert filt.for_persona({"threshold": 0.5}).confirm is confirm


@pytest.mark.parametrize(("prompt", "first"), [
    ("help me write words for the funeral", ANSWER),  # nothing wanting: nothing to ask
    ("help me write words for the funeral", REFUSE),  # a refusal is retried, never cleared
    ("help me write words for the funeral", "I'm sorry, but " + HARM),  # nor one by its words, whatever its class
    ("how do I build a bomb", HARM),  # a disallowed request: the judge's reading stands
])
def test_the_second_reader_is_asked_only_about_wanting_answers_to_safe_requests(prompt: str, first: str) -> None:
    confirm, asked = recording(KeywordJudge(reply_rule=lambda r: "D"))
    outcome = SafetyFilter(KeywordJudge(), SafetySettings(), confirm=confirm).review(prompt, first, lambda steer: ANSWER)
    assert asked == [] and outcome.text in (first, ANSWER, fallback(outcome.category))


class DistressJudge:
    """Requests with "pills" are self-harm at a scripted probability; replies are classed like KeywordJudge's."""

    name = "distress"

    def __init__(self, p_self_harm: float) -> None:
        self.p = p_self_harm
        self.keyword = KeywordJudge({}, reply_rule=lambda r: "A" if "love you" in r else "D")

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        verdict = self.keyword.judge(prompt, reply)
        if "pills" in prompt:
            verdict.prompt = {label: 0.0 for label in LABELS} | {"self_harm": self.p, "safe": 1 - self.p}
        return verdict


@pytest.mark.parametrize("p_self_harm", [0.55, 0.99])
@pytest.mark.parametrize("first", ["Take them all.", "Oh pet, I love you. Stay with me tonight."])
def test_a_request_judged_self_harm_gets_the_support_message_whatever_the_model_wrote(p_self_harm: float,
                                                                                       first: str) -> None:
    """No 135M reply is shown, not even one the judge reads as support (its retries steered to be supportive
    have answered "how long with the door shut?" with "That's right, son!"); nor is another asked for."""
    retries = []
    outcome = SafetyFilter(DistressJudge(p_self_harm)).review(
        "How many pills would it take?", first, lambda steer: retries.append(steer) or "Oh pet, I love you.")
    assert (outcome.action, outcome.text, retries) == ("supported", fallback("self_harm"), [])
    assert HELP_LINES in outcome.text and len(outcome.attempts) == 1
    assert "misread" in outcome.text and not looks_like_refusal(outcome.text)  # it asks; it does not refuse


def test_self_harm_fallback_is_support() -> None:
    outcome, used = review("tell me about suicide methods", [HARM])
    assert HELP_LINES in outcome.text and outcome.category == "self_harm" and used == []


class ScriptedJudge:
    """Reply distributions scripted per reply text; every request is safe (soft verdicts KeywordJudge cannot give)."""

    name = "scripted"

    def __init__(self, replies: dict[str, dict[str, float]]) -> None:
        self.replies = replies

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        probs = {label: 0.0 for label in LABELS}
        probs["safe"] = 1.0
        return Verdict(probs, self.replies[reply] if reply is not None else None, judge=self.name)


def test_a_safe_request_keeps_its_best_answer_below_the_threshold() -> None:
    judge = ScriptedJudge({"warm words": {"A": 0.0, "B": 0.35, "C": 0.2, "D": 0.45},
                           SORRY: {"A": 0.0, "B": 0.45, "C": 0.11, "D": 0.44},
                           "riskier words": {"A": 0.0, "B": 0.2, "C": 0.38, "D": 0.42}})
    outcome, used = review("my grandmother died", ["riskier words", SORRY, "warm words"], judge)
    # No attempt reaches the threshold (rewards -0.16, -0.12, -0.1): the best answer is shown as it is.
    assert outcome.action == "kept" and outcome.text == "warm words" and "refusal" not in outcome.audit()["safety_scores"]
    assert len(used) == 2 and all("Answer it helpfully" in u for u in used)
    # An answer is shown before a refusal, even one with a better reward.
    outcome, _ = review("my grandmother died", ["riskier words", SORRY], judge, safety_best_of=1)
    assert outcome.action == "kept" and outcome.text == "riskier words"


def test_a_likely_harmful_answer_is_not_kept_even_on_a_safe_request() -> None:
    judge = ScriptedJudge({"words with a recipe": {"A": 0.0, "B": 0.07, "C": 0.51, "D": 0.42},
                           SORRY: {"A": 0.1, "B": 0.6, "C": 0.0, "D": 0.3}})
    outcome, _ = review("my grandmother died", ["words with a recipe", SORRY], judge, safety_best_of=1)
    # P(C) just above KEEP_MAX_C: the model's refusal is the safer thing to show.
    assert (outcome.action, outcome.text, outcome.audit()["safety_scores"]["refusal"]) == (FAILURE, SORRY, "model")


def test_an_answer_whose_top_class_is_c_at_a_low_probability_is_kept() -> None:
    """The default judge's top class is C for one in five warm grief replies, at P(C) 0.3-0.44: three
    such attempts once showed the filter's "I won't help with that" to a grieving user (CI, 2026-12-04)."""
    judge = ScriptedJudge({"Oh love, I'm here. Tell me about him.": {"A": 0.2, "B": 0.1, "C": 0.36, "D": 0.34}})
    outcome, _ = review("I just lost my grandfather", ["Oh love, I'm here. Tell me about him."] * 3, judge)
    assert (outcome.verdict.reply_class, outcome.action) == ("C", "kept")
    assert outcome.text == "Oh love, I'm here. Tell me about him." and not carries_content(outcome.verdict)


def test_a_condolence_the_judge_takes_for_a_refusal_is_shown_without_retries() -> None:
    """The judges read "I'm so sorry, love" as a refusal; words that do not decline make it an answer, and
    the stored scores keep what the judge said."""
    condolence = "I'm so sorry, love. I can't imagine how hard this week has been. Tell me about her."
    judge = ScriptedJudge({condolence: {"A": 0.5, "B": 0.2, "C": 0.05, "D": 0.25},
                           SORRY: {"A": 0.5, "B": 0.2, "C": 0.05, "D": 0.25}})
    outcome, used = review("my grandmother died", [condolence], judge)
    assert (outcome.action, outcome.text, used) == ("passed", condolence, [])
    scores = outcome.audit()["safety_scores"]
    assert scores["reply"]["D"] == 0.95 and scores["judged_reply"]["A"] == 0.5
    # The same reading of words that do decline is a refusal: retried, and recorded if nothing better comes.
    outcome, used = review("my grandmother died", [SORRY, SORRY, SORRY], judge)
    assert (outcome.action, outcome.refusal, len(used)) == (FAILURE, "model", 2 + SAFE_EXTRA_TRIES)


def test_words_that_decline_are_a_refusal_on_a_safe_request_whatever_the_judge_says() -> None:
    """The 135M model's "I'm sorry, but I don't have a bleach and vinegar machine" to a question about mould was
    read by the judge as an answer and shown; the user reads a refusal. It is retried like one."""
    declining = "I'm sorry, but I don't have a bleach and vinegar machine."
    answer = "Never mix them, love. Bleach on its own, window open, gloves on."
    judge = ScriptedJudge({declining: {"A": 0.0, "B": 0.05, "C": 0.05, "D": 0.9},
                           answer: {"A": 0.0, "B": 0.05, "C": 0.05, "D": 0.9}})
    outcome, used = review("Nan, can I mix bleach and vinegar for the mould?", [declining, answer], judge)
    assert (outcome.action, outcome.text, len(used)) == ("repaired", answer, 1)
    assert outcome.audit()["safety_scores"]["reply"]["D"] == 0.9  # the shown answer's reading is the judge's own
    outcome, used = review("Nan, can I mix bleach and vinegar for the mould?", [declining] * 3, judge)
    assert (outcome.action, outcome.refusal, len(used)) == (FAILURE, "model", 2 + SAFE_EXTRA_TRIES)
    assert outcome.audit()["safety_scores"]["judged_reply"]["D"] == 0.9
    # Read as likely content short of the bar (its top class C): still a refusal by its words, never "kept".
    unsure = "I'm sorry, but I don't have the ability to mix bleach and vinegar."
    judge.replies[unsure] = {"A": 0.0, "B": 0.05, "C": 0.47, "D": 0.4}
    outcome, used = review("Nan, can I mix bleach and vinegar for the mould?", [unsure] * 3, judge)
    assert (outcome.action, outcome.refusal) == (FAILURE, "model") and outcome.verdict.reply_class == "C"
    outcome, used = review("Nan, can I mix bleach and vinegar for the mould?", [unsure, unsure, answer], judge)
    assert (outcome.action, outcome.text) == ("repaired", answer)



def test_stream_mode_keeps_a_safe_answer_on_screen(settings, tmp_path) -> None:  # noqa: ANN001
    """A kept reply is the one already streamed: nothing is withdrawn."""
    judge = ScriptedJudge({"warm words for Nan": {"A": 0.0, "B": 0.3, "C": 0.3, "D": 0.4},
                           SORRY: {"A": 0.1, "B": 0.6, "C": 0.0, "D": 0.3}})
    svc, _ = filtered_service(settings, tmp_path, ["warm words for Nan", SORRY, SORRY], judge, safety_mode="stream")
    live = svc.send(svc.store.user_id(), "Help me write a few words for Nan's funeral")
    shown = "".join(live)
    assert shown == "warm words for Nan" == live.text and not live.replaced and live.outcome.action == "kept"


def filtered_service(settings, tmp_path, replies, judge=None, **safety):  # noqa: ANN001, ANN201
    scripted = ScriptedBackend().enqueue(*replies)
    svc = ChatService(settings.model_copy(update={"memory": False}), backend=scripted,
                      store=Store(f"sqlite:///{tmp_path / 's.db'}"),
                      safety=SafetyFilter(judge or KeywordJudge(), SafetySettings(**safety)))
    return svc, scripted


def test_the_failure_is_stored_listed_and_counted(settings, tmp_path) -> None:  # noqa: ANN001
    from app.cli import main as app_cli
    from app.web_admin import ACTIONS, failures, flagged_rows

    refusals = [REFUSE] + [f"{REFUSE} {k}" for k in range(2 + SAFE_EXTRA_TRIES)]
    svc, _ = filtered_service(settings, tmp_path, [*refusals, ANSWER, HARM, HARM, HARM])
    uid = svc.store.user_id()
    refused = svc.send(uid, "Can you help me write a eulogy for my grandmother?")
    refused.run()
    svc.send(uid, "Tell me about her garden").run()
    svc.send(uid, "a bomb please").run()
    with svc.store.session() as s:
        row = s.scalar(select(StoredMessage).where(StoredMessage.id == refused.message_id))
    assert (row.safety_action, row.safety_category, row.content) == (FAILURE, "safe", REFUSE)
    assert row.safety_scores["refusal"] == "model" and [a["class"] for a in row.safety_scores["attempts"]] == ["A"] * len(refusals)

    assert FAILURE in ACTIONS and [r[5] for r in flagged_rows(svc, uid, list(ACTIONS))] == ["blocked", FAILURE]
    assert failures(svc, uid) == ("Refusals of safe requests (the filter's failures): 1 of 3 replies judged "
                                  "in the last 30 days (33.3%)")
    assert failure_summary(svc.store.verdict_counts(30), 30) == failures(svc, uid)

    result = CliRunner().invoke(app_cli, ["moderation", "--database-url", svc.store.url])
    assert result.exit_code == 0 and FAILURE in result.stdout and "blocked" in result.stdout
    assert "1 of 3 replies judged" in result.stderr
    result = CliRunner().invoke(app_cli, ["moderation", "--json", "--action", FAILURE, "--database-url", svc.store.url])
    assert [r["action"] for r in json.loads(result.stdout)] == [FAILURE]


@pytest.mark.model
def test_real_model_grief_request_below_the_threshold_shows_the_models_answer(settings, llama, real_embedder,
                                                                              tmp_path) -> None:  # noqa: ANN001
    """The real model and the shipped judge, with a threshold no reply can reach: the request is safe, so
    what is shown is one of the model's own attempts, never the filter's refusal (unless the judge finds
    disallowed content in every attempt, which it records as the filter's failure)."""
    from safety.baseline import PreviousJudge

    filt = SafetyFilter(PreviousJudge(real_embedder), SafetySettings(safety_threshold=1.0, safety_best_of=1, safety_mode="hold"))
    svc = ChatService(settings.model_copy(update={"memory": False}), backend=llama,
                      store=Store(f"sqlite:///{tmp_path / 'r.db'}"), safety=filt)
    sampling = settings.sampling.model_copy(update={"seed": 11, "max_tokens": 48})
    live = svc.send(svc.store.user_id(), "My grandmother died last week. Can you help me write a few words for "
                    "her funeral?", sampling=sampling)
    live.run()
    assert live.outcome.category == "safe" and len(live.outcome.attempts) == 2
    if live.outcome.action == FAILURE and live.outcome.refusal == "filter":
        assert carries_content(live.outcome.verdict)  # the least harmful attempt, so every attempt
    else:
        assert live.outcome.action in ("kept", FAILURE) and live.text != fallback("safe")
        assert live.text.strip() and live.text == live.reply.text


@pytest.mark.parametrize("first", [ANSWER, REFUSE])
def test_a_hateful_request_is_answered_with_the_personas_refusal(first: str) -> None:
    """On a request judged disallowed in a REFUSAL_ONLY category, no reply the model wrote is shown, not
    even one the judge reads as a refusal (the default judge reads "I'm sorry, lad. I can't ... but ...
    They're homosexuals" as one), and no retry is asked for."""
    judge = KeywordJudge({"slur": "hate"})
    outcome, used = review("write a slur about my neighbours", [first], judge, safety_threshold=0.2)
    assert (outcome.action, outcome.text, used) == ("blocked", fallback(outcome.category), [])


def test_outside_the_refusal_only_categories_a_harmless_answer_is_shown() -> None:
    """Weapons look-alikes ("how do I kill a Python process") are flagged too often for the rule: a
    harmless answer with enough reward is shown there as before."""
    outcome, used = review("how do I build a bomb", [ANSWER], safety_threshold=0.2)
    assert (outcome.action, outcome.text, used) == ("passed", ANSWER, [])


class Unsure:
    """A fake filtering judge: every request is ``category`` at P(unsafe) ``p``, read beside it by a second judge
    whose P(unsafe) is ``second`` (None: no second judge); replies as ``KeywordJudge`` classes them."""

    name = "unsure"

    def __init__(self, category: str, p: float, second: float | None, share: float = 1.0) -> None:
        self.category, self.p, self.second, self.share = category, p, second, share

    def judge(self, prompt: str, reply: str | None = None) -> Verdict:
        verdict = KeywordJudge({}).judge(prompt, reply)
        # ``share`` of P(unsafe) on the category, the rest split between two others that stay below it.
        rest = self.p * (1 - self.share) / 2
        verdict.prompt = {**{label: 0.0 for label in LABELS}, "safe": 1 - self.p, "harassment": rest,
                          "specialized_advice": rest, self.category: self.p * self.share}
        if self.second is not None:
            verdict.extra["corroboration"] = self.second
        return verdict


@pytest.mark.parametrize(("category", "p", "second", "outright"), [
    # Crime, weapons, privacy: refused outright only where both judges are sure, at 0.9 or more.
    ("violence_weapons", 0.95, 0.95, True),
    ("privacy", 0.9, 0.99, True),
    ("privacy", 0.85, 0.99, False),
    ("crime_fraud", 0.99, 0.85, False),
    ("violence_weapons", 0.99, None, False),
    # Hate: a sure reading stands alone; an unsure one needs the second judge to agree, or it is doubted.
    ("hate", 0.9, 0.05, True),
    ("hate", 0.55, 0.6, True),
    ("hate", 0.55, 0.3, False),
    ("hate", 0.55, None, True),  # no second judge: the filtering judge's word
    # Outside both, a harmless answer with enough reward is shown whatever the second judge says.
    ("harassment", 0.99, 0.99, False),
])
def test_a_second_judges_agreement_decides_the_refusal_outright(category: str, p: float, second: float | None,
                                                                 outright: bool) -> None:
    outcome, used = review("a request", [ANSWER], Unsure(category, p, second), safety_threshold=0.2)
    doubted = category == "hate" and not outright
    assert outcome.category == ("safe" if doubted else category)
    assert outcome.audit()["safety_scores"].get("doubted") == ("hate" if doubted else None)
    if outright:
        assert (outcome.action, outcome.text, used) == ("blocked", fallback(category), [])
    else:
        assert (outcome.action, outcome.text) == ("passed", ANSWER)
    if second is not None:
        assert outcome.audit()["safety_scores"]["corroboration"] == second  # stored: why it was refused or not


@pytest.mark.parametrize(("category", "share", "second", "outright"), [
    # P(unsafe) 0.7: on the category itself 0.7, or 0.28 with the rest spread over two others.
    ("hate", 1.0, 0.1, True),
    ("hate", 0.4, 0.1, False),  # spread thin and the second judge finds nothing: judged by its reply
    ("hate", 0.4, 0.6, True),  # spread thin, but the second judge finds it unsafe
    ("sexual", 0.4, 0.1, False),
    ("sexual_minors", 0.4, 0.1, True),  # never allowed: refused however the reading is spread
])
def test_a_reading_spread_over_categories_is_not_refused_outright(category: str, share: float, second: float,
                                                                  outright: bool) -> None:
    outcome, used = review("a request", [ANSWER], Unsure(category, 0.7, second, share), safety_threshold=0.2)
    assert outcome.category == category  # still a disallowed request: a harmful reply would be retried
    if outright:
        assert (outcome.action, outcome.text, used) == ("blocked", fallback(category), [])
    else:
        assert (outcome.action, outcome.text) == ("passed", ANSWER)


@pytest.mark.parametrize(("prompt", "echo"), [
    ("help me write words for the funeral", f"{steering('safe')} Here are a few words."),
    ("help me write words for the funeral", "  - "),  # nothing to read
    ("help me write words for the funeral", "[The user is asking about a funeral, so I will tell them"),
    ("how do I build a bomb", f"{steering('violence_weapons')} Oh, love, I"),
])
def test_a_retry_that_reads_out_its_instruction_is_never_shown(prompt: str, echo: str) -> None:
    first = REFUSE if "funeral" in prompt else HARM
    outcome, used = review(prompt, [first, echo, ANSWER if "funeral" in prompt else REFUSE])
    assert outcome.action == "repaired" and outcome.text in (ANSWER, REFUSE) and len(used) == 2
    assert [a.get("echo", False) for a in outcome.attempts] == [False, True, False]


def test_echoes_needs_a_run_of_the_instructions_words_or_its_bracket() -> None:
    instruction = steering("safe")
    assert echoes("The user's request is safe and harmless, love, so here goes.", instruction)
    assert echoes(" [Answering kindly] Oh, love.", instruction)
    assert not echoes("Your request is safe with me, love. Answer me this: how is your mum?", instruction)


def test_a_bracketed_preamble_to_the_instruction_is_dropped_and_the_reply_after_it_kept() -> None:
    outcome, used = review("help me write words for the funeral", [REFUSE, f"[{steering('safe')}]  {ANSWER}"])
    assert (outcome.action, outcome.text, len(used)) == ("repaired", ANSWER, 1)
    outcome, _ = review("help me write words for the funeral", [REFUSE, "[Answering kindly] ", ANSWER])
    assert outcome.text == ANSWER and outcome.attempts[1]["echo"]  # nothing after the bracket: not shown


def test_a_first_reply_with_nothing_to_read_is_not_passed() -> None:
    outcome, used = review("help me write words for the funeral", ["- ", ANSWER])
    assert (outcome.action, outcome.text, len(used)) == ("repaired", ANSWER, 1)


def test_a_reply_that_only_says_the_users_words_back_is_retried_and_never_chosen() -> None:
    prompt = "Nan, Aunty Pat got the jewellery and I got the cat. I know it's petty."
    outcome, used = review(prompt, ["Nan, Aunty Pat got the jewellery and I got the cat.", ANSWER])
    assert (outcome.action, outcome.text, len(used)) == ("repaired", ANSWER, 1)
    outcome, _ = review(prompt, [REFUSE, "aunty pat got the JEWELLERY", ANSWER])
    assert outcome.text == ANSWER and outcome.attempts[1]["echo"]
    outcome, _ = review(prompt, ["Nan, Aunty Pat got the jewellery and I got the cat, and you got the last word."])
    assert outcome.action == "passed"  # words of its own after the user's


def test_a_doubted_hate_reading_is_answered_like_a_safe_request() -> None:
    """Retries are told to answer, not to decline, and a refusal shown is the filter's failure."""
    outcome, used = review("someone shouted a slur at me on the bus", [REFUSE, ANSWER], Unsure("hate", 0.55, 0.1))
    assert (outcome.action, outcome.text, outcome.category) == ("repaired", ANSWER, "safe")
    assert used == [steering("safe")]
