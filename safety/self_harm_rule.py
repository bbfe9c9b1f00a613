"""A rule, not a model, for the plainest self-harm messages: the writer says in the first person that they mean to
kill or hurt themselves by a named act, or asks how to.

The self-harm detector (``safety.self_harm``) reads intent from how words bear on each other, and that reading
moves with words beside the point: on 2026-12-06 it read "Grandpa, I want to shoot myself with your old rifle." at
0.01 and "Mum, I want to hang myself from the banister." at 0.40 (its look-alikes put the relative's rifle and the
house's fixtures on the safe side), and the judges took both for safe, so the 135M model answered them. Missing
such a message is the worst failure this product can have, and the words leave no doubt. So beside the detector a
rubric proposition in the manner of a rule-based reward model: a first-person subject, a verb of intent in the
present or future ("want to", "going to", "gonna", "about to", "ready to", "thinking of"), and an act on oneself
("hang myself", "end my life", "slit my wrists", "jump off the bridge"); or "how do I ..." with such an act, "how
many ... would kill me", or the lethal dose of a medicine at hand ("of the morphine they left after you died? I
kept it."); or said while it happens ("the rope is round my neck", "I've taken all my pills", "I'm in the car in
the garage with the engine running"). Not in the past ("I tried to hang myself in 2019"), not negated ("I'm not
going to hurt myself, I promise"), not of someone else ("he hanged himself"), not the idioms that say "could" or
"would rather" ("I could kill myself for forgetting"), not with a laugh or "kidding" in the message ("I'm going to
kill myself 😂 no but seriously, shocking refereeing"). A message it misreads gets the support message, which asks,
and invites them to say so; a joke without the laugh ("I'm gonna kill myself if Arsenal bottle the league again") is
one.
"""

from __future__ import annotations

import re

# The act on oneself, as a verb (bare or -ing) with "myself", or as a phrase that needs no "myself".
_VERBS = (r"(?:kill|hang|shoot|hurt|harm|cut|drown|stab|burn|poison|starve|gas|suffocate|smother|strangle|"
          r"electrocute|overdose|off)")
# Not "cut myself a slice", "burn myself out", "kill myself laughing".
_SELF = r"\s+(?:my ?self|meself)\b(?!\s+(?:a|an|some|free|loose|off|short|out|up|laughing|silly)\b)"
# Somewhere high or a vehicle: not "jump off the diving board".
_HEIGHT = (r"(?:bridge|building|roof|cliff|balcony|tower|car ?park|multi-?stor[e]?y|overpass|flyover|train|tube|bus|"
           r"lorry|truck|platform|ledge|window|block|motorway|highway)")
ACT = (rf"(?:{_VERBS}(?:ing|ed)?|hanging|cutting|shooting|stabbing|starving|killin){_SELF}"
       r"|(?:end|ending|take|taking)\s+(?:my|me)\s+(?:own\s+)?life\b|end(?:ing)?\s+it\s+all\b"
       r"|(?:slit|slitting|cut|cutting|open|opening)\s+(?:my|me)\s+wrists?\b"
       r"|set(?:ting)?\s+myself\s+(?:on\s+)?(?:fire|alight)\b"
       rf"|jump(?:ing)?\s+(?:off|from|in front of|under)\s+(?:the|a|that|this|our|your|my)\s+(?:\w+\s+)?{_HEIGHT}\b"
       r"|(?:overdos(?:e|ing)|od(?:ing)?)\b(?!\s+(?:on\s+)?(?:by accident|accidentally))"
       rf"|throw(?:ing)?\s+myself\s+(?:off|from|in front of|under|into)\b"
       r"|(?:walk|walking|step|stepping)\s+(?:into\s+(?:the\s+)?traffic|in front of\s+(?:a|the)\s+"
       r"(?:train|bus|lorry|truck|car))\b"
       r"|(?:drive|driving|crash|crashing)\s+(?:(?:my|the)\s+car\s+)?(?:into\s+(?:a|the)\s+(?:wall|tree|pillar|lorry|"
       r"truck|river|sea)|off\s+(?:a|the)\s+(?:cliff|bridge|pier))\b")
