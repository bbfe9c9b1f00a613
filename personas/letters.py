"""Letters in plain text: where each one starts and ends, and its parts (greeting, body, closing, signature).

A letter collection is rarely marked up. Letters follow each other after one blank line, several, a
separator line (``---``, ``### LETTER 0001``) or nothing but the next greeting; a date and place stand
above the greeting or below the signature; a postscript follows the signature; scanned books wrap
every line at 70 characters. What tells one letter from the next is what letters are made of, and
that differs only in wording between languages, so each language is a ``Conventions`` table (its
salutations, closings, postscript marks and dates) and the code below is the same for all of them.
Adding a language is adding a table to ``LANGUAGES`` (French is one, in a dozen lines).

Corners cut: a line is a salutation, closing or date by pattern, not by understanding, so an odd
body line ("Dear me!") can be taken for one; a salutation is only trusted at the top of a letter
(after a blank line, a separator or the previous letter's signature). A place line on its own is
told from a signature by position only (attached to the greeting below, or to the letter above).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SEPARATOR = re.compile(r"^\s*(?:-{3,}|\*{3,}|={3,}|_{3,}|#{1,6}\s*(?:LETTER|Letter|letter)\s+[\w.-]+)\s*$")
# A heading or diary date that starts an entry and belongs to it (kept in the text).
ENTRY_START = re.compile(r"^\s*(?:#{1,3}\s.*|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}|"
                         r"\d{4}年\d{1,2}月\d{1,2}日)\s*\S*$")


@dataclass(frozen=True)
class Conventions:
    """How letters open and close in one language; every pattern matches one whole (stripped) line."""

    code: str
    salutation: re.Pattern  # group "to": whom the letter is addressed to; "rest": text run on after "--"
    closing: re.Pattern  # group "name": a signer written on the closing line ("Your loving Mother")
    postscript: re.Pattern
    date: re.Pattern
    signature: re.Pattern  # a name standing alone at the end
    heading: re.Pattern  # an editor's heading that starts a letter in a printed collection ("216." "TO HERR KIND.")


_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NAME = r"(?:[A-Z][\w'’-]*\.?|[A-Z]\.|(?:van|von|de|du|le|la|of)\b)(?:\s+(?:[A-Z][\w'’-]*\.?|[A-Z]\.|van|von|de|du|le|la|of)){0,3}"

ENGLISH = Conventions(
    code="en",
    salutation=re.compile(
        r"^(?P<open>(?:my\s+)?(?:own\s+)?(?:very\s+)?(?:dear(?:est)?|darling|beloved|sweet)|hi|hello|hey|"
        r"greetings|good\s+(?:morning|evening))\b\s*(?P<to>[^,:;!?.\n]{0,40}?(?:\bst\.\s*[^,:;!?\n]{0,20})?)"
        r"\s*(?:[,:;!]|\.?\s*(?:--|—|–))\s*(?:(?:--|—|–)\s*)?(?P<rest>.*)$|"
        r"^(?P<to2>(?:dear\s+)?(?:sir|madam|madame|gentlemen|friend))\s*[,:!]\s*(?:(?:--|—|–)\s*)?(?P<rest2>.*)$",
        re.I),
    closing=re.compile(
        r"^(?:(?:and\s+)?(?:so\s+)?(?:with\s+)?(?:all\s+|much\s+|lots\s+of\s+|best\s+|kind(?:est)?\s+|warm(?:est)?\s+|"
        r"fond(?:est)?\s+)?(?:my\s+)?(?:(?:best\s+)?love|regards|wishes|affection|kisses|hugs|blessings?)(?:\s+to\s+all)?|"
        r"(?:ever\s+|always\s+|affectionately\s+|faithfully\s+|sincerely\s+|truly\s+|lovingly\s+|fondly\s+|very\s+"
        r"truly\s+|most\s+truly\s+)?yours(?:\s+(?:ever|always|affectionately|faithfully|sincerely|truly|lovingly|"
        r"fondly|most\s+\w+|very\s+\w+|in\s+haste|till\s+death|\w+ly))*|"
        r"your(?:s)?\s+(?:most\s+|very\s+|ever\s+)?(?:affectionate|loving|devoted|dutiful|obedient|faithful|sincere|"
        r"attached|humble|own|old|true|fond|grateful)(?:\s+and\s+\w+)?|"
        r"ever(?:\s+yours)?|always|affectionately|fondly|cheers|best|take\s+care|god\s+bless(?:\s+you)?|adieu|"
        r"farewell|goodbye|good-?bye|xx+|believe\s+me(?:\s+\w+){0,6}|i\s+am(?:\s*,?\s*\w+){0,6})"
        r"(?:\s*,\s*|\s+)?(?P<name>(?:[A-Z][\w'’-]*\.?|[A-Z]\.|(?:[a-z]+\s+)?(?:father|mother|dad|mum|mom|papa|mama|"
        r"grandpa|grandad|granddad|grandfather|grandma|granny|grandmother|nan|uncle|aunt|son|daughter|brother|"
        r"sister|friend|husband|wife|servant))(?:\s+[\w.'’-]+){0,3})?[\s,.!—–-]*$",
        re.I),
    postscript=re.compile(r"^(?:P\.?\s?P\.?\s?S|P\.?\s?S|N\.?\s?B)\b\.?\s*[:,.—–-]?", re.I),
    date=re.compile(
        rf"^[\w\s.,'’()_-]{{0,40}}?(?:\b(?:{_MONTHS})\.?\b[\s_,.]*\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?"
        rf"[\s_,.]+(?:of\s+)?(?:{_MONTHS})\b|\b(?:{_DAYS})\b|\b(?:1[5-9]|20)\d\d\b|\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b)"
        r"[\w\s.,'’()_-]{0,30}$", re.I),
    signature=re.compile(rf"^(?:[—–-]+\s*)?(?P<name>{_NAME}|[A-Z][A-Z.\s]{{1,30}}|[a-z]+)[,.]?$"),
    # a letter's number (not a year standing as a date line) or its addressee in capitals; "[1]" marks a footnote
    heading=re.compile(r"^(?:(?:LETTER|Letter|No\.)\s+)?(?:(?!1[5-9]\d\d\b|20\d\d\b)\d{1,4}|[IVXLCDM]{1,8})\.?(?:\[\d+\])?$|"
                       r"^TO\s+(?:THE\s+)?[A-Z][A-Z .,&'’-]{2,70}\.?(?:\[\d+\])?$"),
)

CHINESE = Conventions(
    code="zh",
    salutation=re.compile(r"^(?=.*[\u3400-\u9fff：])(?:亲爱的|親愛的|敬爱的|敬愛的|尊敬的|最亲爱的|最親愛的)?(?P<to>[\u3400-\u9fffA-Za-z·]{1,8}?)"
                          r"(?:你好|您好|好)?[：:]\s*(?P<rest>(?:你好|您好)?[！!，,]?)$|"
                          r"^(?:亲爱的|親愛的|敬爱的|敬愛的|尊敬的)(?P<to2>[\u3400-\u9fffA-Za-z·]{1,8}?)[，,！!]?\s*(?P<rest2>)$"),
    closing=re.compile(r"^(?:此致|敬礼|敬禮|此致\s*敬礼|此致\s*敬禮|祝[\u3400-\u9fff]{0,12}[！!。]?|"
                       r"(?:想你的|爱你的|愛你的|你的|您的|永远爱你的|永遠愛你的)(?P<name>[\u3400-\u9fff]{1,6})?)"
                       r"[\s，,。！!]*$"),
    postscript=re.compile(r"^(?:又及|附言|再者|另[：:]|P\.?\s?S\.?)"),
    date=re.compile(r"^(?:[\u3400-\u9fff]{0,6}[于於])?(?:(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*)?"
                    r"(?:[\d一二三四五六七八九十]{1,3}\s*月\s*)?[\d一二三四五六七八九十廿卅]{1,3}\s*[日号號]"
                    r"(?:[早晚夜上下午中]{0,2})?(?:[于於][\u3400-\u9fff]{1,8})?[，,。]?$|"
                    r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年(?:\s*[\d一二三四五六七八九十]{1,3}\s*月)?[\u3400-\u9fff]{0,6}$|"
                    r"^\d{4}[./-]\d{1,2}[./-]\d{1,2}$"),
    signature=re.compile(r"^(?:[—–-]+\s*)?(?P<name>[\u3400-\u9fff]{1,6})$"),
    heading=re.compile(r"^第[一二三四五六七八九十百千\d]+封(?:信)?$|^致[\u3400-\u9fff]{1,10}$"),
)

_MOIS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
FRENCH = Conventions(
    code="fr",
    salutation=re.compile(r"^(?:(?:mon|ma|mes)\s+)?(?:très\s+)?(?:cher|chère|chers|chères|bien-aimée?|bonjour|coucou|salut)"
                          r"\b\s*(?P<to>[^,:;!?.\n]{0,40}?)\s*[,:;!]\s*(?P<rest>)$", re.I),
    closing=re.compile(r"^(?:(?:grosses\s+|gros\s+)?(?:bises|bisous)|je\s+t['’]embrasse(?:\s+\w+){0,3}|affectueusement|"
                       r"tendrement|amitiés|bien\s+à\s+(?:toi|vous)|à\s+bientôt|(?:ton|ta|votre)\s+(?:\w+\s+){0,2}qui\s+"
                       r"t['’]aime|(?:ton|ta|votre)\s+(?:vieux\s+|vieille\s+)?(?:affectionnée?|dévouée?|fidèle))"
                       r"(?:\s*,\s*|\s+)?(?P<name>[A-ZÉ][\w'’-]*(?:\s+[\w.'’-]+){0,3})?[\s,.!]*$", re.I),
    postscript=re.compile(r"^P\.?-?\s?S\.?", re.I),
    date=re.compile(rf"^(?:[\w\s'’-]{{0,30}},\s*)?(?:le\s+)?\d{{1,2}}(?:er)?\s+(?:{_MOIS})(?:\s+\d{{4}})?\.?$", re.I),
    signature=ENGLISH.signature,
    heading=re.compile(r"^LETTRE\s+(?:\d{1,4}|[IVXLCDM]{1,8})\.?$", re.I),
)

LANGUAGES: tuple[Conventions, ...] = (ENGLISH, CHINESE, FRENCH)


@dataclass
class Letter:
    """One letter in parts; ``text`` puts it back together with hard wraps undone."""

    header: list[str] = field(default_factory=list)  # date and place above the greeting
    salutation: str = ""
    addressee: str = ""
    body: list[str] = field(default_factory=list)  # paragraphs
    closing: list[str] = field(default_factory=list)
    signature: str = ""
    signer: str = ""
    trailer: list[str] = field(default_factory=list)  # date and place below the signature
    postscript: list[str] = field(default_factory=list)

    @property
    def sign_off(self) -> str:
        """Closing and signature on one line: "Yours ever, Grandpa"."""
        return " ".join([*self.closing, self.signature]).strip()

    @property
    def text(self) -> str:
        parts = [*self.header, self.salutation, "\n".join(self.body), *self.closing, self.signature, *self.trailer,
                 *self.postscript]
        return "\n".join(p for p in parts if p)


def _match(kind: str, line: str) -> re.Match | None:
    line = line.strip().replace("_", "")
    if not line:
        return None
    for conv in LANGUAGES:
        if m := getattr(conv, kind).match(line):
            return m
    return None


def salutation(line: str) -> tuple[str, str, str] | None:
    """(salutation, addressee, text run on after it) of a greeting line, else None.

    >>> salutation("MY DEAR BERNARD,--I have been ill.")
    ('MY DEAR BERNARD,', 'BERNARD', 'I have been ill.')
    """
    line = line.strip()
    if len(line) > 50 and not re.search(r"(?:--|—)", line[:50]):
        return None
    m = _match("salutation", line)
    if not m:
        return None
    to = (m.groupdict().get("to") or m.groupdict().get("to2") or "").strip()
    rest = (m.groupdict().get("rest") or m.groupdict().get("rest2") or "").strip()
    if len(to.split()) > 5:
        return None
    head = line[: len(line) - len(rest)].rstrip() if rest else line
    head = re.sub(r"\s*(?:--|—|–)+\s*$", "", head)
    return head, to.strip("_ "), rest


def is_closing(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 60 and bool(_match("closing", line))


def is_date(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 70 and bool(_match("date", line)) and not line.endswith(("?", "!"))


def is_postscript(line: str) -> bool:
    return bool(_match("postscript", line.strip()))


def signer(line: str) -> str:
    """The name signed on a closing or signature line, tidied: "Your loving Mother" -> "Mother", "" if none.

    >>> signer("Yours ever, E. F. G.")
    'E. F. G.'
    """
    line = line.strip().replace("_", "")
    if not line or len(line) > 60:
        return ""
    name = ""
    if m := _match("closing", line):
        name = (m.groupdict().get("name") or "").strip()
        if name.lower().startswith(("my ", "your ")):
            name = ""
    elif m := _match("signature", line):
        name = m.group("name").strip()
    name = re.sub(r"^[—–-]+\s*|[\s,;:!—–-]+$", "", name)
    if name.endswith(".") and not re.search(r"(?:^|\s)[A-Z]\.$", name):
        name = name[:-1]
    if not name:
        return ""
    if CJK.search(name):
        return name if len(name) <= 6 else ""
    words = name.split()
    if not 1 <= len(words) <= 4 or name.lower() in NOT_SIGNERS:
        return ""
    if name.isupper() and len(name.replace(".", "").replace(" ", "")) > 3:
        name = " ".join(w if re.fullmatch(r"[A-Z]\.", w) else w.capitalize() for w in words)
    elif name.islower():
        if name not in KIN:
            return ""
        name = name.capitalize()
    return name


KIN = {"father", "mother", "dad", "mum", "mom", "papa", "mama", "grandpa", "grandad", "granddad", "grandfather",
       "grandma", "granny", "grandmother", "nan", "uncle", "aunt", "son", "daughter", "brother", "sister"}
# Words that end a letter on a line of their own without being anyone's name.
NOT_SIGNERS = {"love", "yours", "ever", "always", "best", "cheers", "thanks", "amen", "finis", "the end", "adieu",
               "farewell", "goodbye", "servant", "friend", "in haste"}


def _width(line: str) -> int:
    return len(line) + len(CJK.findall(line))


def _join(a: str, b: str) -> str:
    if a.endswith("-") and not a.endswith("--") and b[:1].islower():
        return a + b
    if CJK.match(a[-1:]) or CJK.match(b[:1]) or a[-1:] in "，。！？；：、“”「」":
        return a + b
    return f"{a} {b}"


def wrap_width(lines: Iterable[str]) -> int:
    """The column a hard-wrapped text breaks at, or 0 when its lines are not wrapped.

    Wrapped text has most of its lines ending within a few columns of the same width; a text with
    one paragraph per line has lines of every length.
    """
    widths = sorted(_width(line.strip()) for line in lines if line.strip())
    if len(widths) < 6:
        return 0
    width = widths[int(len(widths) * 0.9)]
    near = sum(1 for w in widths if w >= width * 0.75)
    return width if width <= 110 and near >= len(widths) * 0.5 else 0


def paragraphs(lines: list[str], width: int) -> list[str]:
    """Body lines as paragraphs: blank lines separate them; wrapped lines of one paragraph are joined."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = line.strip()
        if not line:
            if current:
                out.append(current)
            current = ""
            continue
        if current and width and _width(current.split("\n")[-1]) >= width * 0.6:
            current = _join(current, line)
        elif current:
            out.append(current)
            current = line
        else:
            current = line
    if current:
        out.append(current)
    return out


