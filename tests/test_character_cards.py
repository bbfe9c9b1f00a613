"""Character Card V1/V2/V3: lossless round trips through JSON and PNG, and malformed cards."""

import base64
import copy
import json
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.core.errors import CardError
from app.personas_cli import main as personas_cli
from personas.cards import card_from_persona, card_png, persona_from_card, placeholder_png, read_card, read_card_bytes
from personas.persona import LoreEntry

V1 = {"name": "Old Sam", "description": "A sailor.", "personality": "gruff", "scenario": "a harbour pub",
      "first_mes": "Ahoy.", "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Ahoy there."}
V2 = {
    "spec": "chara_card_v2", "spec_version": "2.0",
    "data": {
        "name": "Professor Lin", "description": "A retired botanist. 退休的植物学家。", "personality": "patient, curious",
        "scenario": "Her greenhouse on a rainy afternoon.", "first_mes": "Come in, {{user}}! Mind the ferns 🌿",
        "mes_example": "<START>\n{{user}}: What is this?\n{{char}}: A Welwitschia. It lives a thousand years.",
        "creator_notes": "Made for a class.", "system_prompt": "Speak like {{char}}.",
        "post_history_instructions": "Stay gentle.", "alternate_greetings": ["Ah, {{user}}.", "欢迎！"],
        "character_book": {"name": "Greenhouse", "scan_depth": 4, "token_budget": 300, "recursive_scanning": False,
                           "extensions": {"st": {"x": 1}},
                           "entries": [{"keys": ["Welwitschia"], "content": "A desert plant with two leaves.",
                                        "extensions": {"position": 0}, "enabled": True, "insertion_order": 10,
                                        "case_sensitive": False, "id": 1, "comment": "plant", "selective": True,
                                        "secondary_keys": ["desert"], "constant": False, "priority": 5},
                                       {"keys": [], "content": "She is 81.", "extensions": {}, "enabled": True,
                                        "insertion_order": 0, "constant": True}]},
        "tags": ["science", "老师"], "creator": "me", "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "fav": True, "world": "Greenhouse", "depth_prompt": {"prompt": "", "depth": 4}},
    },
}
V3 = {
    "spec": "chara_card_v3", "spec_version": "3.0",
    "data": {**copy.deepcopy(V2["data"]), "nickname": "Lin", "creator_notes_multilingual": {"zh": "为课堂制作"},
             "source": ["https://example.invalid/lin"], "group_only_greetings": ["Hello all."],
             "creation_date": 1700000000, "modification_date": 1700000100,
             "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
                        {"type": "background", "uri": "embeded://bg.png", "name": "bg", "ext": "png"}]},
}


@pytest.mark.parametrize("card, version", [(V2, "v2"), (V3, "v3")])
def test_json_round_trip_is_lossless(card: dict, version: str) -> None:
    persona = persona_from_card(card)
    assert persona.name == "Professor Lin" and persona.greeting.startswith("Come in")
    assert [e.keys for e in persona.lorebook] == [["Welwitschia"], []] and persona.lorebook[1].constant
    assert card_from_persona(persona, version) == card
    # and through the database's JSON form
    stored = type(persona).model_validate(json.loads(persona.model_dump_json()))
    assert card_from_persona(stored, version) == card


@pytest.mark.parametrize("card, version", [(V2, "v2"), (V3, "v3")])
def test_png_round_trip_is_lossless(card: dict, version: str, tmp_path: Path) -> None:
    f = tmp_path / "card.png"
    f.write_bytes(card_png(card))
    persona, image = read_card(f)
    assert card_from_persona(persona, version) == card
    assert image and image.startswith(b"\x89PNG")


def test_v3_png_carries_v2_for_old_readers_and_v3_wins() -> None:
    png = card_png(V3)
    texts = {}
    pos = 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            texts[key] = json.loads(base64.b64decode(value))
        pos += 12 + length
    assert texts[b"ccv3"] == V3 and texts[b"chara"]["spec"] == "chara_card_v2"
    assert read_card_bytes(png)[0] == V3


def test_v2_to_v3_and_back_keeps_everything() -> None:
    as_v3 = card_from_persona(persona_from_card(V2), "v3")
    assert as_v3["spec"] == "chara_card_v3" and as_v3["data"]["character_book"] == V2["data"]["character_book"]
    back = card_from_persona(persona_from_card(as_v3), "v2")
    assert back == V2
    v3_to_v2 = card_from_persona(persona_from_card(V3), "v2")
    assert v3_to_v2["data"]["extensions"]["keepsake_v3"]["nickname"] == "Lin"
    assert card_from_persona(persona_from_card(v3_to_v2), "v3") == V3


