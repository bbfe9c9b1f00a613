"""Character Card V1/V2/V3 (SillyTavern's ``chara_card_v2`` / ``chara_card_v3``) to and from personas.

Import keeps the whole card (``Persona.card``) besides the fields we use, and export writes our
fields over a copy of it, so every field we do not model (extensions, lorebook entry settings,
assets, dates...) survives a round trip unchanged: export(import(card)) == card for the same version.
A field is written back when the original card had it or when its value is not the default, so an
import never grows keys the card did not have. Keepsake's own fields (style profile, seed sources,
real-person flag, adapter) travel in ``data.extensions.keepsake``.

PNG cards carry the JSON base64-encoded in ``tEXt`` chunks: ``chara`` (V2) and ``ccv3`` (V3). When both
are present V3 wins; V3 export writes both, as the V3 spec advises for older readers.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import struct
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from app.errors import CardError
from personas.persona import LoreEntry, Persona

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_CARD_BYTES = 50 * 1024 * 1024
# persona field -> card field
FIELDS = {
    "name": "name", "description": "description", "personality": "personality", "scenario": "scenario",
    "greeting": "first_mes", "example_dialogue": "mes_example", "system_prompt": "system_prompt",
    "post_history_instructions": "post_history_instructions", "creator_notes": "creator_notes",
    "creator": "creator", "tags": "tags", "alternate_greetings": "alternate_greetings",
}
V3_ONLY = ("nickname", "creator_notes_multilingual", "source", "group_only_greetings", "creation_date",
           "modification_date", "assets")
KEEPSAKE_FIELDS = ("real_person", "sources", "style", "facts", "lora_path")
ENTRY_FIELDS = {"keys": [], "content": "", "constant": False, "enabled": True}
Version = Literal["v2", "v3"]


def _expect(value: Any, kind: type | tuple, where: str) -> Any:
    if not isinstance(value, kind) or (kind is str and not isinstance(value, str)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CardError(f"card field {where} must be {names}, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    _expect(value, list, where)
    for i, item in enumerate(value):
        _expect(item, str, f"{where}[{i}]")
    return value


def card_data(obj: Any) -> tuple[str, dict]:
    """(spec, data) of a parsed card JSON; V1 cards are flat."""
    _expect(obj, dict, "(top level)")
    spec = obj.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        return spec, _expect(obj.get("data"), dict, "data")
    if spec is not None:
        raise CardError(f"unknown card spec {spec!r}; Keepsake reads chara_card_v2 and chara_card_v3 (and V1)")
    return "chara_card_v1", obj


def persona_from_card(obj: Any) -> Persona:
    """A persona from a card's JSON; CardError naming the field when it is malformed."""
    spec, data = card_data(obj)
    prefix = "" if spec == "chara_card_v1" else "data."
    name = data.get("name", data.get("char_name"))
    if not isinstance(name, str) or not name.strip():
        raise CardError(f"card field {prefix}name is missing or empty")
    values: dict[str, Any] = {}
    for ours, theirs in FIELDS.items():
        if theirs in data and data[theirs] is not None:
            where = prefix + theirs
            values[ours] = _strings(data[theirs], where) if ours in ("tags", "alternate_greetings") else _expect(data[theirs], str, where)
    values["name"] = name.strip()
    book = data.get("character_book")
    if book is not None:
        entries = _expect(_expect(book, dict, prefix + "character_book").get("entries", []), list,
                          prefix + "character_book.entries")
        lore = []
        for i, entry in enumerate(entries):
            where = f"{prefix}character_book.entries[{i}]"
            _expect(entry, dict, where)
            _strings(entry.get("keys", []), where + ".keys")
            _expect(entry.get("content", ""), str, where + ".content")
            try:
                lore.append(LoreEntry.model_validate(entry))
            except ValidationError as exc:
                raise CardError(f"card field {where}: {exc.errors()[0]['msg']}") from None
        values["lorebook"] = lore
    extensions = data.get("extensions", {})
    mine = _expect(extensions, dict, prefix + "extensions").get("keepsake", {})
    values.update({k: mine[k] for k in KEEPSAKE_FIELDS if isinstance(mine, dict) and k in mine})
    try:
        return Persona(**values, card=copy.deepcopy(obj))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CardError(f"card field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def v3_defaults() -> dict:
    """The V3-only fields of a card converted from V2."""
    now = int(datetime.now(timezone.utc).timestamp())
    return {"nickname": "", "creator_notes_multilingual": {}, "source": [], "group_only_greetings": [],
            "creation_date": now, "modification_date": now,
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]}