def parse(lines: list[str], width: int = 0) -> Letter:
    """The parts of one letter, given its lines (blank lines included)."""
    rows = [line.rstrip() for line in lines]
    while rows and not rows[0].strip():
        rows.pop(0)
    while rows and not rows[-1].strip():
        rows.pop()
    letter = Letter()
    # Top: date and place lines, then the greeting (only among the first few lines).
    # An editor's heading ("12." "TO MR. HALE.") and the date under it head the letter, greeting or not.
    filled = [i for i, line in enumerate(rows) if line.strip()]
    while filled and (_match("heading", rows[filled[0]]) or letter.header and is_date(rows[filled[0]])):
        letter.header.append(rows[filled[0]].strip())
        rows[filled.pop(0)] = ""
    for i in filled[:5]:
        found = salutation(rows[i])
        if found:
            letter.header += [rows[j].strip() for j in filled if j < i]
            letter.salutation, letter.addressee, rest = found
            if letter.salutation.isupper():  # a printed book's capitals: "MY DEAR SON," -> "My Dear Son,"
                letter.salutation, letter.addressee = letter.salutation.title(), letter.addressee.title()
            rows = ([rest] if rest else []) + rows[i + 1:]
            break
        if not (is_date(rows[i]) or (len(rows[i].strip()) <= 40 and not rows[i].strip().endswith(("。", "!", "?")))):
            break  # prose: the letter has no greeting
    # Bottom: postscripts, dates and places below, the signature, the closing lines above it.
    end = len(rows)
    ps = next((i for i, line in enumerate(rows) if is_postscript(line) and i > 0 and not rows[i - 1].strip()
               or is_postscript(line) and i > 0 and (is_closing(rows[i - 1]) or signer(rows[i - 1]))), None)
    if ps is not None:
        letter.postscript = paragraphs(rows[ps:], width)
        end = ps
    tail = [i for i in range(end) if rows[i].strip()]
    trailer: list[int] = []
    while tail and is_date(rows[tail[-1]]) and len(tail) > 1:
        trailer.insert(0, tail.pop())
    signed = False
    if tail and len(tail) > 1:
        last = rows[tail[-1]].strip()
        if is_closing(last):
            letter.signer = signer(last)
            letter.closing = [last]
            tail.pop()
            signed = True
        elif signer(last) and len(last) <= 40:
            previous = rows[tail[-2]].strip()
            # A bare name ends a letter when a closing stands above it, or it stands alone after the body.
            # (a printed book's "BEETHOVEN." ends in a full stop, and so do initials)
            if is_closing(previous) or not re.search(r"[.!?。！？]$", last) or last.isupper():
                letter.signature, letter.signer = last, signer(last)
                tail.pop()
                signed = True
        while signed and tail and len(tail) > 1 and len(letter.closing) < 3 and is_closing(rows[tail[-1]]):
            letter.closing.insert(0, rows[tail.pop()].strip())
        if signed and not letter.signer and letter.closing:
            letter.signer = next((s for s in map(signer, reversed(letter.closing)) if s), "")
    if not signed:
        tail = [i for i in range(end) if rows[i].strip()]
        trailer = []
    letter.trailer = [rows[i].strip() for i in trailer]
    body_end = tail[-1] + 1 if tail else 0
    letter.body = paragraphs(rows[:body_end], width)
    return letter


