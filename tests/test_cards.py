"""The neutral Card API: exact round trips through JSON and PNG, V2 <-> V3, edits, and malformed input."""

import base64
import copy
import io
import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import CardError, KeepsakeError
from app.core.files import WriteError
from personas.cards import Card, card_to_json, parse_card, read_card_file, write_card_json, write_card_png

V1 = {"name": "Old Sam", "description": "A sailor.", "personality": "gruff", "scenario": "a harbour pub",
      "first_mes": "Ahoy.", "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Ahoy there.",
      "avatar": "none", "talkativeness": "0.4"}  # the last two: unknown V1 fields

BOOK = {
    "name": "Greenhouse", "description": "What she knows.", "scan_depth": 4, "token_budget": 300,
    "recursive_scanning": False, "extensions": {"st": {"x": 1, "nested": [1, {"deep": "深"}]}},
    "entries": [
        {"keys": ["Welwitschia", "沙漠"], "content": "A desert plant with two leaves. 🌵", "extensions": {"position": 0},
         "enabled": True, "insertion_order": 10, "case_sensitive": False, "name": "plant", "priority": 5, "id": 1,
         "comment": "plant", "selective": True, "secondary_keys": ["desert"], "constant": False,
         "position": "before_char", "probability": 100},
        {"keys": [], "content": "She is 81.", "extensions": {}, "enabled": True, "insertion_order": 0, "constant": True},
    ],
}
V2 = {
    "spec": "chara_card_v2", "spec_version": "2.0",
    # SillyTavern mirrors the V1 fields at the top and adds its own; neither is in the spec.
    "name": "Professor Lin", "first_mes": "Come in!", "create_date": "2024-1-1 @10h", "chat": "Lin - 2024",
    "data": {
        "name": "Professor Lin", "description": "A retired botanist. 退休的植物学家。", "personality": "patient, curious",
        "scenario": "Her greenhouse on a rainy afternoon.", "first_mes": "Come in, {{user}}! Mind the ferns 🌿",
        "mes_example": "<START>\n{{user}}: What is this?\n{{char}}: A Welwitschia. It lives a thousand years.",
        "creator_notes": "Made for a class. 👩‍🏫", "system_prompt": "Speak like {{char}}.",
        "post_history_instructions": "Stay gentle.", "alternate_greetings": ["Ah, {{user}}.", "欢迎！", "🌧️"],
        "character_book": BOOK, "tags": ["science", "老师"], "creator": "me", "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "fav": True, "world": "Greenhouse",
                       "depth_prompt": {"prompt": "", "depth": 4, "role": "system"},
                       "regex_scripts": [{"find": "x", "replace": "y", "flags": ["g", "i"]}], "表情": "😊"},
        "unknown_future_field": {"kept": [1, 2, None]},
    },
}
V3 = {
    "spec": "chara_card_v3", "spec_version": "3.0",
    "data": {**copy.deepcopy(V2["data"]), "nickname": "Lin", "creator_notes_multilingual": {"zh": "为课堂制作", "en": "For a class"},
             "source": ["https://example.invalid/lin"], "group_only_greetings": ["Hello, all of you."],
             "creation_date": 1700000000, "modification_date": 1700000100,
             "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
                        {"type": "background", "uri": "embeded://assets/background/images/bg.png", "name": "bg", "ext": "png"}]},
}
CARDS = [pytest.param(V2, "v2", id="v2"), pytest.param(V3, "v3", id="v3")]


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """Every (type, body) of a PNG, read independently of the module under test."""
    out, pos = [], 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        out.append((kind, png[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def texts(png: bytes) -> dict[bytes, dict]:
    return {b.partition(b"\x00")[0]: json.loads(base64.b64decode(b.partition(b"\x00")[2]))
            for k, b in chunks(png) if k == b"tEXt" and b.startswith((b"chara\x00", b"ccv3\x00"))}


def png_with(*extra: bytes) -> bytes:
    """A 2x2 PNG with ``extra`` chunks before IEND."""
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" + b"\x10" * 6) * 1)
            + b"".join(extra) + chunk(b"IEND", b""))


def card_text(key: bytes, obj: object) -> bytes:
    return chunk(b"tEXt", key + b"\x00" + base64.b64encode(json.dumps(obj, ensure_ascii=False).encode()))


def avatar() -> bytes:
    """A real 16x8 gradient from Pillow, with a comment chunk and a stale card that must be replaced."""
    img = Image.new("RGBA", (16, 8))
    img.putdata([(x * 16, y * 32, 255 - x * 16, 200) for y in range(8) for x in range(16)])
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = buf.getvalue()
    return png[:-12] + chunk(b"tEXt", b"Comment\x00drawn by hand") + card_text(b"chara", {"name": "stale"}) + png[-12:]


# -- round trips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("card, version", CARDS)
def test_json_round_trip_is_exact(card: dict, version: str, tmp_path: Path) -> None:
    original = copy.deepcopy(card)
    assert card_to_json(parse_card(card), version) == card
    f = tmp_path / "card.json"
    write_card_json(parse_card(card), f, version)
    assert json.loads(f.read_text(encoding="utf-8")) == card
    assert "退休的植物学家" in f.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes
    assert card_to_json(read_card_file(f), version) == card
    assert card == original  # nothing mutated the input


@pytest.mark.parametrize("card, version", CARDS)
def test_png_round_trip_is_exact(card: dict, version: str, tmp_path: Path) -> None:
    f = tmp_path / "card.dat"  # no .png on purpose: files are told apart by their bytes
    write_card_png(parse_card(card), f, version)
    assert card_to_json(read_card_file(f), version) == card
    img = Image.open(f)
    assert img.size == (64, 64)
    img.load()
    assert list(tmp_path.iterdir()) == [f]  # no temp file left behind


def test_parse_reads_the_fields() -> None:
    c = parse_card(V3)
    assert (c.name, c.first_mes, c.nickname, c.spec) == ("Professor Lin", V3["data"]["first_mes"], "Lin", "chara_card_v3")
    assert c.alternate_greetings == ["Ah, {{user}}.", "欢迎！", "🌧️"] and c.group_only_greetings == ["Hello, all of you."]
    assert c.character_book == BOOK and c.extensions["depth_prompt"]["depth"] == 4 and c.raw == V3
    v2 = parse_card(V2)
    assert v2.nickname is None and v2.group_only_greetings == [] and v2.spec == "chara_card_v2"


def test_v1_cards_are_read_and_become_v2() -> None:
    c = parse_card({"name": "Bare"})
    assert (c.spec, c.description, c.tags, c.character_book, c.extensions) == ("chara_card_v1", "", [], None, {})
    out = card_to_json(parse_card(V1), "v2")
    assert out["spec"] == "chara_card_v2" and out["spec_version"] == "2.0"
    assert {k: out["data"][k] for k in ("name", "description", "scenario", "first_mes", "mes_example")} == \
        {k: V1[k] for k in ("name", "description", "scenario", "first_mes", "mes_example")}
    assert out["data"]["alternate_greetings"] == [] and out["data"]["extensions"] == {}
    assert (out["avatar"], out["talkativeness"]) == ("none", "0.4")  # unknown V1 fields kept beside data
    assert card_to_json(parse_card(out), "v2") == out
    assert card_to_json(parse_card(V1), "v3")["data"]["group_only_greetings"] == []


# -- V2 <-> V3 --------------------------------------------------------------------------------------

def test_v2_to_v3_to_v2_keeps_everything() -> None:
    as_v3 = card_to_json(parse_card(V2), "v3")
    assert as_v3["spec"] == "chara_card_v3" and as_v3["spec_version"] == "3.0"
    assert as_v3["data"]["group_only_greetings"] == [] and as_v3["data"]["assets"][0]["uri"] == "ccdefault:"
    assert as_v3["data"]["character_book"] == BOOK and as_v3["chat"] == "Lin - 2024"
    assert card_to_json(parse_card(as_v3), "v2") == V2


def test_v3_to_v2_stashes_v3_fields_and_back() -> None:
    as_v2 = card_to_json(parse_card(V3), "v2")
    assert as_v2["spec"] == "chara_card_v2" and as_v2["spec_version"] == "2.0"
    assert not {"nickname", "assets", "source", "creation_date"} & set(as_v2["data"])
    stash = as_v2["data"]["extensions"]["keepsake_v3"]
    assert stash["nickname"] == "Lin" and stash["assets"] == V3["data"]["assets"] and stash["creation_date"] == 1700000000
    assert parse_card(as_v2).nickname == "Lin" and parse_card(as_v2).group_only_greetings == ["Hello, all of you."]
    assert card_to_json(parse_card(as_v2), "v3") == V3


def test_v3_png_carries_v2_for_old_readers(tmp_path: Path) -> None:
    f = tmp_path / "lin.png"
    write_card_png(parse_card(V3), f, "v3")
    found = texts(f.read_bytes())
    assert found[b"ccv3"] == V3 and found[b"chara"] == card_to_json(parse_card(V3), "v2")
    write_card_png(parse_card(V3), f, "v2")
    assert set(texts(f.read_bytes())) == {b"chara"}


@pytest.mark.parametrize("order", ["chara first", "ccv3 first"])
def test_v3_wins_over_v2_in_a_png(order: str, tmp_path: Path) -> None:
    other = copy.deepcopy(V2)
    other["data"]["name"] = "Someone Else"
    parts = [card_text(b"chara", other), card_text(b"ccv3", V3)]
    f = tmp_path / "both.png"
    f.write_bytes(png_with(*(parts if order == "chara first" else parts[::-1])))
    card = read_card_file(f)
    assert card.name == "Professor Lin" and card.spec == "chara_card_v3" and card.raw == V3


# -- edits ------------------------------------------------------------------------------------------

def test_edits_are_written_back_and_the_rest_survives() -> None:
    edited = replace(parse_card(V2), name="Dr Lin", description="Changed.", tags=["x"], nickname="Linny",
                     character_book={**BOOK, "entries": BOOK["entries"][:1]})
    out = card_to_json(edited, "v2")
    assert (out["data"]["name"], out["name"], out["data"]["description"]) == ("Dr Lin", "Dr Lin", "Changed.")
    assert out["data"]["tags"] == ["x"] and out["data"]["character_book"]["entries"] == BOOK["entries"][:1]
    out["data"]["tags"].append("y")
    assert edited.tags == ["x"]  # the JSON does not share lists with the card
    assert out["data"]["extensions"]["keepsake_v3"] == {"nickname": "Linny"} and "nickname" not in out["data"]
    assert out["data"]["unknown_future_field"] == V2["data"]["unknown_future_field"] and out["chat"] == "Lin - 2024"
    assert card_to_json(edited, "v3")["data"]["nickname"] == "Linny"
    assert "character_book" not in card_to_json(replace(parse_card(V3), character_book=None), "v3")["data"]
    assert "nickname" not in card_to_json(replace(parse_card(V3), nickname=None), "v3")["data"]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_a_card_made_in_code_has_every_required_field(version: str) -> None:
    out = card_to_json(Card(name="New One", tags=["t"], nickname="N"), version)
    assert out["spec"] == f"chara_card_{version}" and out["data"]["name"] == "New One" and out["data"]["tags"] == ["t"]
    for key in ("description", "personality", "scenario", "first_mes", "mes_example", "creator_notes", "system_prompt",
                "post_history_instructions", "alternate_greetings", "creator", "character_version", "extensions"):
        assert key in out["data"]
    assert parse_card(out).nickname == "N"
    assert card_to_json(parse_card(out), version) == out


# -- malformed cards --------------------------------------------------------------------------------

def v2_with(**data: object) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "X", **data}}


