"""A style profile of how a person writes, and the system prompt and exemplars made from it.

Everything here is counting, not modelling: the usual greeting and sign-off of the letters, how long
the sentences are, favourite words and phrases, what the person calls the reader, punctuation and
emoji habits, and the language. That is enough to tell a small model how to sound, and it is shown
to the user as is (``personas show``), so it must be readable. The model then learns the rest from a
handful of real passages (``exemplars``) and from the seed memories recalled each turn.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence

from app.core.text import sentences
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
        "distinctive_words": distinctive_words(text, lang),
    }


DISTINCTIVE_WORDS = 300  # on the fidelity dev questions 300 words made the voice; more only adds rare ones
MIN_WORDS = 1500
SENTENCE_START = re.compile(r"(?:^|[.!?;:]['\"”’)\]]*\s+)([A-Z][^\W\d_]*)", re.MULTILINE)
RAREST = 1e-8  # the everyday frequency of a word wordfreq does not list


def distinctive_words(text: str, lang: str, most: int = DISTINCTIVE_WORDS) -> list[str]:
    """The words a person writes more often than everyday language does, those that set their voice most first.

    A word's weight is its share of the person's words times how many times more often than in
    everyday text (wordfreq's frequencies for the language) they use it: the terms of the divergence
    between the two. That ranks "upon", "shall" and "indeed" for an 18th-century letter writer above
    a curiosity used twice, and leaves out the words everybody uses as much. Names (words written
    capitalised most of the time where no sentence starts) are left out: they are what the letters
    are about, not how they are written, and they come to the model through the system prompt and
    the recalled passages.
    Chinese is counted in character pairs (no spaces to find words by). Empty when wordfreq has no
    list for the language, or for less than ``MIN_WORDS`` of text, where a word's count says more
    about chance than habit.
    """
    from wordfreq import get_frequency_dict

    try:
        everyday = get_frequency_dict(lang or "en")
    except (LookupError, ValueError):  # a language wordfreq does not cover
        return []
    if lang == "zh":
        runs = re.findall(r"[\u3400-\u9fff]+", text)
        counts = Counter(r[i:i + 2] for r in runs for i in range(len(r) - 1))
        lowered = counts
    else:
        counts = Counter(WORD.findall(text))
        lowered = Counter()
        for word, n in counts.items():
            lowered[word.lower()] += n
    capitalised = Counter()  # capitalised where a sentence does not start: a name
    for word, n in counts.items():
        if word[:1].isupper():
            capitalised[word.lower()] += n
    for word in SENTENCE_START.findall(text):
        capitalised[word.lower()] -= 1
    total = sum(lowered.values())
    if total < MIN_WORDS:
        return []
    weights = {}
    for word, n in lowered.items():
        if n < 4 or len(word) < 2 or capitalised[word] > 0.6 * n:
            continue
        share = n / total
        ratio = math.log(share / max(everyday.get(word, 0.0), RAREST))
        if ratio > 0.5:  # used well over 1.6 times as often as in everyday text
            weights[word] = share * ratio
    return sorted(weights, key=lambda w: (-weights[w], w))[:most]


def system_prompt(name: str, style: dict, description: str = "", world: Sequence[str] = ()) -> str:
    """Instructions that make the model speak as ``name``, from the profile's counts.

    Short on purpose: a small model follows the passages it is shown (``exemplars``, recalled seed
    memories) far more than descriptions of a style, and every line of instructions pulls its replies
    towards the assistant's own modern voice. So it names who is writing, what a reply looks like (a
    passage of a letter, as long as the person's paragraphs), the habits counting can vouch for, and
    ``world``: the people and places the letters speak of most, so that the persona talks about its own
    friends and town rather than the model's inventions (on the fidelity dev questions a 135M model
    without them wrote of "Miss Emily" and the plague to Abigail Adams's reader).
    """
    lines = [f"You are {name}, writing back to someone dear to you. Write exactly as you write in your letters: "
             "your own words, spelling and turns of phrase, in the first person."]
    if description:
        lines.append(description.strip())
    if style.get("language") and style["language"] != "en":
        lines.append(f"Reply in the language of your letters ({style['language']}).")
    if style.get("forms_of_address"):
        lines.append("You call the person you write to: " + ", ".join(f'"{a}"' for a in style["forms_of_address"]) + ".")
    if style.get("greeting"):
        closing = f' and close with "{style["sign_off"]}"' if style.get("sign_off") else ""
        lines.append(f'Your letters usually open with "{style["greeting"]}"{closing}.')
    if world:
        lines.append("The people and places your letters speak of: " + ", ".join(world) + ".")
    if style.get("emoji_per_sentence", 0) > 0.1:
        lines.append("You use emoji.")
    lines.append("Answer in one paragraph like those of your letters, never as a list, and never say you are an "
                 "assistant.")
    return " ".join(lines)


def estimate_tokens(text: str) -> int:
    """A model-free token estimate (persona building must not need the chat model loaded)."""
    return len(CJK.findall(text)) + int(len(WORD.findall(text)) * 1.4) + 1


PASSAGE_WORDS = (12, 160)  # a paragraph-sized passage: long enough to carry the voice, short enough to copy from
FULL_PASSAGE = 60  # words from which a passage carries the voice as well as a longer one


def _passages(piece: str, zh: bool) -> list[str]:
    """Paragraph-sized passages of a letter's body: paragraphs, short neighbours joined, long ones left out."""
    size = (lambda t: len(CJK.findall(t)) // 2) if zh else (lambda t: len(t.split()))
    text = body(piece)
    sep = "\n\n" if re.search(r"\n\s*\n", text) else "\n"  # paragraphs are blank-line or line separated
    out, current = [], ""
    for para in [p.strip() for p in text.split(sep) if p.strip()]:
        joined = f"{current}{sep}{para}" if current else para
        if size(joined) <= PASSAGE_WORDS[1]:
            current = joined
            continue
        if current:
            out.append(current)
        current = para if size(para) <= PASSAGE_WORDS[1] else ""
    if current:
        out.append(current)
    return [p for p in out if size(p) >= PASSAGE_WORDS[0]]


def exemplars(pieces: Sequence[str], style: dict, budget_tokens: int = 600, most: int = 4) -> list[str]:
    """A few passages that sound most like the person, from different pieces, within a token budget.

    Small models copy what they are shown, so the passages are chosen to be worth copying: a
    paragraph or two of a letter's body (no greeting or signature, which would be copied into every
    reply), written to someone (the person says "I" and "you"), with the person's usual sentence
    length and many of their frequent words and phrases, and few figures or quotations (lists of
    accounts and quoted verse are not their conversational voice). One passage per piece at most.
    """
    zh = style.get("language") == "zh"
    median = style.get("sentence_length", {}).get("median", 0) or 1
    marks = set(style.get("frequent_words", [])) | set(style.get("frequent_phrases", []))
    unit = (lambda s: len(CJK.findall(s))) if zh else (lambda s: len(s.split()))
    best: dict[int, tuple[float, str, int]] = {}
    for i, piece in enumerate(pieces):
        for passage in _passages(piece, zh):
            cost = estimate_tokens(passage)
            sents = sentences(passage)
            if cost > budget_tokens or not sents:
                continue
            typical = -abs(statistics.median(unit(s) for s in sents) - median) / median
            lowered = f" {passage.lower()} "
            marked = sum(1 for m in marks if m in lowered)
            talk = zh or (re.search(r"\b[Ii]\b", passage) is not None and " you" in lowered)
            noise = sum(c.isdigit() or c in '"“”' for c in passage) / len(passage)
            fullness = min(1.0, estimate_tokens(passage) / (1.4 * FULL_PASSAGE))
            score = typical + 0.2 * marked + 0.5 * talk + fullness - 20 * noise
            if i not in best or score > best[i][0]:
                best[i] = (score, passage, cost)
    chosen, spent = [], 0
    for i, (score, passage, cost) in sorted(best.items(), key=lambda t: (-t[1][0], t[0])):
        if spent + cost <= budget_tokens and len(chosen) < most:
            chosen.append((i, passage))
            spent += cost
    return [p for _, p in sorted(chosen)]
