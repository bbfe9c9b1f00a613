"""Stable facts found in seed text: names of people and places, and dates, as lorebook candidates.

Heuristics, not NLP: a capitalised word that recurs and never appears in lower case in the same
text is probably a name (so "Biscuit" counts even at the start of a sentence, and "The" does not);
one after "in", "at", "to", "from" or "near" is probably a place; years
and written dates are dates. Chinese text contributes dates (1962年3月) and kinship terms. Each
candidate comes with the first sentence that mentions it, which becomes the lorebook entry's content
once the user accepts it: the user reviews, nothing is trusted blindly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from personas.style import STOPWORDS, sentences

CAPITALISED = re.compile(r"\b[A-Z][a-z]{1,20}\b")
PLACE_BEFORE = re.compile(r"\b(?:in|at|to|from|near)\s+((?:the\s+)?[A-Z][a-z]{2,20}(?:\s+[A-Z][a-z]{2,20}){0,2})")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE = re.compile(rf"\b(?:\d{{1,2}}\s+(?:{MONTHS})\s+\d{{4}}|(?:{MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|(?:{MONTHS})\s+\d{{4}}|(?:19|20)\d{{2}})\b")
ZH_DATE = re.compile(r"(?:19|20)\d{2}年(?:\d{1,2}月(?:\d{1,2}日)?)?")
ZH_KIN = re.compile(r"(外公|外婆|爷爷|奶奶|爸爸|妈妈|舅舅|姑姑|阿姨|叔叔|哥哥|姐姐|弟弟|妹妹)")
NOT_NAMES = {"I", "Dear", "Love", "Yours", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
             "Sunday", "Christmas", "Easter", "God", "Mr", "Mrs", "Miss", "Ms", "Dr", "OK"} | set(MONTHS.split("|"))


def candidates(pieces: Sequence[str], min_count: int = 2, most: int = 30) -> list[dict]:
    """Facts worth reviewing, most frequent first: {"text", "kind", "count", "example"}."""
    found: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    lower_words = {w for piece in pieces for w in re.findall(r"\b[a-z]+\b", piece)}
    for piece in pieces:
        for sentence in sentences(piece):
            hits = [(m, "date") for m in DATE.findall(sentence)]
            hits += [(m, "date") for m in ZH_DATE.findall(sentence)]
            hits += [(m, "person") for m in ZH_KIN.findall(sentence)]
            places = {p.removeprefix("the ") for p in PLACE_BEFORE.findall(sentence)}
            hits += [(p, "place") for p in places]
            for name in set(CAPITALISED.findall(sentence)):
                if (name not in NOT_NAMES and name.lower() not in STOPWORDS and name.lower() not in lower_words
                        and not any(name in p for p in places)):
                    hits.append((name, "name"))
            for hit in hits:
                found[hit] += 1
                example.setdefault(hit, sentence.strip())
    # A name also seen as a place is a place.
    places = {t for t, k in found if k == "place"}
    out = [{"text": t, "kind": k, "count": n, "example": example[(t, k)]}
           for (t, k), n in found.most_common() if n >= min_count and not (k == "name" and t in places)]
    return out[:most]
