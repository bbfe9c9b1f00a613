"""Reading seed files: letters, messages or diaries in any common encoding, and chat exports.

A seed is turned into ``Piece``s (one letter, message or diary entry each) holding only the author's
own words. Chat and mail exports (``personas.exports``) are recognised from the file itself and
``speaker`` picks whose messages to keep. Other text is read as letters (``personas.letters``: split
at greetings, sign-offs and separators, hard wraps undone), and a text that is not letters (a diary,
notes) is split at separator lines, headings or runs of blank lines, falling back to paragraphs.
For letters, ``speaker`` keeps the letters signed by that name.

Encodings: a BOM wins (UTF-8, UTF-16, UTF-32); then strict UTF-8; then UTF-16 without BOM (NUL
bytes in every other position); then charset-normalizer's best guess among the decodings that do not
fail (GB18030 covers GBK; Big5 is tried too). A file that decodes no way, or contains NUL bytes in
what should be text, is reported as binary or of unknown encoding rather than guessed at.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import SeedFileError
from app.core.text import sentences
from personas import exports, letters
from personas.letters import Letter

MAX_SEED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Piece:
    """One letter, message or diary entry, in the author's words."""

    text: str
    source: str
    index: int
    author: str = ""  # the speaker of a message, the signer of a letter; "" when unknown


@dataclass(frozen=True)
class Seed:
    """A decoded seed file and what was found in it."""

    path: Path
    sha256: str
    size: int
    encoding: str
    kind: str  # text, or the export format (whatsapp, telegram, messenger, mbox, eml, chat-json, chat-csv)
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


def split_letters(text: str) -> list[Letter] | list[str]:
    """Letters of a plain-text seed (``Letter``s), or its entries as strings when it is not letters.

    >>> [l.signer for l in split_letters("Dear Ann,\\nHello.\\nLove, Gramps\\n\\nDear Ann,\\nHi again.\\nGramps")]
    ['Gramps', 'Gramps']
    """
    return letters.split(text) or letters.legacy_split(text)


def _choose(path: Path, label: str, counts: dict[str, int], speaker: str | None, unit: str) -> set[str]:
    """The speakers whose words to keep: the one named by ``speaker``; the only one there is; or a clear error."""
    listing = ", ".join(f"{s} ({n} {unit if n != 1 else unit[:-1]})" for s, n in list(counts.items())[:12])
    if speaker is None:
        if len(counts) == 1:
            return set(counts)
        raise SeedFileError(f"{path.name} is a {label} with {len(counts)} speakers: {listing}. "
                            "Choose whose words to use with --speaker NAME")
    wanted = speaker.strip().casefold()
    chosen = {s for s in counts if s.casefold() == wanted}
    if not chosen:
        raise SeedFileError(f"no {unit} by {speaker!r} in {path.name}; found: {listing or 'no signed ' + unit}")
    return chosen


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

    found = exports.read(text, data, path)
    if found:
        fmt, rows = found
        counts = dict(Counter(s for s, _ in rows).most_common())
        chosen = _choose(path, fmt.label, counts, speaker, "messages")
        pieces = [Piece(t, path.name, i, s) for i, (s, t) in enumerate((s, t) for s, t in rows if s in chosen)]
        kind = fmt.kind
    else:
        kind = "text"
        units = split_letters(text)
        pieces = [Piece(u.text, path.name, i, u.signer) if isinstance(u, Letter) else Piece(u, path.name, i)
                  for i, u in enumerate(units)]
        counts = dict(Counter(p.author for p in pieces if p.author).most_common())
        if speaker is not None:
            chosen = _choose(path, "letter collection", counts, speaker, "letters")
            pieces = [Piece(p.text, p.source, i, p.author) for i, p in enumerate(q for q in pieces if q.author in chosen)]
    return Seed(path, hashlib.sha256(data).hexdigest(), size, enc, kind, pieces, counts)


def chunks(piece: Piece, max_words: int = 120) -> list[str]:
    """Retrieval-sized chunks of a piece, cut at sentence ends (CJK text counts characters / 2)."""
    joiner = "" if re.search(r"[\u3400-\u9fff]", piece.text) else " "
    out, current, size = [], [], 0
    for sentence in sentences(piece.text):
        n = max(len(sentence.split()), len(re.findall(r"[\u3400-\u9fff]", sentence)) // 2)
        if current and size + n > max_words:
            out.append(joiner.join(current))
            current, size = [], 0
        current.append(sentence.strip())
        size += n
    if current:
        out.append(joiner.join(current))
    return out