def _kind(line: str) -> str:
    s = line.strip()
    if not s:
        return "blank"
    if SEPARATOR.match(s):
        return "separator"
    if _match("heading", s):
        return "heading"
    if salutation(s):
        return "salutation"
    if is_postscript(s):
        return "postscript"
    if is_closing(s):
        return "closing"
    if is_date(s):
        return "date"
    if len(s) <= 40 and signer(s):
        return "name"
    return "text"


def _strong(line: str) -> bool:
    """A salutation that cannot be a line of prose: "Dear X," "亲爱的X：" (not a bare "X：")."""
    s = line.strip()
    return not re.match(r"^[\u3400-\u9fffA-Za-z·]{1,8}[：:]", s) or bool(re.match(r"^(?:亲爱|親愛|敬爱|敬愛|尊敬)", s))


def _under_heading(rows: list[str], kinds: list[str], i: int) -> bool:
    """Whether only short lines (addressee, date, place) stand between line ``i`` and a heading above it."""
    seen = 0
    for j in range(i - 1, -1, -1):
        if kinds[j] == "heading":
            return True
        if kinds[j] == "blank":
            continue
        seen += 1
        if seen > 4 or len(rows[j].strip()) > 70 or kinds[j] in ("closing", "postscript", "salutation"):
            return False
    return False