def v3_with(**data: object) -> dict:
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "X", "group_only_greetings": [], **data}}


@pytest.mark.parametrize("obj, message", [
    ([1, 2], r"card field \(top level\) must be dict, got list"),
    ("a card", r"card field \(top level\) must be dict, got str"),
    ({"description": "no name"}, "card field name is missing or empty"),
    ({"spec": "chara_card_v2", "data": {"description": "no name"}}, "card field data.name is missing or empty"),
    (v2_with(name="   "), "card field data.name is missing or empty"),
    (v2_with(name=7), "card field data.name is missing or empty"),
    ({"spec": "chara_card_v2", "data": ["name"]}, "card field data must be dict, got list"),
    ({"spec": "chara_card_v2"}, r"card field data must be dict, got nothing \(missing or null\)"),
    ({"spec": "chara_card_v9", "data": {}}, "unknown card spec 'chara_card_v9'"),
    (v2_with(tags=5), "card field data.tags must be list of strings, got int"),
    (v2_with(tags=["a", 2]), r"card field data.tags\[1\] must be str, got int"),
    (v2_with(alternate_greetings="hi"), "card field data.alternate_greetings must be list of strings, got str"),
    (v2_with(first_mes=5), "card field data.first_mes must be str, got int"),
    (v2_with(extensions=[]), "card field data.extensions must be dict, got list"),
    (v2_with(character_book=[]), "card field data.character_book must be dict, got list"),
    (v2_with(character_book={"entries": {}}), "card field data.character_book.entries must be list, got dict"),
    (v2_with(character_book={"entries": [{"keys": "k", "content": ""}]}),
     r"data.character_book.entries\[0\].keys must be list of strings, got str"),
    (v2_with(character_book={"entries": [{"keys": []}]}),
     r"data.character_book.entries\[0\].content must be str, got nothing"),
    (v2_with(character_book={"entries": [{"keys": [], "content": "", "enabled": "yes"}]}),
     r"data.character_book.entries\[0\].enabled must be bool, got str"),
    (v2_with(extensions={"keepsake_v3": {"nickname": 3}}), "card field data.extensions.keepsake_v3.nickname must be str"),
    (v3_with(nickname=3), "card field data.nickname must be str, got int"),
    (v3_with(group_only_greetings="hi"), "card field data.group_only_greetings must be list of strings, got str"),
    (v3_with(creator_notes_multilingual={"zh": 1}), "card field data.creator_notes_multilingual.zh must be str, got int"),
    (v3_with(source="https://x"), "card field data.source must be list of strings, got str"),
    (v3_with(creation_date="2024-01-01"), "card field data.creation_date must be int or float, got str"),
    (v3_with(creation_date=True), "card field data.creation_date must be int or float, got bool"),
    (v3_with(assets=[{"type": "icon", "name": "main", "ext": "png"}]), r"card field data.assets\[0\].uri must be str"),
    (v3_with(assets=["icon"]), r"card field data.assets\[0\] must be dict, got str"),
])
def test_malformed_cards_name_the_field(obj: object, message: str) -> None:
    with pytest.raises(CardError, match=message):
        parse_card(obj)


