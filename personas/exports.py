"""Chat and mail exports: each format recognised from the file itself, read into (speaker, text) messages.

Formats register with ``@exporter``; ``read`` asks each in turn whether a file is its kind, so a
WhatsApp chat saved as ``notes.txt`` or a Telegram export renamed ``chat.dat`` is still read right.
Only what a person wrote is kept: media placeholders, system lines ("Messages and calls are
end-to-end encrypted"), forwarded messages, quoted replies and signatures are dropped.

Corners cut: WhatsApp's date format is matched by shape (day/month order does not matter because
dates are thrown away); an e-mail's body is its text/plain part, or its HTML with the tags removed.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import mailbox
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from app.core.errors import SeedFileError

Message = tuple[str, str]  # (speaker, text)


@dataclass(frozen=True)
class Exporter:
    """One export format: ``detect`` looks at the decoded text, ``read`` returns its messages."""

    kind: str
    label: str
    detect: Callable[[str, Path], bool]
    read: Callable[[str, bytes, Path], list[Message]]


EXPORTERS: list[Exporter] = []


def exporter(kind: str, label: str, detect: Callable[[str, Path], bool]):  # type: ignore[no-untyped-def]
    """Register a reader for one export format (tried in registration order)."""
    def register(read: Callable[[str, bytes, Path], list[Message]]):  # type: ignore[no-untyped-def]
        EXPORTERS.append(Exporter(kind, label, detect, read))
        return read
    return register


def read(text: str, data: bytes, path: Path) -> tuple[Exporter, list[Message]] | None:
    """(format, messages) of an export, None when the file is no export (plain text, letters)."""
    for fmt in EXPORTERS:
        if fmt.detect(text, path):
            messages = [(s.strip(), t.strip()) for s, t in fmt.read(text, data, path) if s.strip() and t.strip()]
            if not messages:
                article = "an" if fmt.label[:1].lower() in "aeiou" else "a"
                raise SeedFileError(f"{path.name} looks like {article} {fmt.label} but holds no messages with text")
            return fmt, messages
    return None


# --- JSON: Telegram Desktop, Facebook/Instagram Messenger, and any list of {speaker, text} records ---------

SPEAKER_KEYS = ("speaker", "from", "author", "sender", "sender_name", "name", "user", "role")
TEXT_KEYS = ("text", "message", "content", "body", "msg")


@lru_cache(maxsize=2)  # every JSON format's detect and read look at the same parsed file
def _json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedFileError(f"{path.name} looks like JSON but is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg}); export the chat again or fix the file") from None
    except RecursionError:
        raise SeedFileError(f"{path.name} is JSON nested too deeply to be a chat export") from None


def _looks_json(text: str, path: Path) -> bool:
    s = text.strip()
    return (s[:1] == "{" and s[-1:] == "}") or (s[:1] == "[" and s[-1:] == "]") or \
        (path.suffix.lower() == ".json" and s[:1] in "[{")


def _telegram_text(value: object) -> str:
    """Telegram's text: a string, or a list of strings and entities like {"type": "bold", "text": "..."}."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in value if isinstance(p, (str, dict)))
    return ""


def _is_telegram(text: str, path: Path) -> bool:
    if not _looks_json(text, path):
        return False
    obj = _json(text, path)
    if isinstance(obj, dict) and isinstance(obj.get("chats"), dict):  # a full-account export
        return True
    return isinstance(obj, dict) and isinstance(obj.get("messages"), list) and any(
        isinstance(m, dict) and m.get("type") in ("message", "service") for m in obj["messages"][:50])


@exporter("telegram", "Telegram export (result.json)", _is_telegram)
def _telegram(text: str, data: bytes, path: Path) -> list[Message]:
    obj = _json(text, path)
    assert isinstance(obj, dict)
    chats = obj["chats"].get("list", []) if isinstance(obj.get("chats"), dict) else [obj]
    out = []
    for chat in chats if isinstance(chats, list) else []:
        for m in chat.get("messages", []) if isinstance(chat, dict) else []:
            # service lines (joined, pinned, called) and forwards are not the person's own words
            if not isinstance(m, dict) or m.get("type") != "message" or m.get("forwarded_from"):
                continue
            if isinstance(m.get("from"), str):
                out.append((m["from"], _telegram_text(m.get("text"))))
    return out


