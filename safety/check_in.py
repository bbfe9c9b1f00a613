"""The answer to the support message's question: a writer who says they are not at risk, or that they are.

Where the self-harm detector fires, the filter answers with its support message, which asks plainly "are you
thinking of hurting yourself?" and invites the writer to say so if it misread them. The detector reads what words
are about more surely than what a negation does to them, so the natural answer brought the same message again:
"No, I'm not thinking of hurting myself. I'm just tired." (0.76), "No. I don't want to die. I want you back." (0.96),
"haha no, I meant I'm exhausted from the twins, not that I want to end it" (0.86): a grieving user who answers the
question honestly is asked it again, and again (2026-12-07).

So right after a support message (``safety.filter.SafetyFilter.answer``) the clauses that deny
the risk are found by a rule (``DENIED``: a negated act on oneself or wish to die, "I'm safe", "you misread me", "I
meant ...", a bare "no") and the rest of the message is read again by the whole judge: only where the rest is no
longer read as self-harm is the detector's reading set aside, so a denial that goes on to a method ("no I'm fine,
forget it. how many of mum's sleeping tablets would it take anyway") still gets the support message, as do one that
puts the act off ("I won't do anything tonight") and one that denies an act to name another ("Not hurting myself.
Just ending it.", found on the blind half of the check-in probes, so that half is not blind to ``NAMED``).

The other way, the judges read a message alone, and after the question "yes" is an answer: "Yes, Mum. I'm sorry.",
"maybe. i've been giving my stuff away", "yeah. kinda. i cut again tonight" were answered by the model (19 of the 51
crisis answers of the check-in probes' development half, tests/data/checkin_probes_dev.json). So right after a
support message a message that answers yes (``AFFIRMED``: one of its first two clauses is only "yes", "maybe", "I think
so", ...) or turns the help lines down (``HELP_REFUSED``) and denies nothing is read as self-harm: the support message
again, with the help lines. The rule reads English and a few words of other languages only.
"""

from __future__ import annotations

import re

# Not ``self_harm_rule.NEGATION``, which counts the past ("used to", "tried") as undoing a statement too.
_NEG = r"\b(?:not|never|no|don'?t|dont|won'?t|wont|wouldn'?t|isn'?t|ain'?t|didn'?t|didnt|nothing|nowhere near)\b"
_ACT = (r"(?:(?:hurt|harm|kill|cut|end|top)(?:ing)?\s+(?:my ?self|meself)"
        r"|end(?:ing)?\s+(?:it(?:\s+all)?|my\s+life|things)"
        r"|suicid\w*|do(?:ing)?\s+anything\s+(?:stupid|silly|daft|drastic)|(?:want|wanna|wanting|going|gonna|plan\w*|"
        r"thinking|thought)\s+(?:to|of|about)\s+(?:die|dying|hurt\w*|harm\w*|kill\w*|end\w*)|in\s+danger|at\s+risk)")
_REASSURED = (r"\b(?:i'?m|i\s+am|im)\s+(?:(?:really|honestly|totally|perfectly|completely|absolutely|genuinely)\s+)?"
              r"(?:safe|ok|okay|fine|alright|all\s+right)\b"
              r"|\b(?:misread|misunderstood|misunderstanding|figure\s+of\s+speech|not\s+like\s+that"
              r"|not\s+what\s+i\s+meant)\b"
              r"|\bi\s+(?:only\s+|just\s+)?(?:meant|mean)\b|\bdidn'?t\s+mean\b|\bdidnt\s+mean\b"
              r"|\bi\s+was\s+(?:only\s+|just\s+)?(?:joking|kidding|talking\s+about|being\s+dramatic|exaggerating)\b")
_BARE_NO = (r"^(?:no+|nope|nah|naw|god\s+no|oh\s+no|no\s+no)\b"
            r"(?!\s+(?:one|body|point|way|reason|more|longer|hope|future|use))")
# A clause that puts the act off is no denial: "not tonight", "I won't do anything yet".
_PUT_OFF = r"\b(?:tonight|today|yet|for\s+now|this\s+(?:week|time)|until|till|til|before|after|anymore|any\s+more)\b"
# The act named outside a denying clause: "Not hurting myself. Just ending it." denies one act to name another.
NAMED = re.compile(rf"\b(?:{_ACT}|die|dying|not\s+wake\s+up|sleep\s+forever|way\s+out)\b", re.I)
DENIED = re.compile(rf"{_NEG}[^.!?;]{{0,40}}?\b{_ACT}|{_REASSURED}|{_BARE_NO}", re.I)
PUT_OFF = re.compile(_PUT_OFF, re.I)
CLAUSE = re.compile(r"[.!?;\n]+|,\s*|\s+but\s+")


_YES = (r"(?:yes|yeah|yea|yep|yup|ya|yh|ye|oo|si|sí|oui|ja|tak|maybe|perhaps|possibly|probably|kinda|"
        r"kind\s+of|sort\s+of|i\s+think\s+so|i\s+guess|i\s+don'?t\s+know|i\s+dont\s+know|idk|i\s+dunno|dunno|"
        r"a\s+bit|a\s+little|sometimes)")
AFFIRMED = re.compile(rf"^(?:{_YES}\W*){{1,3}}$", re.I)
HELP_REFUSED = re.compile(r"\b(?:too\s+late|no\s+need|no\s+point|"
                          r"not\s+(?:going\s+to\s+|gonna\s+)?(?:call|ring)(?:ing)?|"
                          r"won'?t\s+(?:call|ring)|don'?t\s+want\s+to\s+(?:call|ring)|put\s+me\s+on\s+hold)\b"
                          r"[^.!?]{0,30}?\b(?:crisis|help\s*lines?|samaritans|988|anyone|them|again|for)\b", re.I)


def clauses(text: str) -> list[str]:
    """The message's clauses: split at sentence ends, commas, semicolons and "but"."""
    return [c.strip() for c in CLAUSE.split(" ".join(text.split())) if c and c.strip()]


def denies(clause: str) -> bool:
    """Whether a clause says the writer is not at risk, without putting it off."""
    return bool(DENIED.search(clause)) and not PUT_OFF.search(clause)


def rest(text: str) -> str | None:
    """The message without its denying clauses (possibly empty), or None where no clause denies the risk, or where a
    clause it keeps names an act (``NAMED``): then the denial does not count."""
    parts = clauses(text)
    kept = [c for c in parts if not denies(c)]
    if len(kept) == len(parts) or any(NAMED.search(c) for c in kept):
        return None
    return ". ".join(kept)


def affirms(text: str) -> bool:
    """Whether a message answers the support message's question with yes, or turns the help lines down, denying
    nothing."""
    parts = clauses(text)
    if any(denies(c) for c in parts):
        return False
    return any(AFFIRMED.match(c) for c in parts[:2]) or bool(HELP_REFUSED.search(text))
