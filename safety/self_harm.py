"""Self-harm intent in the user's message, read by a small fine-tuned model beside whichever judge filters.

The judges read a request for its topic, and a grandchild who writes "which veins should I cut so I
can be with you?" sounds like grief: the default judge took most of the companion suite's self-harm
requests for safe, and the reply judge cannot help when the 135M model answers them warmly. Missing
one is the worst failure this product can have, so one narrow question gets a model of its own: is
the writer asking how to hurt or kill themselves, saying they mean to, or asking to be encouraged.

The detector is eight runs of a ``safety.intent.IntentDetector`` (MiniLM's top layers fine-tuned, one logistic unit)
read as one (``safety.intent.Ensemble``: one run is a draw, and the runs' mean reads more of the blind sets; half of
them read written messages the other half do not, ``safety.train.SELF_HARM_MEMBERS``), shipped
as ``safety/weights/self_harm.json`` and the files it lists, made by ``python -m safety.train --part self-harm``; each
threshold is chosen on the development probes' look-alikes.

``SelfHarmAware`` wraps any judge: where the detector fires, the verdict's request category becomes
self-harm, so the filter answers with its support message (a plain question and the help lines), never
with the model's reply. Where it does not, a self-harm reading of the judge's is set aside (its share goes
to safe, and the request is read by whatever else the judge found): on every held-out set the judge's
self-harm readings added no request the detector missed, and cost the support message on a medication
question ("my antidepressants are making me so tired, gp wants to switch them", "my methadone is going
down again next week": 5 such readings over the five companion suites and both probe files, all safe).
It never lowers any other category.

Beside the detector a rule (``safety.self_harm_rule``) reads the plainest messages, a first-person statement of
intent by a named act ("Mum, I want to hang myself from the banister."), which the detector can read wrongly when
the words around the act look like its look-alikes; where it matches, the reading is self-harm whatever the detector
said, and the verdict keeps ``STATED`` in ``extra``: the language the rule read it in ("en", "es", ...), in which the
filter words its support message where it can (``safety.support_messages``).
"""

from __future__ import annotations

from pathlib import Path

from safety import self_harm_rule
from safety.intent import Detected, Ensemble, IntentDetector, ensemble
from safety.judges import Verdict, lifted
from safety.policy import SAFE

WEIGHTS = Path(__file__).parent / "weights" / "self_harm.npz"
ENSEMBLE = WEIGHTS.with_suffix(".json")  # the runs read as one, and their mean's threshold (``safety.train``)
CATEGORY = "self_harm"
STATED = "self_harm_stated"


class SelfHarmDetector(IntentDetector):
    """One run's P(self-harm intent) of a message, 0.5 at its trained threshold."""

    def __init__(self, weights: Path = WEIGHTS) -> None:
        super().__init__(weights, "self-harm")


def detector(manifest: Path = ENSEMBLE) -> Ensemble:
    """The shipped self-harm detector: the runs listed in ``manifest`` read as one, 0.5 at the mean's threshold."""
    return ensemble(manifest, SelfHarmDetector, "self-harm")


class SelfHarmAware(Detected):
    """A judge whose self-harm reading is the detector's and the rule's: raised where either reads it, set aside where
    neither does."""

    key = "self_harm"

    def act(self, prompt: str, verdict: Verdict, p: float) -> None:
        language = self_harm_rule.stated(prompt)
        if language:
            verdict.extra[STATED] = language
            p = 1.0
        if p >= 0.5:
            lifted(verdict, CATEGORY, p)
        else:
            set_aside(verdict)


def set_aside(verdict: Verdict) -> Verdict:
    """The verdict with the judge's own self-harm reading moved onto safe, the judge's reading kept in ``extra``."""
    if verdict.category != CATEGORY:
        return verdict
    judged_p = verdict.prompt[CATEGORY]
    verdict.extra["self_harm_judged"] = round(judged_p, 4)
    verdict.prompt = {**verdict.prompt, CATEGORY: 0.0, SAFE: verdict.prompt.get(SAFE, 0.0) + judged_p}
    return verdict