def _convert(obj: dict, version: Version) -> dict:
    """The original card moved to ``version`` (V1 and V2 -> V3 gain the V3 fields; V3 -> V2 stashes them)."""
    spec, data = card_data(obj)
    data = copy.deepcopy(data)
    if spec == "chara_card_v1":
        data = {k: data[k] for k in ("name", *FIELDS.values()) if k in data}
    if version == "v3" and spec != "chara_card_v3":
        stash = data.get("extensions", {}).pop("keepsake_v3", {}) if isinstance(data.get("extensions"), dict) else {}
        data.update({k: stash.get(k, v) for k, v in v3_defaults().items()})
        return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}
    if version == "v2" and spec == "chara_card_v3":
        stash = {k: data.pop(k) for k in V3_ONLY if k in data}
        defaults = v3_defaults()
        # Only worth keeping when it says something beyond the defaults a V2 -> V3 conversion adds.
        if any(v != defaults[k] for k, v in stash.items() if not k.endswith("_date")):
            data.setdefault("extensions", {})["keepsake_v3"] = stash
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    if spec == "chara_card_v1":
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    return copy.deepcopy(obj)


def card_from_persona(persona: Persona, version: Version = "v3") -> dict:
    """The persona as a card: its original card (if imported) with our fields written over it."""
    base = persona.card or {"spec": "chara_card_v2", "spec_version": "2.0", "data": {}}
    card = _convert(base, version)
    data = card["data"]
    defaults = Persona(name="x")
    for ours, theirs in FIELDS.items():
        value = getattr(persona, ours)
        if theirs in data or value != getattr(defaults, ours) or ours == "name":
            data[theirs] = list(value) if isinstance(value, list) else value
    for required, empty in (("description", ""), ("personality", ""), ("scenario", ""), ("first_mes", ""),
                            ("mes_example", ""), ("creator_notes", ""), ("system_prompt", ""),
                            ("post_history_instructions", ""), ("alternate_greetings", []), ("tags", []),
                            ("creator", ""), ("character_version", ""), ("extensions", {})):
        data.setdefault(required, copy.deepcopy(empty))  # the V2 spec makes these required
    if persona.lorebook or "character_book" in data:
        book = data.setdefault("character_book", {"entries": []})
        old = book.get("entries", []) if isinstance(book.get("entries"), list) else []
        entries = []
        for i, entry in enumerate(persona.lorebook):
            raw = copy.deepcopy(old[i]) if i < len(old) and isinstance(old[i], dict) else {}
            raw.update(entry.model_extra or {})
            for key, default in ENTRY_FIELDS.items():
                value = getattr(entry, key)
                if key in raw or value != default or key in ("keys", "content"):
                    raw[key] = list(value) if isinstance(value, list) else value
            entries.append(raw)
        book["entries"] = entries
    mine = {k: getattr(persona, k) for k in KEEPSAKE_FIELDS if getattr(persona, k) != getattr(defaults, k)}
    if mine:
        data["extensions"].setdefault("keepsake", {}).update(json.loads(json.dumps(mine)))
    return card


# -- files ---------------------------------------------------------------------------------------