def test_v1_cards_import() -> None:
    p = persona_from_card(V1)
    assert (p.name, p.scenario, p.greeting) == ("Old Sam", "a harbour pub", "Ahoy.")
    out = card_from_persona(p, "v2")
    assert out["spec"] == "chara_card_v2" and out["data"]["mes_example"] == V1["mes_example"]


def test_edits_are_written_back_and_extras_survive() -> None:
    p = persona_from_card(V2)
    p.description = "Changed."
    p.lorebook = [*p.lorebook, LoreEntry(keys=["rain"], content="It always rains here.")]
    p.real_person = True
    out = card_from_persona(p, "v2")
    assert out["data"]["description"] == "Changed."
    assert out["data"]["character_book"]["entries"][0] == V2["data"]["character_book"]["entries"][0]
    assert out["data"]["character_book"]["entries"][2] == {"keys": ["rain"], "content": "It always rains here."}
    assert out["data"]["extensions"]["keepsake"] == {"real_person": True}
    assert out["data"]["extensions"]["depth_prompt"] == {"prompt": "", "depth": 4}


def test_avatar_pixels_survive(tmp_path: Path) -> None:
    avatar = placeholder_png(8, (200, 10, 10))
    png = card_png(V2, avatar)
    _, image = read_card_bytes(png)
    assert image == avatar


def _png_with_text(key: bytes, value: bytes) -> bytes:
    base = placeholder_png(4)
    body = key + b"\x00" + value
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return base[:-12] + chunk + base[-12:]


@pytest.mark.parametrize("raw, message", [
    (b"", "is empty"),
    (b"\x00\x01garbage", "not a character card"),
    (b"[1, 2, 3]", "must be dict, got list"),
    (json.dumps({"spec": "chara_card_v2", "data": {"description": "no name"}}).encode(), "data.name is missing"),
    (json.dumps({"spec": "chara_card_v2", "data": {"name": "X", "tags": "a,b"}}).encode(), "data.tags must be list"),
    (json.dumps({"spec": "chara_card_v2", "data": {"name": "X", "first_mes": 5}}).encode(), "data.first_mes must be str"),
    (json.dumps({"spec": "chara_card_v2", "data": {"name": "X", "character_book": {"entries": [{"keys": "k"}]}}}).encode(),
     r"character_book.entries\[0\].keys must be list"),
    (json.dumps({"spec": "chara_card_v9", "data": {}}).encode(), "unknown card spec"),
    (placeholder_png(), "no character card"),
    (placeholder_png()[:40], "truncated"),
    (_png_with_text(b"chara", b"!!!not base64!!!"), "not valid base64-encoded JSON"),
    (placeholder_png()[:30] + b"X" + placeholder_png()[31:], "damaged"),
])
def test_malformed_cards(tmp_path: Path, raw: bytes, message: str) -> None:
    f = tmp_path / "card.bin"
    f.write_bytes(raw)
    with pytest.raises(CardError, match=message):
        read_card(f)


def test_cli_import_export(tmp_path: Path, keepsake_home: Path) -> None:
    card = tmp_path / "lin.png"
    card.write_bytes(card_png(V3, placeholder_png(8, (1, 2, 3))))
    run = lambda *a: CliRunner().invoke(personas_cli, [*a, "--embedder", "fake"])  # noqa: E731
    out = run("import", str(card))
    assert out.exit_code == 0 and "Imported persona 'Professor Lin'" in out.stdout and "with its avatar" in out.stdout
    assert (keepsake_home / "personas" / "1" / "avatar.png").exists()
    assert run("export", "Professor Lin", "--format", "card-json", "-o", str(tmp_path / "out.json")).exit_code == 0
    assert json.loads((tmp_path / "out.json").read_text()) == V3
    assert run("export", "Professor Lin", "-o", str(tmp_path / "out.png")).exit_code == 0
    assert read_card(tmp_path / "out.png")[1] == placeholder_png(8, (1, 2, 3))
    dup = run("import", str(card))
    assert dup.exit_code == 2 and "already have a persona named 'Professor Lin'" in dup.stderr
    bad = tmp_path / "bad.png"
    bad.write_bytes(placeholder_png())
    res = run("import", str(bad))
    assert res.exit_code == 2 and "no character card" in res.stderr and "Traceback" not in res.output