def test_nulls_mean_defaults() -> None:
    c = parse_card(v2_with(description=None, tags=None, character_book=None, extensions=None))
    assert (c.description, c.tags, c.character_book, c.extensions) == ("", [], None, {})
    assert card_to_json(c, "v2") == v2_with(description=None, tags=None, character_book=None, extensions=None)


def _valid_png() -> bytes:
    return png_with(card_text(b"chara", V2))


@pytest.mark.parametrize("raw, message", [
    (b"", "is empty"),
    (b"\x00\x01\x02garbage\xff", "not a character card"),
    (bytes(range(256)) * 4, "not a character card"),
    (b"[1, 2, 3]", r"\(top level\) must be dict, got list"),
    (b"null", r"\(top level\) must be dict, got nothing"),
    (b'{"name": ', "not a character card"),
    (b"[" * 100_000 + b"]" * 100_000, "not a character card"),
    (b'{"name": "x", "extensions": ' + b'{"a": ' * 800 + b"1" + b"}" * 801, "nested too deeply"),
    (json.dumps(v2_with(tags="a,b")).encode(), "data.tags must be list of strings, got str"),
    (png_with(), r"PNG has no character card \(no chara or ccv3 text chunk\)"),
    (png_with(chunk(b"tEXt", b"Comment\x00hello")), "no character card"),
    (png_with(chunk(b"tEXt", b"chara\x00!!!not base64!!!")), "not valid base64-encoded JSON"),
    (png_with(chunk(b"tEXt", b"chara\x00" + base64.b64encode(b"not json"))), "not valid base64-encoded JSON"),
    (png_with(chunk(b"tEXt", b"chara\x00" + base64.b64encode(b"\xff\xfe"))), "not valid base64-encoded JSON"),
    (png_with(card_text(b"ccv3", [1])), r"\(top level\) must be dict, got list"),
    (png_with(card_text(b"chara", {"spec": "chara_card_v2", "data": {}})), "data.name is missing"),
    (b"\x89PNG\r\n\x1a\n", "truncated"),
    (_valid_png()[:40], "truncated"),
    (_valid_png()[:-12], "truncated"),
    (_valid_png()[:30] + b"X" + _valid_png()[31:], "damaged"),
    (_valid_png()[:-1] + b"\x00", "damaged"),
])
def test_malformed_files(raw: bytes, message: str, tmp_path: Path) -> None:
    f = tmp_path / "card.png"
    f.write_bytes(raw)
    with pytest.raises(CardError, match=message):
        read_card_file(f)