def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking structure and CRCs."""
    if not png.startswith(PNG_MAGIC):
        raise CardError("not a PNG file")
    out, pos = [], len(PNG_MAGIC)
    while pos < len(png):
        if pos + 12 > len(png):
            raise CardError("the PNG is truncated")
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        end = pos + 12 + length
        if end > len(png):
            raise CardError("the PNG is truncated")
        body = png[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", png[end - 4:end])[0]:
            raise CardError(f"the PNG is damaged (bad checksum in a {kind.decode(errors='replace')} chunk)")
        out.append((kind, body))
        pos = end
        if kind == b"IEND":
            break
    if not out or out[-1][0] != b"IEND":
        raise CardError("the PNG is truncated (no IEND chunk)")
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def read_card_bytes(raw: bytes) -> tuple[dict, bytes | None]:
    """(card JSON, the PNG image without card chunks or None) from a JSON or PNG card's bytes."""
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(f"the card file is {len(raw) / 2**20:.0f} MB; cards are limited to 50 MB")
    if raw.startswith(PNG_MAGIC):
        chunks = _chunks(raw)
        texts = {}
        for kind, body in chunks:
            if kind == b"tEXt" and b"\x00" in body:
                key, _, value = body.partition(b"\x00")
                texts[key.decode("latin-1")] = value
        payload = texts.get("ccv3") or texts.get("chara")
        if payload is None:
            raise CardError("this PNG has no character card (no chara or ccv3 text chunk)")
        try:
            obj = json.loads(base64.b64decode(payload, validate=True).decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError):
            raise CardError("the card inside this PNG is not valid base64-encoded JSON") from None
        image = PNG_MAGIC + b"".join(_chunk(k, b) for k, b in chunks
                                     if not (k == b"tEXt" and b.partition(b"\x00")[0] in (b"chara", b"ccv3")))
        return obj, image
    try:
        return json.loads(raw.decode("utf-8-sig")), None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CardError("not a character card: expected a JSON file or a PNG with an embedded card") from None


def read_card(path: Path) -> tuple[Persona, bytes | None]:
    """A persona and its avatar image (PNG bytes, or None) from a card file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise CardError(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; cards are limited to 50 MB")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CardError(f"card file not found: {path}") from None
    except OSError as exc:
        raise CardError(f"cannot read {path}: {exc.strerror}") from None
    if not raw:
        raise CardError(f"{path.name} is empty")
    obj, image = read_card_bytes(raw)
    return persona_from_card(obj), image


def placeholder_png(size: int = 64, rgb: tuple[int, int, int] = (120, 144, 156)) -> bytes:
    """A plain square PNG, for cards exported from a persona without an avatar."""
    row = b"\x00" + bytes(rgb) * size
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(row * size)) + _chunk(b"IEND", b"")


def card_png(card: dict, image: bytes | None = None) -> bytes:
    """PNG bytes: ``image`` (or a placeholder) with the card in tEXt chunks; V3 cards also carry V2."""
    chunks = [(k, b) for k, b in _chunks(image or placeholder_png())
              if not (k == b"tEXt" and b.partition(b"\x00")[0] in (b"chara", b"ccv3"))]
    encode = lambda obj: base64.b64encode(json.dumps(obj, ensure_ascii=False).encode("utf-8"))  # noqa: E731
    texts = []
    if card.get("spec") == "chara_card_v3":
        texts.append(_chunk(b"tEXt", b"ccv3\x00" + encode(card)))
        texts.append(_chunk(b"tEXt", b"chara\x00" + encode(_convert(card, "v2"))))
    else:
        texts.append(_chunk(b"tEXt", b"chara\x00" + encode(card)))
    body = b"".join(_chunk(k, b) for k, b in chunks[:-1])
    return PNG_MAGIC + body + b"".join(texts) + _chunk(b"IEND", b"")


def write_atomic(path: Path, data: bytes) -> None:
    """All or nothing: a full disk or a crash leaves the old file (or none), never half of one."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CardError(f"cannot write {path}: {exc.strerror}") from None