def _mojibake(s: str) -> str:
    """Messenger writes UTF-8 bytes as if each were a Latin-1 character: "Ã©" -> "é"."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


MESSENGER_NOISE = re.compile(r"^(?:.{1,60} sent an? (?:attachment|photo|video|GIF|sticker|link|voice message)\.|"
                             r"Liked a message|.{1,60} reacted .{1,8} to your message|.{1,60} missed (?:your|a) "
                             r"(?:video )?call\.?|The video chat ended\.|.{1,60} (?:named|left|joined) the group.*)$")


def _is_messenger(text: str, path: Path) -> bool:
    if not _looks_json(text, path):
        return False
    obj = _json(text, path)
    return isinstance(obj, dict) and isinstance(obj.get("messages"), list) and (
        "participants" in obj or any(isinstance(m, dict) and "sender_name" in m for m in obj["messages"][:50]))


@exporter("messenger", "Facebook/Instagram Messenger export", _is_messenger)
def _messenger(text: str, data: bytes, path: Path) -> list[Message]:
    obj = _json(text, path)
    assert isinstance(obj, dict)
    rows = [m for m in obj["messages"] if isinstance(m, dict) and isinstance(m.get("sender_name"), str)
            and isinstance(m.get("content"), str) and m.get("type", "Generic") == "Generic"]
    # Messenger lists the newest message first.
    rows.sort(key=lambda m: m.get("timestamp_ms") if isinstance(m.get("timestamp_ms"), (int, float)) else 0)
    out = []
    for m in rows:
        content = _mojibake(m["content"])
        if not MESSENGER_NOISE.match(content):
            out.append((_mojibake(m["sender_name"]), content))
    return out


def _records(obj: object) -> list[Message] | None:
    if isinstance(obj, dict):
        for key in ("messages", "chat", "conversation", "data"):
            if isinstance(obj.get(key), list):
                return _records(obj[key])
        return None
    if not isinstance(obj, list):
        return None
    rows = []
    for item in obj:
        if not isinstance(item, dict):
            continue
        speaker = next((item[k] for k in SPEAKER_KEYS if isinstance(item.get(k), str)), None)
        body = _telegram_text(next((item[k] for k in TEXT_KEYS if k in item), None))
        if speaker and body.strip():
            rows.append((speaker, body))
    return rows or None


def _is_records(text: str, path: Path) -> bool:
    return _looks_json(text, path) and _records(_json(text, path)) is not None


@exporter("chat-json", "JSON chat export", _is_records)
def _json_records(text: str, data: bytes, path: Path) -> list[Message]:
    return _records(_json(text, path)) or []


# --- WhatsApp "Export chat" text ------------------------------------------------------------------------

_WA_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[\s\u202f\u00a0]?[APap]\.?\s?[Mm]\.?)?"
_WA_DATE = r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}"
WA_ANDROID = re.compile(rf"^\u200e?({_WA_DATE}),?\s+({_WA_TIME})\s+[-–]\s+(.*)$")
WA_IOS = re.compile(rf"^\u200e?\[({_WA_DATE}),?\s+({_WA_TIME})\]\s+(.*)$")
WA_SPEAKER = re.compile(r"^([^:\u200e]{1,80}?):\s(.*)$", re.S)
WA_DROP = re.compile(r"^\u200e|^<Media omitted>$|^(?:image|video|audio|sticker|GIF|document|Contact card) omitted$|"
                     r"^<attached: .*>$|^This message was deleted\.?$|^You deleted this message\.?$|^null$|"
                     r"^Missed (?:voice|video) call$|^Waiting for this message", re.I)


def _wa_lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _is_whatsapp(text: str, path: Path) -> bool:
    head = _wa_lines(text[:20000])[:30]
    stamped = sum(1 for line in head if WA_ANDROID.match(line) or WA_IOS.match(line))
    return bool(head) and stamped >= max(2, len(head) // 3) and bool(WA_ANDROID.match(head[0]) or WA_IOS.match(head[0]))


@exporter("whatsapp", "WhatsApp chat export", _is_whatsapp)
def _whatsapp(text: str, data: bytes, path: Path) -> list[Message]:
    messages: list[list[str]] = []  # [speaker, text] or ["", system text]
    for line in _wa_lines(text):
        stamp = WA_ANDROID.match(line) or WA_IOS.match(line)
        if stamp:
            who = WA_SPEAKER.match(stamp.group(3))
            messages.append([who.group(1), who.group(2)] if who else ["", stamp.group(3)])
        elif messages:  # a message of several lines
            messages[-1][1] += "\n" + line
    out = []
    for speaker, body in messages:
        body = re.sub(r"\s*<This message was edited>$", "", body.strip())
        if speaker and not WA_DROP.match(body):
            out.append((speaker, body))
    return out


# --- E-mail: .eml and .mbox ---------------------------------------------------------------------------------

QUOTE_HEAD = re.compile(r"^(?:On\s.{0,300}\swrote:|Le\s.{0,200}\sa écrit\s?:|-{2,}\s*Original Message\s*-{2,}|"
                        r"_{10,}|From:\s.+)$", re.I | re.S)
SIGNATURE = re.compile(r"^(?:--|-- |Sent from my \w+.*|Get Outlook for \w+.*)$")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")


def own_words(body: str) -> str:
    """An e-mail body without the quoted message it answers and without the signature."""
    lines = body.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        two = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if SIGNATURE.match(line.rstrip("\n")) or QUOTE_HEAD.match(stripped) or (
                stripped.startswith("On ") and not stripped.endswith("wrote:") and QUOTE_HEAD.match(two)):
            break
        if not stripped.startswith(">"):
            out.append(line.rstrip())
    return "\n".join(out).strip()


def _body(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        content = part.get_payload(decode=True).decode("utf-8", "replace") if part.get_payload(decode=True) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        parser = _Text()
        parser.feed(content)
        content = "".join(parser.parts)
    return own_words(content)


def _sender(msg: email.message.Message) -> str:
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    return name or address


HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,40}:\s")


def _is_eml(text: str, path: Path) -> bool:
    head = text.lstrip()[:10000].split("\n\n", 1)[0].replace("\r", "").split("\n")
    fields = {line.split(":", 1)[0].lower() for line in head if HEADER.match(line)}
    return HEADER.match(head[0]) is not None and "from" in fields and bool(fields & {"subject", "date", "to",
                                                                                      "message-id"})


def _is_mbox(text: str, path: Path) -> bool:
    return text.startswith("From ") and _is_eml(text.split("\n", 1)[1] if "\n" in text else "", path)


@exporter("mbox", "mailbox (.mbox)", _is_mbox)
def _mbox(text: str, data: bytes, path: Path) -> list[Message]:
    box = mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default),
                       create=False)
    try:
        return [(_sender(m), _body(m)) for m in box if m is not None]
    finally:
        box.close()


@exporter("eml", "e-mail message (.eml)", _is_eml)
def _eml(text: str, data: bytes, path: Path) -> list[Message]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    return [(_sender(msg), _body(msg))]  # type: ignore[arg-type]


# --- CSV with a speaker and a text column ---------------------------------------------------------------


def _csv_rows(text: str) -> list[Message] | None:
    import csv
    import io

    try:
        reader = csv.DictReader(io.StringIO(text))
        names = reader.fieldnames or []
        speaker_col = next((f for f in names if f and f.lower() in SPEAKER_KEYS), None)
        text_col = next((f for f in names if f and f.lower() in TEXT_KEYS), None)
        if not speaker_col or not text_col or len(names) < 2:
            return None
        return [(r[speaker_col] or "", r[text_col] or "") for r in reader]
    except csv.Error:
        return None


def _is_csv(text: str, path: Path) -> bool:
    return path.suffix.lower() == ".csv" and _csv_rows(text) is not None


@exporter("chat-csv", "CSV chat export", _is_csv)
def _csv(text: str, data: bytes, path: Path) -> list[Message]:
    return _csv_rows(text) or []