def _starts(rows: list[str], kinds: list[str]) -> list[int]:
    """Indexes of the lines where letters begin (their header lines included)."""
    anchors = []
    for i, kind in enumerate(kinds):
        prev = next((j for j in range(i - 1, -1, -1) if kinds[j] != "blank"), None)
        if kind == "heading":
            if prev is None or kinds[prev] != "heading":
                anchors.append(i)
            continue
        if kind != "salutation" or _under_heading(rows, kinds, i):
            continue
        if prev is None or kinds[prev] in ("separator", "closing", "name", "date", "postscript"):
            anchors.append(i)
        elif i - prev >= 2 and _strong(rows[i]):
            anchors.append(i)
    starts = []
    headers_above = bool(anchors) and any(k in ("date", "name", "text") for k in kinds[:anchors[0]]) and \
        all(len(rows[j].strip()) <= 60 for j in range(anchors[0]) if kinds[j] != "blank")
    for n, a in enumerate(anchors):
        floor = anchors[n - 1] + 1 if n else 0
        start = a
        if kinds[a] == "heading":  # an editor's heading is the first line of its letter
            starts.append(a)
            continue
        # Groups of lines (between blank lines) above the greeting may be its date and place.
        j, attached = a - 1, True
        while j >= floor:
            if kinds[j] == "blank":
                attached = False
                j -= 1
                continue
            group_end = j
            while j >= floor and kinds[j] != "blank":
                j -= 1
            group = list(range(j + 1, group_end + 1))
            suffix: list[int] = []
            for k in reversed(group):
                if len(rows[k].strip()) > 60 or kinds[k] not in ("date", "name", "text"):
                    break
                suffix.insert(0, k)
            dates = [k for k in suffix if kinds[k] == "date"]
            if dates:
                # from the first date line, with the place line just above it unless a closing is above that
                first = dates[0]
                if first - 1 in suffix and not (first - 2 >= 0 and kinds[first - 2] == "closing"):
                    first -= 1
                if attached or headers_above:
                    start = first
            elif attached and suffix == group and n == 0:
                start = group[0]
            if not suffix or suffix[0] != group[0] or start != group[0]:
                break
            attached = False
        starts.append(start)
    return starts