def test_every_damaged_byte_of_a_png_card_is_a_card_error(tmp_path: Path) -> None:
    png = _valid_png()
    f = tmp_path / "card.png"
    for i in range(0, len(png), 3):
        for broken in (png[:i], png[:i] + bytes([png[i] ^ 0x41]) + png[i + 1:]):
            f.write_bytes(broken)
            with pytest.raises(CardError):
                read_card_file(f)


def test_missing_huge_and_directory_files(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="card file not found"):
        read_card_file(tmp_path / "nope.json")
    with pytest.raises(CardError, match="cannot read"):
        read_card_file(tmp_path)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: costs no disk
    with pytest.raises(CardError, match="cards are limited to 50 MB"):
        read_card_file(huge)
    assert issubclass(CardError, KeepsakeError)


# -- avatars and writing ----------------------------------------------------------------------------

@pytest.mark.parametrize("version, keys", [("v2", {b"chara"}), ("v3", {b"chara", b"ccv3"})])
def test_avatar_pixels_and_chunks_survive(version: str, keys: set, tmp_path: Path) -> None:
    image = avatar()
    f = tmp_path / "lin.png"
    write_card_png(parse_card(V3), f, version, image)
    out = f.read_bytes()
    keep = lambda png: [c for c in chunks(png) if not (c[0] == b"tEXt" and c[1].startswith((b"chara\x00", b"ccv3\x00")))]  # noqa: E731
    assert keep(out) == keep(image)  # IHDR, IDAT, the comment and IEND, byte for byte and in order
    assert [k for k, _ in chunks(out)][-1] == b"IEND"
    assert set(texts(out)) == keys and texts(out)[b"chara"]["data"]["name"] == "Professor Lin"
    assert sum(1 for k, b in chunks(out) if k == b"tEXt" and b.startswith(b"chara\x00")) == 1
    assert Image.open(f).convert("RGBA").tobytes() == Image.open(io.BytesIO(image)).convert("RGBA").tobytes()
    assert card_to_json(read_card_file(f), version) == card_to_json(parse_card(V3), version)