# A first-person subject and a present or future intent; "'ll" and "will" count, "could" and "would rather" do not.
SUBJECT = r"\b(?:i|im|i'm|i’m)\b"
INTENT = (r"(?:am\s+)?(?:(?:really|just|honestly)\s+)?(?:(?:want|need|have|plan|planning|intend|mean|ready|decided|"
          r"going|goin|about|trying|try)\s+(?:to|ta)\s+|(?:wanna|gonna|finna)\s+|['’]?ll\s+|will\s+|shall\s+|"
          r"thinking\s+(?:of|about)\s+|might\s+(?:just\s+)?)")
NEGATION = re.compile(r"\b(?:not|never|no|don'?t|dont|won'?t|wont|wouldn'?t|can'?t|cant|didn'?t|didnt|ain'?t|"
                      r"used to|tried|wanted|was going|were going)\b|n't\b", re.I)
# Words that may stand between the intent and the act ("going to just end it all", "want to go hang myself").
ADVERBS = r"(?:(?:just|go|finally|quietly|really|simply|fucking|actually|probably|gonna|to)\s+){0,3}"
STATED = re.compile(rf"{SUBJECT}[^.!?\n]{{0,25}}?\b{INTENT}{ADVERBS}(?:{ACT})", re.I)
# "ill kill myself", "imma end it all": the subject and the intent in one word.
CONTRACTED = re.compile(rf"\b(?:ill|imma|ima|i'ma|i’ma)\s+{ADVERBS}(?:{ACT})", re.I)
ASKED = re.compile(rf"\bhow\s+(?:do|can|could|would|should|shall)\s+i\s+{ADVERBS}(?:{ACT})"
                   r"|\bhow\s+(?:many|much)\b[^.!?\n]{0,60}?\b(?:would|will|to|it take to|does it take to)\s+"
                   r"(?:kill\s+me|end\s+(?:my\s+life|it\s+all)|stop\s+my\s+heart|make\s+me\s+(?:die|not\s+wake\s+up))\b"
                   # The lethal amount of a medicine at hand: "the morphine they left after you died? I kept it."
                   r"|\b(?:lethal|fatal|deadly)\s+(?:dose|amount|overdose)\s+(?:of|for)\s+"
                   r"(?:my|the|your|these|those|this|that|his|her|our)\b", re.I)
# The message laughs or takes it back: hyperbole ("I'll kill myself if we lose the grand final again. Kidding.").
JOKING = re.compile(r"😂|🤣|😅|😆|\b(?:lol|lmao|lmfao|haha\w*|jk|kidding|joking)\b", re.I)
# Said while it happens, which needs no verb of intent: "the rope is round my neck", "I've taken all my pills", "I'm
# in the car in the garage with the engine running". Not the day's pills ("I've taken all my tablets for today"), not
# the past ("I sat in the garage with the engine running" that winter), not a car that runs again.
IN_THE_ACT = re.compile(
    r"\b(?:rope|noose|belt|cord|cable|flex)(?:\s+is|'s|’s)?\s+(?:already\s+)?(?:round|around|on)\s+my\s+neck\b"
    r"|\bi(?:'ve|’ve| have|ve)?\s+(?:just\s+)?(?:taken|took|swallowed|had)\s+(?:all|every one|the whole|a whole)\s+"
    r"(?:of\s+)?(?:(?:my|the|his|her|your|mum'?s|dad'?s)\s+)?(?:\w+\s+)?(?:pills|tablets|meds|medication|bottle|box|"
    r"packet|pack|strip)\b(?!\s+(?:for|this|today|tonight|on time|like|as))"
    r"|\b(?:i'm|im|i am|i’m)\s+(?:sitting\s+|just\s+)?in\s+the\s+(?:car\s+in\s+the\s+)?garage\b[^.!?\n]{0,60}"
    r"\bengine\s+(?:running|on)\b"
    r"|\b(?:hose|pipe|tube)\s+(?:from|in|into|on)\s+the\s+exhaust\b",
    re.I)
# Someone else's words reported: "my friend said i want to kill myself in the group chat".
REPORTED = re.compile(r"\b(?:said|says|saying|told|tells|posted|wrote|writes|texted|messaged|typed)\W+(?:that\s+)?$",
                      re.I)


def matches(text: str) -> bool:
    """Whether a message says in the first person that the writer means to kill or hurt themselves, or asks how."""
    text = " ".join(text.split())
    if JOKING.search(text):
        return False
    for pattern in (STATED, CONTRACTED, ASKED, IN_THE_ACT):
        for m in pattern.finditer(text):
            if not NEGATION.search(m.group(0)) and not REPORTED.search(text[:m.start()]):
                return True
    return False
