"""Reading seed files: letters, messages or diaries in any common encoding, and chat exports.

A seed is turned into ``Piece``s (one letter, message or diary entry each) holding only the author's
own words. Plain text and Markdown are split into letters at separator lines (``---``, ``***``) or
runs of blank lines, falling back to paragraphs. JSON and CSV chat exports are split by speaker, and
``speaker`` picks whose lines to keep.

Encodings: a BOM wins (UTF-8, UTF-16, UTF-32); then strict UTF-8; then UTF-16 without BOM (NUL
bytes in every other position); then charset-normalizer's best guess among the decodings that do not
fail (GB18030 covers GBK; Big5 is tried too). A file that decodes no way, or contains NUL bytes in
what should be text, is reported as binary or of unknown encoding rather than guessed at.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.errors import SeedFileError

MAX_SEED_BYTES = 64 * 1024 * 1024
RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|={3,}|_{3,})\s*$")  # a separator line, dropped
# A line that starts a new entry and belongs to it: a Markdown heading or a date line of a diary.
ENTRY_START = re.compile(r"^\s*(?:#{1,3}\s.*|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日)\s*\S*$")
SPEAKER_KEYS = ("speaker", "from", "author", "sender", "name", "user", "role")
TEXT_KEYS = ("text", "message", "content", "body", "msg")


@dataclass(frozen=True)
class Piece:
    """One letter, message or diary entry, in the author's words."""

    text: str
    source: str
    index: int


@dataclass(frozen=True)
class Seed:
    """A decoded seed file and what was found in it."""

    path: Path
    sha256: str
    size: int
    encoding: str
    kind: str  # text | chat-json | chat-csv
    pieces: list[Piece]
    speakers: dict[str, int]

    def source_record(self) -> dict:
        return {"file": self.path.name, "sha256": self.sha256, "bytes": self.size, "encoding": self.encoding,
                "kind": self.kind, "pieces": len(self.pieces)}


def decode(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name) or SeedFileError saying why not."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise SeedFileError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise SeedFileError(f"{path.name} is not valid {encoding} (byte {exc.start}); check --encoding") from None
    for bom, name in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                      (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError:
                raise SeedFileError(f"{path.name} starts like {name} but is not valid {name}") from None
    head = data[:4096]
    # Checked before UTF-8: UTF-16 text without a BOM is often valid UTF-8, full of NUL characters.
    if head and head.count(0) > len(head) // 4:
        # UTF-16 without a BOM: ASCII characters leave a NUL in every other byte.
        name = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            raise SeedFileError(f"{path.name} looks like a binary file, not text") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise SeedFileError(f"{path.name} looks like a binary file, not text")
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5", "cp1252", "latin_1", "shift_jis", "euc_kr", "cp1251",
                                          "iso8859_2", "koi8_r"]).best()
    if best is None or best.chaos > 0.3:
        raise SeedFileError(f"cannot tell the text encoding of {path.name} (mixed or unknown); save it as UTF-8 "
                            "or name the encoding with --encoding")
    name = "gb18030" if best.encoding in ("gb2312", "gbk") else best.encoding
    return data.decode(name), name


def _chat_rows(obj: object) -> list[tuple[str, str]] | None:
    """(speaker, text) rows of a JSON chat export, or None if it is not one."""
    if isinstance(obj, dict):
        for key in ("messages", "chat", "conversation", "data"):
            if isinstance(obj.get(key), list):
                return _chat_rows(obj[key])
        return None
    if not isinstance(obj, list):
        return None
    rows = []
    for item in obj:
        if not isinstance(item, dict):
            continue
        speaker = next((item[k] for k in SPEAKER_KEYS if isinstance(item.get(k), str)), None)
        text = next((item[k] for k in TEXT_KEYS if k in item), None)
        if isinstance(text, list):  # Telegram splits formatted text into parts
            text = "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in text if isinstance(p, (str, dict)))
        if speaker and isinstance(text, str) and text.strip():
            rows.append((speaker, text.strip()))
    return rows or None


