"""Character Card V1/V2/V3 (SillyTavern's ``chara_card_v2`` / ``chara_card_v3``): files, ``Card``, personas.

``parse_card`` turns card JSON of any version into a ``Card`` that keeps the original JSON in ``raw``;
``card_to_json`` writes a Card's edited fields over ``raw`` and converts it to V2 or V3, so what we do not
model survives. V3-only fields ride in ``data.extensions.keepsake_v3`` of a V2 card and come back on V3.

Personas work the same way: import keeps the whole card (``Persona.card``) besides the fields we use, and export writes our
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
import copy
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from app.core.errors import CardError
from app.core.files import write_atomic
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
KEEPSAKE_FIELDS = ("real_person", "sources", "style", "facts", "lora_path")
ENTRY_FIELDS = {"keys": [], "content": "", "constant": False, "enabled": True}
Version = Literal["v2", "v3"]


def _expect(value: Any, kind: type | tuple, where: str) -> Any:
    # JSON true is not a number, though Python's bool is an int.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        got = "nothing (missing or null)" if value is None else type(value).__name__
        raise CardError(f"card field {where} must be {names}, got {got}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise CardError(f"card field {where} must be list of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        _expect(item, str, f"{where}[{i}]")
    return value


def _or(value: Any, default: Any) -> Any:
    """``value`` unless it is None (null in JSON means "not given"; an empty list is still a wrong type)."""
    return default if value is None else value


def _extensions(data: dict) -> dict:
    """``data.extensions``, made a dict if it was missing or null, to write into."""
    if not isinstance(data.get("extensions"), dict):
        data["extensions"] = {}
    return data["extensions"]


def card_data(obj: Any) -> tuple[str, dict]:
    """(spec, data) of a parsed card JSON; V1 cards are flat, so their data is the object itself."""
    _expect(obj, dict, "(top level)")
    spec = obj.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        return spec, _expect(obj.get("data"), dict, "data")
    if spec is not None:
        raise CardError(f"unknown card spec {spec!r}; Keepsake reads chara_card_v2 and chara_card_v3 (and V1)")
    return "chara_card_v1", obj


@dataclass(frozen=True)
class Card:
    """A card in no particular version: the fields Keepsake uses, plus ``raw``, the JSON it came from.

    Change it with ``dataclasses.replace``; ``card_to_json`` writes the changed fields over ``raw``.
    ``nickname`` is None when the card has none (an empty nickname would blank out ``{{char}}``).
    """

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    creator: str = ""
    character_version: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    character_book: dict | None = None
    extensions: dict = field(default_factory=dict)
    nickname: str | None = None
    group_only_greetings: list[str] = field(default_factory=list)
    spec: str = "chara_card_v2"
    raw: dict = field(default_factory=dict, repr=False)


TEXT_FIELDS = ("description", "personality", "scenario", "first_mes", "mes_example", "creator_notes",
               "system_prompt", "post_history_instructions", "creator", "character_version")
MODELLED = ("name", *TEXT_FIELDS, "alternate_greetings", "tags", "character_book", "extensions", "nickname",
            "group_only_greetings")
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# What a V2 card must have (all required by the V2 spec), used to fill in V1 cards and new ones.
V2_REQUIRED = {**{k: "" for k in ("name", *TEXT_FIELDS)}, "alternate_greetings": [], "tags": [], "extensions": {}}
V3_ONLY = ("nickname", "creator_notes_multilingual", "source", "group_only_greetings", "creation_date",
           "modification_date", "assets")
# Added by V2 -> V3: the one required V3 field and the assets a V3 reader assumes anyway. Dates are left
# out (optional) so conversion stays a pure function; so is nickname, whose presence changes prompts.
V3_DEFAULTS = {"group_only_greetings": [], "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]}
STASH = "keepsake_v3"  # data.extensions key where a V2 card keeps what only V3 can say


def _check_book(book: Any, where: str) -> dict:
    _expect(book, dict, where)
    for i, entry in enumerate(_expect(book.get("entries", []), list, where + ".entries")):
        at = f"{where}.entries[{i}]"
        _expect(entry, dict, at)
        _strings(entry.get("keys", []), at + ".keys")
        _expect(entry.get("content"), str, at + ".content")
        if entry.get("secondary_keys") is not None:
            _strings(entry["secondary_keys"], at + ".secondary_keys")
        for flag in ("enabled", "constant", "selective", "case_sensitive"):
            if entry.get(flag) is not None:
                _expect(entry[flag], bool, f"{at}.{flag}")
    return book


def _check_v3(data: dict, where: str) -> dict:
    """The V3-only fields Card models, after checking the types of all of them."""
    out: dict[str, Any] = {}
    if data.get("nickname") is not None:
        out["nickname"] = _expect(data["nickname"], str, where + "nickname")
    if data.get("group_only_greetings") is not None:
        out["group_only_greetings"] = _strings(data["group_only_greetings"], where + "group_only_greetings")
    if data.get("source") is not None:
        _strings(data["source"], where + "source")
    for key, value in _expect(_or(data.get("creator_notes_multilingual"), {}), dict,
                              where + "creator_notes_multilingual").items():
        _expect(value, str, f"{where}creator_notes_multilingual.{key}")
    for key in ("creation_date", "modification_date"):
        if data.get(key) is not None:
            _expect(data[key], (int, float), where + key)
    for i, asset in enumerate(_expect(_or(data.get("assets"), []), list, where + "assets")):
        for key in ("type", "uri", "name", "ext"):
            _expect(_expect(asset, dict, f"{where}assets[{i}]").get(key), str, f"{where}assets[{i}].{key}")
    return out


def parse_card(obj: Any) -> Card:
    """A Card from V1, V2 or V3 card JSON; CardError naming the field when one is malformed.

    Optional fields that are missing (or null) get their defaults; fields Card does not model stay in ``raw``.
    A V2 card that came from V3 keeps its V3 fields in ``data.extensions.keepsake_v3``; they are read from there.
    """
    try:
        return _parse(obj)
    except RecursionError:  # copying JSON nested a few hundred levels deep
        raise CardError("the card is nested too deeply to be a character card") from None


def _parse(obj: Any) -> Card:
    spec, data = card_data(obj)
    prefix = "" if spec == "chara_card_v1" else "data."
    name = data.get("name", data.get("char_name") if spec == "chara_card_v1" else None)
    if not isinstance(name, str) or not name.strip():
        raise CardError(f"card field {prefix}name is missing or empty")
    values: dict[str, Any] = {"name": name}
    for key in TEXT_FIELDS:
        if data.get(key) is not None:
            values[key] = _expect(data[key], str, prefix + key)
    for key in ("alternate_greetings", "tags"):
        if data.get(key) is not None:
            values[key] = list(_strings(data[key], prefix + key))
    if data.get("character_book") is not None:
        values["character_book"] = copy.deepcopy(_check_book(data["character_book"], prefix + "character_book"))
    extensions = _expect(_or(data.get("extensions"), {}), dict, prefix + "extensions")
    values["extensions"] = copy.deepcopy(extensions)
    if spec == "chara_card_v3":
        v3 = _check_v3(data, prefix)
    else:
        v3 = _check_v3(_expect(extensions.get(STASH, {}), dict, f"{prefix}extensions.{STASH}"),
                       f"{prefix}extensions.{STASH}.")
    return Card(**values, **copy.deepcopy(v3), spec=spec, raw=copy.deepcopy(obj))


def _blank(spec: str) -> dict:
    """The JSON of an empty card in ``spec``: the base a Card built in code (with no ``raw``) is written over."""
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": copy.deepcopy(V2_REQUIRED)}
    card["data"]["name"] = "?"
    return _convert(card, "v3") if spec == "chara_card_v3" else card


def _convert(obj: dict, version: Version) -> dict:
    """A copy of the card JSON moved to ``version``: V1 fills in V2's required fields; V2 -> V3 adds
    V3_DEFAULTS and restores what a V3 -> V2 stashed; V3 -> V2 stashes the V3-only fields that differ from
    V3_DEFAULTS in ``data.extensions.keepsake_v3``. So V2 -> V3 -> V2 is exact, and V3 -> V2 -> V3 is exact
    for cards that had the default fields (a card lacking them gets them back).
    """
    spec, data = card_data(obj)
    obj = copy.deepcopy(obj)
    if spec == "chara_card_v1":
        # Unknown V1 keys stay at the top, where SillyTavern keeps legacy fields of V2 cards.
        data = {**copy.deepcopy(V2_REQUIRED), **{k: v for k, v in obj.items() if k in V2_REQUIRED or k == "character_book"}}
        data["name"] = data["name"] or obj.get("char_name", "")  # parse_card's fallback for old TavernAI cards
        obj = {**{k: v for k, v in obj.items() if k not in data}, "spec": "chara_card_v2", "spec_version": "2.0", "data": data}
        spec = "chara_card_v2"
    data = obj["data"]
    if version == "v3" and spec == "chara_card_v2":
        extensions = data.get("extensions")
        stash = extensions.pop(STASH, {}) if isinstance(extensions, dict) else {}
        for key, default in V3_DEFAULTS.items():
            data.setdefault(key, copy.deepcopy(default))
        data.update(stash)
        obj.update(spec="chara_card_v3", spec_version="3.0")
    elif version == "v2" and spec == "chara_card_v3":
        stash = {k: data.pop(k) for k in V3_ONLY if k in data}
        stash = {k: v for k, v in stash.items() if k not in V3_DEFAULTS or v != V3_DEFAULTS[k]}
        if stash:
            _extensions(data)[STASH] = stash
        obj.update(spec="chara_card_v2", spec_version="2.0")
    return obj


def card_to_json(card: Card, version: Version) -> dict:
    """The card as ``chara_card_v2`` or ``chara_card_v3`` JSON: ``raw`` with the edited fields written over it.

    A field counts as edited when it differs from what ``parse_card(card.raw)`` gives, so an unedited card
    comes back exactly as it was read (card_to_json(parse_card(x), x's version) == x). Edits reach legacy
    copies at the top level too (SillyTavern mirrors V1 fields there).
    """
    raw = card.raw or _blank(card.spec)
    before = parse_card(raw)
    obj = copy.deepcopy(raw)
    spec, data = card_data(obj)
    for key in MODELLED:
        value = copy.deepcopy(getattr(card, key))
        if value == getattr(before, key):
            continue
        target = data
        if key in V3_ONLY and spec != "chara_card_v3":
            target = _extensions(data).setdefault(STASH, {})
        elif spec != "chara_card_v1" and key in V1_FIELDS and key in obj:
            obj[key] = value
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return _convert(obj, version)


def persona_from_card(obj: Any) -> Persona:
    """A persona from a card's JSON; CardError naming the field when it is malformed."""
    card = parse_card(obj)
    values: dict[str, Any] = {ours: getattr(card, theirs) for ours, theirs in FIELDS.items()}
    values["name"] = card.name.strip()
    lore = []
    for i, entry in enumerate((card.character_book or {}).get("entries", [])):
        try:
            lore.append(LoreEntry.model_validate(entry))
        except ValidationError as exc:
            raise CardError(f"card field character_book.entries[{i}]: {exc.errors()[0]['msg']}") from None
    values["lorebook"] = lore
    mine = card.extensions.get("keepsake", {})
    values.update({k: mine[k] for k in KEEPSAKE_FIELDS if isinstance(mine, dict) and k in mine})
    try:
        return Persona(**values, card=card.raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CardError(f"card field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


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
        except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON; absurd nesting
            raise CardError("the card inside this PNG is not valid base64-encoded JSON") from None
        image = PNG_MAGIC + b"".join(_chunk(k, b) for k, b in chunks
                                     if not (k == b"tEXt" and b.partition(b"\x00")[0] in (b"chara", b"ccv3")))
        return obj, image
    try:
        return json.loads(raw.decode("utf-8-sig")), None
    except (ValueError, RecursionError):
        raise CardError("not a character card: expected a JSON file or a PNG with an embedded card") from None


def _read_file(path: Path) -> bytes:
    """The bytes of a card file, refusing what cannot be a card before reading all of it."""
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
    return raw


def read_card_file(path: Path) -> Card:
    """The card in a JSON or PNG file (told apart by their first bytes, not by the file name)."""
    return parse_card(read_card_bytes(_read_file(path))[0])


def read_card(path: Path) -> tuple[Persona, bytes | None]:
    """A persona and its avatar image (PNG bytes, or None) from a card file."""
    obj, image = read_card_bytes(_read_file(path))
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


def write_card_png(card: Card, path: Path, version: Version, image: bytes | None = None) -> None:
    """Write the card into a PNG: ``image`` (an avatar, PNG bytes) or a plain placeholder; V3 also carries V2."""
    write_atomic(Path(path), card_png(card_to_json(card, version), image))


def write_card_json(card: Card, path: Path, version: Version) -> None:
    """Write the card as a JSON file (UTF-8, unescaped, indented for people who diff cards)."""
    write_atomic(Path(path), json.dumps(card_to_json(card, version), ensure_ascii=False, indent=2).encode("utf-8"))
