"""A style profile of how a person writes, and the system prompt and exemplars made from it.

Everything here is counting, not modelling: the usual greeting and sign-off of the letters, how long
the sentences are, favourite words and phrases, what the person calls the reader, punctuation and
emoji habits, and the language. That is enough to tell a small model how to sound, and it is shown
to the user as is (``personas show``), so it must be readable. The model then learns the rest from a
handful of real passages (``exemplars``) and from the seed memories recalled each turn.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence

from personas import letters

CJK = re.compile(r"[\u3400-\u9fff]")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
STOPWORDS = set("""a an and are as at be but by for from had has have he her him his i if in is it its me my
no not of on or our she so that the their them then there they this to up was we were what when which who will with
you your yours just very all am been do did got can could would should about into out than too also one more some
any dear love""".split())
LANG_HINTS = {
    "en": {"the", "and", "you", "to", "of", "is", "was", "it", "my"},
    "fr": {"le", "la", "et", "je", "tu", "est", "les", "des", "une", "pas"},
    "de": {"der", "die", "und", "ich", "du", "ist", "nicht", "das", "ein", "mit"},
    "es": {"el", "la", "y", "que", "de", "yo", "es", "los", "una", "por"},
    "it": {"il", "la", "e", "che", "di", "io", "sono", "non", "una", "per"},
    "pt": {"o", "a", "e", "que", "de", "eu", "não", "uma", "para", "com"},
    "nl": {"de", "het", "en", "ik", "je", "is", "niet", "een", "van", "met"},
}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*|\n+", text) if s.strip()]


def language(text: str) -> str:
    """A two-letter guess: "zh" when most letters are CJK, else by common words; "" when unsure."""
    sample = text[:20000]
    letters = [c for c in sample if c.isalpha()]
    if letters and sum(1 for c in letters if CJK.match(c)) / len(letters) > 0.3:
        return "zh"
    words = Counter(w.lower() for w in WORD.findall(sample))
    scores = {lang: sum(words[w] for w in hints) for lang, hints in LANG_HINTS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] >= 3 else ""


def _letter(piece: str) -> letters.Letter:
    return letters.parse(piece.split("\n"))


def signer(sign_off: str) -> str:
    """The name in a sign-off: "Love, Grandpa" -> "Grandpa"; "Your loving Mother" -> "Mother"; "" if none.

    >>> signer("All my love, Grandpa Joe")
    'Grandpa Joe'
    """
    return letters.signer(sign_off)


def body(piece: str) -> str:
    """A letter without its date, greeting, sign-off and postscript, so they do not skew the counts."""
    return "\n".join(_letter(piece).body)


def profile(pieces: Sequence[str]) -> dict:
    """The style profile of a person's pieces of writing (letters, messages, entries)."""
    parsed = [_letter(p) for p in pieces]
    bodies = ["\n".join(p.body) for p in parsed]
    text = "\n".join(bodies)
    lang = language(text)
    sents = [s for b in bodies for s in sentences(b)]
    if lang == "zh":
        lengths = [len(CJK.findall(s)) for s in sents]
        unit = "characters"
    else:
        lengths = [len(s.split()) for s in sents]
        unit = "words"
    letters_n = max(len(pieces), 1)
    usual = max(2, letters_n * 0.2)  # a greeting or sign-off counts as the person's habit from here
    firsts = Counter(p.salutation for p in parsed if p.salutation)
    lasts = Counter(p.sign_off for p in parsed if p.sign_off and len(p.sign_off) <= 60)
    greeting = next((g for g, n in firsts.most_common(1) if n >= usual), "")
    sign_off = next((s for s, n in lasts.most_common(1) if n >= usual), "")
    signers = Counter(p.signer for p in parsed if p.signer)
    address = Counter(p.addressee for p in parsed if p.addressee)
    if lang == "zh":  # no spaces between words: count character pairs and runs instead
        runs = re.findall(r"[\u3400-\u9fff]+", text)
        words = Counter(r[i:i + 2] for r in runs for i in range(len(r) - 1))
        phrases = Counter(r[i:i + n] for r in runs for n in (3, 4) for i in range(len(r) - n + 1))
    else:
        words = Counter(w.lower() for w in WORD.findall(text) if len(w) > 2 and w.lower() not in STOPWORDS)
        tokens = [w.lower() for w in WORD.findall(text)]
        phrases = Counter(" ".join(tokens[i:i + n]) for n in (2, 3) for i in range(len(tokens) - n + 1)
                          if not all(t in STOPWORDS for t in tokens[i:i + n]))
    n_sents = max(len(sents), 1)
    return {
        "language": lang,
        "pieces": len(pieces),
        "greeting": greeting,
        "sign_off": sign_off,
        "name_from_sign_off": signers.most_common(1)[0][0] if signers else "",
        "signers": dict(signers.most_common(6)),
        "sentence_length": {"median": statistics.median(lengths) if lengths else 0, "unit": unit},
        "frequent_words": [w for w, _ in words.most_common(12)],
        "frequent_phrases": [p for p, n in phrases.most_common(40) if n >= 3][:8],
        "forms_of_address": [a for a, n in address.most_common(4) if n >= usual or n == address.most_common(1)[0][1]],
        "exclamations_per_sentence": round(sum(s.count("!") + s.count("！") for s in sents) / n_sents, 2),
        "questions_per_sentence": round(sum(s.count("?") + s.count("？") for s in sents) / n_sents, 2),
        "ellipses_per_sentence": round(sum(s.count("...") + s.count("…") for s in sents) / n_sents, 2),
        "emoji_per_sentence": round(len(EMOJI.findall(text)) / n_sents, 2),
    }