def _csv_rows(text: str) -> list[tuple[str, str]] | None:
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.lower() for f in reader.fieldnames or []]
    except csv.Error:
        return None
    speaker_col = next((f for f in (reader.fieldnames or []) if f.lower() in SPEAKER_KEYS), None)
    text_col = next((f for f in (reader.fieldnames or []) if f.lower() in TEXT_KEYS), None)
    if not speaker_col or not text_col or len(fields) < 2:
        return None
    try:
        return [(r[speaker_col].strip(), r[text_col].strip()) for r in reader
                if r.get(speaker_col) and r.get(text_col) and r[text_col].strip()] or None
    except csv.Error:
        return None


def split_letters(text: str) -> list[str]:
    """Letters (or entries) of a plain-text seed, oldest first.

    >>> split_letters("Dear Ann,\\nHello.\\nLove, Gramps\\n---\\nDear Ann,\\nHi again.")
    ['Dear Ann,\\nHello.\\nLove, Gramps', 'Dear Ann,\\nHi again.']
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[str] = []
    current: list[str] = []
    blanks = 0

    def flush() -> None:
        if any(line.strip() for line in current):
            blocks.append("\n".join(current).strip())
        current.clear()

    for line in text.split("\n"):
        if RULE.match(line):
            flush()
        elif not line.strip():
            blanks += 1
            if blanks == 2:  # two blank lines end a letter
                flush()
            elif current:
                current.append(line)
        else:
            if ENTRY_START.match(line):
                flush()
            blanks = 0
            current.append(line)
    flush()
    if len(blocks) == 1:  # no letter boundaries at all: paragraphs are the units
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", blocks[0]) if p.strip()]
        return paragraphs if len(paragraphs) > 1 else blocks
    return blocks


def read_seed(path: Path, *, encoding: str | None = None, speaker: str | None = None,
              max_bytes: int = MAX_SEED_BYTES) -> Seed:
    """Read and split one seed file; SeedFileError with the reason when it cannot be used."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SeedFileError(f"seed path is not a file: {path}")
        if size > max_bytes:
            raise SeedFileError(f"{path.name} is {size / 2**20:.0f} MB; seed files are limited to "
                                f"{max_bytes / 2**20:.0f} MB. Split it into several files (--seed A --seed B)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SeedFileError(f"seed file not found: {path}") from None
    except OSError as exc:
        raise SeedFileError(f"cannot read seed file {path}: {exc.strerror}") from None
    text, enc = decode(data, path, encoding)
    if not text.strip():
        raise SeedFileError(f"{path.name} is empty: there is nothing to learn a persona from")
    control = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > len(text[:20000]) * 0.01:
        raise SeedFileError(f"{path.name} looks like a binary file, not text")

    rows, kind = None, "text"
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            rows, kind = _chat_rows(json.loads(text)), "chat-json"
        except json.JSONDecodeError:
            rows = None
    elif path.suffix.lower() == ".csv":
        rows, kind = _csv_rows(text), "chat-csv"
    if rows:
        counts = dict(Counter(s for s, _ in rows).most_common())
        if speaker is None:
            listing = ", ".join(f"{s} ({n} lines)" for s, n in list(counts.items())[:10])
            raise SeedFileError(f"{path.name} is a chat export with several speakers: {listing}. "
                                "Choose whose words to use with --speaker NAME")
        chosen = [t for s, t in rows if s.casefold() == speaker.casefold()]
        if not chosen:
            raise SeedFileError(f"no lines by {speaker!r} in {path.name}; speakers: {', '.join(counts)}")
        units = chosen
    else:
        kind, counts = "text", {}
        units = split_letters(text)
    pieces = [Piece(u, path.name, i) for i, u in enumerate(units)]
    return Seed(path, hashlib.sha256(data).hexdigest(), size, enc, kind, pieces, counts)


def chunks(piece: Piece, max_words: int = 120) -> list[str]:
    """Retrieval-sized chunks of a piece, cut at sentence ends (CJK text counts characters / 2)."""
    sentences = [s for s in re.split(r"(?<=[.!?。！？…])\s*", piece.text.strip()) if s.strip()]
    joiner = "" if re.search(r"[\u3400-\u9fff]", piece.text) else " "
    out, current, size = [], [], 0
    for sentence in sentences:
        n = max(len(sentence.split()), len(re.findall(r"[\u3400-\u9fff]", sentence)) // 2)
        if current and size + n > max_words:
            out.append(joiner.join(current))
            current, size = [], 0
        current.append(sentence.strip())
        size += n
    if current:
        out.append(joiner.join(current))
    return out