def test_writing_refuses_a_bad_avatar_and_a_missing_folder(tmp_path: Path) -> None:
    f = tmp_path / "out.png"
    f.write_bytes(b"old")
    with pytest.raises(CardError, match="not a PNG"):
        write_card_png(parse_card(V2), f, "v2", b"GIF89a...")
    assert f.read_bytes() == b"old"  # the old file is untouched
    with pytest.raises(WriteError, match="cannot write"):
        write_card_json(parse_card(V2), tmp_path / "no" / "such" / "dir.json", "v2")
    write_card_json(parse_card(V2), f, "v2")
    assert json.loads(f.read_bytes()) == V2 and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("card", [v2_with(extensions=None), v3_with(extensions=None, nickname="N", source=["s"])])
def test_null_extensions_take_a_stash(card: dict) -> None:
    edited = replace(parse_card(card), nickname="Nick")
    for version in ("v2", "v3"):
        assert parse_card(card_to_json(edited, version)).nickname == "Nick"
    as_v2 = card_to_json(parse_card(card), "v2")
    assert card_to_json(parse_card(as_v2), "v2") == as_v2


def test_old_tavern_char_name_survives_conversion() -> None:
    old = {"char_name": "Aria", "char_persona": "kind"}
    assert parse_card(old).name == "Aria" and card_to_json(parse_card(old), "v2")["data"]["name"] == "Aria"