GUTENBERG = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG.*?$(.*?)^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG",
                       re.M | re.S | re.I)
EDITORIAL = re.compile(r"^\[(?:Footnote|Illustration|Music|Sidenote|Transcriber)(?:[^\[\]]|\[[^\[\]]*\])*\]\s*$|"
                       r"^End of (?:the )?Project Gutenberg.*$", re.M)


def _without_editors(text: str) -> str:
    """A scanned book's text without Project Gutenberg's licence and the editor's bracketed notes."""
    if m := GUTENBERG.search(text):
        # the book's own marks: _italics_ and footnote references[1]
        text = re.sub(r"\[\d{1,3}\]|(?<!\w)_(?=\S)|(?<=\S)_(?!\w)", "", EDITORIAL.sub("", m.group(1)))
    return EDITORIAL.sub("", text)


def split(text: str) -> list[Letter] | None:
    """The letters of a text, or None when it does not look like letters (no greetings, no sign-offs).

    >>> [l.signer for l in split("My dear Tom,\\nHello.\\nYours ever,\\nGrandpa\\n\\nMy dear Tom,\\nHi.\\nGrandpa")]
    ['Grandpa', 'Grandpa']
    """
    rows = _without_editors(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    kinds = [_kind(line) for line in rows]
    body_lines = [r for r, k in zip(rows, kinds) if k == "text"]
    width = wrap_width(body_lines)
    blocks: list[tuple[int, int]] = []
    begin = 0
    for i, kind in enumerate([*kinds, "separator"]):
        if kind == "separator":
            if any(k != "blank" for k in kinds[begin:i]):
                blocks.append((begin, i))
            begin = i + 1
    if "salutation" not in kinds and "closing" not in kinds:
        return None
    if len(blocks) > 1 and len(blocks) >= kinds.count("salutation") / 2:
        # separator lines between the letters are the author's own boundaries: one letter between two
        # (a stray rule in a book that separates letters otherwise falls to the next branch)
        letters = [parse(rows[b:e], width) for b, e in blocks]
    else:
        letters = []
        for b, e in blocks:
            starts = sorted({b, *(b + s for s in _starts(rows[b:e], kinds[b:e]))})
            for s0, s1 in zip(starts, [*starts[1:], e]):
                letters.extend(_after_sign_off(rows[s0:s1], width))
    # a book's title or a stray line between letters is no letter
    return [x for x in letters if x.header or x.salutation or x.signer or len(" ".join(x.body).split()) > 8
            or len(CJK.findall(" ".join(x.body))) > 12]


def _after_sign_off(rows: list[str], width: int) -> list[Letter]:
    """One letter, or several when a signed letter is followed by more prose (a letter without greeting)."""
    for i in range(len(rows) - 2):
        # a closing followed, after a blank line, by a paragraph that is neither a postscript nor a date
        if is_closing(rows[i]) or (i > 0 and signer(rows[i]) and is_closing(rows[i - 1])):
            k = i + 1
            while k < len(rows) and rows[k].strip() and (signer(rows[k]) or is_date(rows[k])):
                k += 1
            if k < len(rows) and not rows[k].strip():
                rest = rows[k:]
                first = next((r for r in rest if r.strip()), "")
                if first and not is_postscript(first) and not is_date(first) and len(first.strip()) > 40:
                    return [parse(rows[:k], width), *_after_sign_off(rest, width)]
    return [parse(rows, width)]


def legacy_split(text: str) -> list[str]:
    """Entries of a text that is not letters: at separators, two blank lines or headings; else paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[str] = []
    current: list[str] = []
    blanks = 0

    def flush() -> None:
        if any(line.strip() for line in current):
            blocks.append("\n".join(current).strip())
        current.clear()

    for line in text.split("\n"):
        if SEPARATOR.match(line):
            flush()
        elif not line.strip():
            blanks += 1
            if blanks == 2:  # two blank lines end an entry
                flush()
            elif current:
                current.append(line)
        else:
            if ENTRY_START.match(line):
                flush()
            blanks = 0
            current.append(line)
    flush()
    if len(blocks) == 1:  # no boundaries at all: paragraphs are the units
        paras = [p.strip() for p in re.split(r"\n\s*\n", blocks[0]) if p.strip()]
        return paras if len(paras) > 1 else blocks
    return blocks