def system_prompt(name: str, style: dict, description: str = "") -> str:
    """Instructions that make the model speak as ``name``, from the profile's counts."""
    lines = [f"You are {name}. Stay in character and speak as {name} would, in the first person."]
    if description:
        lines.append(description.strip())
    if style.get("language") and style["language"] != "en":
        lines.append(f"Reply in the language of your letters ({style['language']}).")
    median = style.get("sentence_length", {}).get("median", 0)
    if median:
        size = "short" if median < 12 else "long" if median > 22 else "medium-length"
        lines.append(f"You write {size} sentences (about {median:g} {style['sentence_length']['unit']}).")
    if style.get("forms_of_address"):
        lines.append("You call the person you talk to: " + ", ".join(f'"{a}"' for a in style["forms_of_address"]) + ".")
    if style.get("greeting"):
        lines.append(f'Your letters usually open with "{style["greeting"]}"')
    if style.get("sign_off"):
        lines.append(f'and close with "{style["sign_off"]}".')
    if style.get("frequent_phrases"):
        lines.append("Phrases you often use: " + "; ".join(f'"{p}"' for p in style["frequent_phrases"][:5]) + ".")
    if style.get("exclamations_per_sentence", 0) > 0.25:
        lines.append("You are warm and exclaim often!")
    if style.get("emoji_per_sentence", 0) > 0.1:
        lines.append("You use emoji.")
    lines.append("Keep replies brief and personal, as in a letter or message to someone you love.")
    return " ".join(lines)


def estimate_tokens(text: str) -> int:
    """A model-free token estimate (persona building must not need the chat model loaded)."""
    return len(CJK.findall(text)) + int(len(WORD.findall(text)) * 1.4) + 1


def exemplars(pieces: Sequence[str], style: dict, budget_tokens: int = 600, most: int = 4) -> list[str]:
    """A few passages that sound most like the person, from different pieces, within a token budget.

    A passage scores by how typical its sentence length is and how many of the person's frequent
    words and phrases it uses; very short and very long pieces are skipped.
    """
    median = style.get("sentence_length", {}).get("median", 0) or 1
    marks = set(style.get("frequent_words", [])) | set(style.get("frequent_phrases", []))
    scored = []
    for i, piece in enumerate(pieces):
        cost = estimate_tokens(piece)
        if cost < 20 or cost > budget_tokens:
            continue
        sents = sentences(piece)
        unit = (lambda s: len(CJK.findall(s))) if style.get("language") == "zh" else (lambda s: len(s.split()))
        typical = -abs(statistics.median(unit(s) for s in sents) - median) / median if sents else -1
        lowered = piece.lower()
        score = typical + 0.2 * sum(1 for m in marks if m in lowered)
        scored.append((score, i, piece, cost))
    chosen, spent = [], 0
    for score, i, piece, cost in sorted(scored, key=lambda t: (-t[0], t[1])):
        if spent + cost <= budget_tokens and len(chosen) < most:
            chosen.append((i, piece))
            spent += cost
    return [p for _, p in sorted(chosen)]
