"""Fuzzing what users and clients hand us: seed files, character cards (JSON and PNG), settings files and
API request bodies. Whatever arrives, the answer is a result or a KeepsakeError with a message (an
OpenAI-style 4xx for the API), never an unhandled exception, and nothing is written outside the data
directory.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import KeepsakeError

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
CARD_KEYS = ["spec", "spec_version", "data", "name", "description", "first_mes", "character_book", "entries",
             "extensions", "alternate_greetings", "tags", "personality", "scenario", "mes_example", "keys", "content"]
card_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from(["chara_card_v2", "chara_card_v3", "2.0", "3.0"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(CARD_KEYS), children, max_size=8),
    max_leaves=30,
)


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def outside_untouched(tmp_path: Path, keepsake_home: Path):  # noqa: ANN201
    """Fails the test if anything appears in the repository or next to (not inside) the data directory."""
    before_repo, before_tmp = _tree(ROOT / "tests"), {p.name for p in tmp_path.iterdir()}
    yield
    assert _tree(ROOT / "tests") == before_repo
    assert {p.name for p in tmp_path.iterdir()} - before_tmp <= {keepsake_home.name, "fuzz"}


# The first bytes of each export format, so fuzzed files reach every reader, not only plain text.
EXPORT_HEADS = ["From a@example.org Mon Mar  1 10:00:00 2021\nFrom: A <a@example.org>\nSubject: x\n\n",
                "From: A <a@example.org>\nTo: b@example.org\nSubject: x\n\n", "12/03/2021, 09:15 - A: ",
                "[3/12/21, 9:15:40\u202fAM] A: ", '{"name": "A", "type": "personal_chat", "messages": [',
                '{"participants": [{"name": "A"}], "messages": [{"sender_name": "A", "content": ', "My dear Tom,\n",
                "亲爱的小明：\n", "12.\n\nTO MR. HALE.\n\n"]


@FUZZ
@given(data=st.binary(max_size=3000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8"))
       | st.tuples(st.sampled_from(EXPORT_HEADS), st.text(max_size=800)).map(lambda t: "".join(t).encode("utf-8")),
       encoding=st.sampled_from(["utf-8", "utf-16", "gbk", "latin-1"]), suffix=st.sampled_from([".txt", ".json", ".csv", ".md", ".mbox", ".eml"]))
def test_seed_files(tmp_path: Path, outside_untouched, data: bytes, encoding: str, suffix: str) -> None:  # noqa: ANN001
    from personas.builder import build
    from personas.seed import read_seed

    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / f"seed{suffix}"
    try:
        text = data.decode("utf-8")
        data = text.encode(encoding, errors="replace")
    except UnicodeDecodeError:
        pass  # raw bytes stay raw
    path.write_bytes(data)
    try:
        built = build([read_seed(path)])
    except KeepsakeError as exc:
        assert str(exc)
    else:
        assert built.persona.name and built.persona.system_prompt


def _png_with_text(keyword: bytes, payload: bytes) -> bytes:
    from personas.cards import placeholder_png

    png = placeholder_png(8)
    body = keyword + b"\x00" + payload
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body + zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    return png[:-12] + chunk + png[-12:]  # before IEND


@FUZZ
@given(card=card_like | json_values, as_png=st.booleans(), keyword=st.sampled_from([b"chara", b"ccv3", b"other"]))
def test_character_cards(tmp_path: Path, outside_untouched, card, as_png: bool, keyword: bytes) -> None:  # noqa: ANN001
    from personas.cards import read_card

    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    raw = json.dumps(card).encode()
    path = folder / ("card.png" if as_png else "card.json")
    path.write_bytes(_png_with_text(keyword, base64.b64encode(raw)) if as_png else raw)
    try:
        persona, _ = read_card(path)
    except KeepsakeError as exc:
        assert str(exc)
    else:
        assert persona.name.strip()


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.integers(0, 10_000))
def test_damaged_card_pngs(tmp_path: Path, outside_untouched, flips: list, cut: int) -> None:  # noqa: ANN001
    from personas.cards import card_from_persona, card_png, read_card
    from personas.persona import Persona

    good = bytearray(card_png(card_from_persona(Persona(name="Ada", description="A mathematician"))))
    for at, value in flips:
        good[at % len(good)] = value
    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / "card.png"
    path.write_bytes(bytes(good[: max(cut, 8)]))
    try:
        read_card(path)
    except KeepsakeError as exc:
        assert str(exc)


toml_values = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                        st.booleans().map(lambda b: str(b).lower()), st.text(max_size=20).map(json.dumps),
                        st.lists(st.text(max_size=5), max_size=3).map(json.dumps))
settings_keys = st.sampled_from(["temperature", "top_p", "n_ctx", "model", "backend", "memory", "safety_mode", "port",
                                 "host", "database_url", "models", "typo_key", "seed", "max_tokens", "home"])


@FUZZ
@given(lines=st.lists(st.tuples(settings_keys, toml_values), max_size=6) | st.text(max_size=200).map(lambda t: [("", t)]))
def test_settings_files(tmp_path: Path, outside_untouched, monkeypatch, lines: list) -> None:  # noqa: ANN001
    from app.core.settings import load_settings

    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / "config.toml"
    path.write_text("\n".join(f"{k} = {v}" if k else v for k, v in lines), encoding="utf-8")
    monkeypatch.setenv("KEEPSAKE_CONFIG", str(path))
    try:
        load_settings()
    except KeepsakeError as exc:
        assert str(exc)


@pytest.fixture(scope="module")
def api_client(tmp_path_factory):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from app.api import create_api
    from app.core.backends import EchoBackend
    from app.core.settings import load_settings
    from app.service import ChatService
    from memory.store import Store

    home = tmp_path_factory.mktemp("api-fuzz")
    settings = load_settings(home=home, memory=False, safety=False)
    service = ChatService(settings, backend=EchoBackend(), store=Store(settings.db_url))
    with TestClient(create_api(service), raise_server_exceptions=False) as client:
        yield client, home


chat_bodies = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from(["echo", "persona:nobody", ""]) | st.text(max_size=10),
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool", "x"])},
                                               optional={"content": st.text(max_size=50) | json_values}), max_size=4)
    | json_values,
    "max_tokens": st.integers(-5, 100_000) | json_values,
    "temperature": st.floats(allow_nan=False, allow_infinity=False) | json_values,
    "top_p": st.floats(allow_nan=False, allow_infinity=False),
    "stream": st.booleans() | json_values,
    "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=5) | json_values,
    "seed": st.integers(-10, 2**70) | json_values,
    "conversation_id": st.integers(-5, 10**12) | json_values,
})


@FUZZ
@given(body=chat_bodies | json_values, path=st.sampled_from(["/chat/completions", "/embeddings", "/moderations"]))
def test_api_request_bodies(api_client, body, path: str) -> None:  # noqa: ANN001
    client, home = api_client
    before = set(os.listdir(home.parent))
    response = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"] and error["type"]
    assert set(os.listdir(home.parent)) == before


@FUZZ
@given(raw=st.binary(max_size=500))
def test_api_raw_bytes(api_client, raw: bytes) -> None:  # noqa: ANN001
    client, _ = api_client
    response = client.post("/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500 and "error" in response.json()


EXPORTS = {"whatsapp_android.txt": "Grandpa", "whatsapp_ios.txt": "Nan", "telegram_result.json": "Grandpa",
           "messenger_message_1.json": "Zoë Brontë", "grandpa.mbox": "Grandpa Joe", "letter_from_mum.eml": None,
           "grandpa_tom.txt": None, "waigong_xiaoming_gbk.txt": None}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(sorted(EXPORTS)), cut=st.floats(0, 1), span=st.integers(0, 400),
       junk=st.binary(max_size=40), how=st.sampled_from(["truncate", "delete", "insert"]))
def test_damaged_exports_give_one_line_errors_and_store_nothing(tmp_path: Path, outside_untouched, file: str, cut: float,
                                                                 span: int, junk: bytes, how: str) -> None:  # noqa: ANN001
    """A damaged export, letter file or mailbox: created whole, or one clear line and no persona at all."""
    from click.testing import CliRunner

    from app.personas_cli import main as personas_cli

    data = (ROOT / "tests" / "data" / file).read_bytes()
    at = int(len(data) * cut)
    damaged = {"truncate": data[:at], "delete": data[:at] + data[at + span:], "insert": data[:at] + junk + data[at:]}[how]
    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    path = folder / file
    path.write_bytes(damaged)
    args = ["create", "--seed", str(path), "--embedder", "fake", "--name", "Fuzzed"]
    if EXPORTS[file]:
        args += ["--speaker", EXPORTS[file]]
    result = CliRunner().invoke(personas_cli, args)
    assert result.exit_code in (0, 2), result.output
    listed = CliRunner().invoke(personas_cli, ["list", "--json", "--embedder", "fake"])
    stored = json.loads(listed.stdout) if listed.exit_code == 0 else []
    if result.exit_code == 2:
        message = result.stderr.strip()
        assert message.startswith("error: ") and "\n" not in message and "Traceback" not in result.output
        assert stored == []
    else:
        assert [p["name"] for p in stored] == ["Fuzzed"]
    CliRunner().invoke(personas_cli, ["delete", "Fuzzed", "--yes", "--embedder", "fake"])
