"""Stable facts found in seed text: names of people and places, and dates, as lorebook candidates.

Heuristics, not NLP: a run of capitalised words that recurs and never appears in lower case in the
same text is probably a name (so "Biscuit" counts even at the start of a sentence, and "The" does
not); one after "in", "at", "to", "into" or "near" is probably a place; years and written dates are
dates. A name said to be something ("Herbert is my new cane", "Nell, the collie", "a cat called
Admiral", "小黄狗阿福") counts even once, and what it is becomes one of its keys, so the lorebook entry
comes back when the question names the thing, not the name ("What was the cane called?"). Letters
are read without their greeting and signature (the reader's and writer's names are not facts to
review), and the date and place lines above them count as dates and places. Chinese text contributes
dates (1962年3月), kinship terms and pets' names. Each candidate comes with the sentence that says
most about it, which becomes the lorebook entry's content once the user accepts it: the user reviews,
nothing is trusted blindly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from app.core.text import sentences
from personas import letters
from personas.style import STOPWORDS

TITLES = {"Mrs", "Mr", "Miss", "Ms", "Dr", "St", "Aunt", "Uncle", "Auntie", "Cousin", "Lady", "Lord", "Sir"}
CAPITALISED = re.compile(r"\b(?:(?:Mrs|Mr|Miss|Ms|Dr|St|Aunt|Uncle|Auntie|Cousin|Lady|Lord|Sir)\.?\s+)?[A-Z][a-z]{1,20}"
                         r"(?:\s+[A-Z][a-z]{1,20}){0,2}\b")
PLACE_BEFORE = re.compile(r"\b(?:in|at|to|into|from|near|over|up)\s+((?:the\s+)?[A-Z][a-z]{2,20}(?:\s+[A-Z][a-z]{2,20}){0,2})")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE = re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\s+\d{{4}}|(?:{MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|"
                  rf"(?:{MONTHS})\s+\d{{4}}|(?:19|20)\d{{2}})\b")
ZH_DATE = re.compile(r"(?:19|20)\d{2}年(?:\d{1,2}月(?:\d{1,2}日)?)?")
ZH_KIN = re.compile(r"(外公|外婆|爷爷|奶奶|爸爸|妈妈|舅舅|姑姑|阿姨|叔叔|哥哥|姐姐|弟弟|妹妹)")
ANIMALS = ("dog|cat|collie|spaniel|terrier|puppy|kitten|pony|horse|mare|donkey|goat|lamb|ram|ewe|sheep|cow|pig|hen|"
           "cockerel|parrot|budgie|canary|rabbit|hamster|tortoise|goldfish")
# What a name is: "Herbert is my new cane", "Nell, the collie", "a cat called Admiral", "our dog Biscuit".
# Group "name" is the name and group "what" the thing it names.
WHAT = [re.compile(p) for p in (
    r"(?P<name>[A-Z][a-z]{1,20}) (?:is|was) (?:my|our|the|his|her|their|a|an) (?:[a-z-]+ ){0,2}(?P<what>[a-z]{3,15})\b",
    r"(?P<name>[A-Z][a-z]{1,20}), (?:my|our|the|his|her|their|a|an) (?:[a-z-]+ ){0,2}(?P<what>[a-z]{3,15})\b",
    r"\b(?P<what>[a-z]{3,15}),? (?:(?:a|an|the) (?:[a-z-]+ ){0,3}[a-z]+ )?(?:who |which |that )?(?:(?:I|we|he|she|they) )?"
    r"(?:have |has |had |is |was )?(?:called|named|call|christened) (?P<name>[A-Z][a-z]{1,20})",
    r"\b(?:my|our|the|his|her|their) (?P<what>[a-z]{3,15}),? (?P<name>[A-Z][a-z]{1,20})\b",
    r"(?P<what>狗|小狗|黄狗|猫|小猫|花猫|鸟|马|兔子|小鸡)(?P<name>阿[\u4e00-\u9fff]|小[\u4e00-\u9fff])",
)]
NOT_WHAT = {"own", "dear", "old", "new", "way", "day", "time", "friend", "letter", "name", "one", "best", "very"}
NOT_NAMES = {"I", "Dear", "Dearest", "Love", "Yours", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
             "Saturday", "Sunday", "Christmas", "Easter", "God", "Mr", "Mrs", "Miss", "Ms", "Dr", "OK",
             "Aunt", "Uncle"} | set(MONTHS.split("|"))


def _what(sentence: str) -> list[tuple[str, str]]:
    """(name, what it is) pairs a sentence states."""
    return [(m.group("name"), m.group("what")) for pattern in WHAT for m in pattern.finditer(sentence)
            if m.group("what") not in NOT_WHAT and m.group("name") not in NOT_NAMES]


def _texts(pieces: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the words of each piece without greeting and signature, the date and place lines of letters)."""
    bodies, edges = [], []
    for piece in pieces:
        letter = letters.parse(piece.split("\n"))
        bodies.append("\n".join([*letter.body, *letter.postscript]))
        edges += [*letter.header, *letter.trailer]
    return bodies, edges


def candidates(pieces: Sequence[str], min_count: int = 2, most: int = 30) -> list[dict]:
    """Facts worth reviewing, most frequent first: {"text", "kind", "count", "example", "keys"}."""
    found: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    what: dict[str, str] = {}
    bodies, edges = _texts(pieces)
    lower_words = {w for body in bodies for w in re.findall(r"\b[a-z]+\b", body)}
    for line in edges:
        for part in (p.strip(" .,_") for p in re.split(r",|，", line)):
            kind = "date" if DATE.search(part) or ZH_DATE.search(part) or re.search(r"[月日]$", part) else "place"
            if part and (kind == "date" or not re.search(r"\d", part)):
                found[(part, kind)] += 1
                example.setdefault((part, kind), line.strip())
    for body in bodies:
        for sentence in sentences(body):
            hits = [(m, "date") for m in DATE.findall(sentence)]
            hits += [(m, "date") for m in ZH_DATE.findall(sentence)]
            hits += [(m, "person") for m in ZH_KIN.findall(sentence)]
            places = {p.removeprefix("the ") for p in PLACE_BEFORE.findall(sentence)}
            places = {p for p in places if p.split()[0] not in NOT_NAMES and p.lower() not in lower_words}
            hits += [(p, "place") for p in places]
            for name, thing in _what(sentence):
                kind = "pet" if re.fullmatch(ANIMALS, thing) or CJK_ANIMAL.match(thing) else "name"
                what.setdefault(name, thing)
                example[(name, kind)] = example.get((name, kind)) if (name, kind) in found and name in what \
                    and what[name] != thing else sentence.strip()
                found[(name, kind)] += 0  # counted below with the other mentions
            for name in set(CAPITALISED.findall(sentence)):
                words = name.split()
                if (words[-1] in NOT_NAMES or name.lower() in STOPWORDS or words[0].lower() in lower_words
                        and len(words) == 1 or any(name in p for p in places)):
                    continue
                if len(words) > 1 and words[0].lower() in STOPWORDS:
                    continue
                kind = "pet" if name in what and re.fullmatch(ANIMALS, what[name]) else "name"
                hits.append((name, kind))
            for name in {n for n, t in _what(sentence) if CJK_ANIMAL.match(t)}:
                hits.append((name, "pet"))
            for hit in hits:
                found[hit] += 1
                example.setdefault(hit, sentence.strip())
    # "Uncle Albert" and "Albert" are one person, named the longer way.
    for (t, k), n in list(found.items()):
        bare = t.split(maxsplit=1)[-1]
        if k == "name" and " " in t and t.split()[0].rstrip(".") in TITLES and (bare, "name") in found:
            found[(t, k)] += found.pop((bare, "name"))
            example.setdefault((t, k), example[(bare, "name")])
    # A name also seen as a place is a place; a name said to be something counts even once.
    places = {t for t, k in found if k == "place"}
    out = [{"text": t, "kind": k, "count": n, "example": example[(t, k)],
            "keys": [t, what[t]] if t in what else [t]}
           for (t, k), n in found.most_common()
           if (n >= min_count or t in what) and n > 0 and not (k == "name" and t in places)]
    return out[:most]


CJK_ANIMAL = re.compile(r"^(?:狗|小狗|黄狗|猫|小猫|花猫|鸟|马|兔子|小鸡)$")
