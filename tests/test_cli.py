"""The command line, through click's runner and as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.model
def test_ask_prints_a_real_reply_and_json_parses() -> None:
    result = invoke("ask", "Hello", "--seed", "1", "--max-tokens", "30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["reply"].strip() and data["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert data["usage"]["completion_tokens"] > 0 and data["usage"]["prompt_tokens"] > 10
    assert data["timings"]["ttft_s"] <= data["timings"]["total_s"]
    again = invoke("ask", "And then?", "--conversation", str(data["conversation_id"]), "--json", "--max-tokens", "10")
    assert json.loads(again.stdout)["conversation_id"] == data["conversation_id"]


@pytest.mark.model
def test_ask_streams_plain_text_in_a_real_process(keepsake_home: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "app", "ask", "Say hello.", "--seed", "3", "--max-tokens", "20"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "[conversation 1]" in proc.stderr
    assert (keepsake_home / "keepsake.db").exists()  # written under KEEPSAKE_HOME


def test_missing_model_is_one_line_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "app", "ask", "hi", "--model", str(tmp_path / "gone.gguf")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: model file not found: {tmp_path / 'gone.gguf'} (set --model PATH or KEEPSAKE_MODEL to a .gguf file)"
    assert "Traceback" not in proc.stderr


def test_model_from_environment_variable(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    monkeypatch.setenv("KEEPSAKE_MODEL", str(bad))
    result = CliRunner().invoke(main, ["ask", "hi"])
    assert result.exit_code == 1 and "is not a GGUF model file" in result.stderr


def test_empty_message_is_rejected() -> None:
    result = CliRunner().invoke(main, ["ask", "   "])
    assert result.exit_code == 2 and "the message is empty" in result.stderr


def test_echo_backend_runs_without_weights() -> None:
    result = invoke("ask", "repeat after me", "--model", "echo")
    assert result.exit_code == 0 and result.stdout.startswith("echo: repeat after me")


def test_bad_setting_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["ask", "hi", "--temperature", "99"])
    assert result.exit_code == 2 and "temperature" in result.stderr and "Traceback" not in result.output


def test_unknown_conversation() -> None:
    result = CliRunner().invoke(main, ["ask", "hi", "--model", "echo", "--conversation", "42"])
    assert result.exit_code == 1 and "no conversation 42" in result.stderr


def test_interactive_chat_session() -> None:
    result = CliRunner().invoke(main, ["chat", "--model", "echo"], input="first\nsecond\n/new\nthird\n/quit\n")
    assert result.exit_code == 0
    assert result.stdout.count("bot> echo:") == 3
    listing = invoke("ask", "x", "--model", "echo", "--conversation", "2", "--json")
    assert json.loads(listing.stdout)["conversation_id"] == 2


@pytest.mark.model
def test_interactive_chat_with_the_real_model() -> None:
    result = CliRunner().invoke(main, ["chat", "--max-tokens", "20", "--seed", "1"], input="Hello there\n")
    assert result.exit_code == 0
    reply = result.stdout.split("bot> ", 1)[1].strip()
    assert reply and not reply.startswith("echo")


def test_conversations_commands(tmp_path: Path) -> None:
    for text in ("first chat", "second chat"):
        assert invoke("ask", text, "--model", "echo").exit_code == 0
    listing = invoke("conversations", "list", "--json")
    assert [c["title"] for c in json.loads(listing.stdout)] == ["second chat", "first chat"]
    shown = invoke("conversations", "show", "1")
    assert "user: first chat" in shown.stdout and "assistant: echo: first chat" in shown.stdout
    out = tmp_path / "chat.md"
    assert invoke("conversations", "export", "1", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("# first chat")
    data = json.loads(invoke("conversations", "export", "1", "--format", "json").stdout)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert invoke("conversations", "rename", "1", "Renamed").exit_code == 0
    assert invoke("conversations", "delete", "2", "--yes").exit_code == 0
    assert [c["title"] for c in json.loads(invoke("conversations", "list", "--json").stdout)] == ["Renamed"]
    other = CliRunner().invoke(main, ["conversations", "show", "1", "--user", "mallory"])
    assert other.exit_code == 1 and "no conversation 1" in other.stderr


def test_export_to_an_unwritable_place_is_a_clean_error(tmp_path: Path) -> None:
    invoke("ask", "hello", "--model", "echo")
    result = CliRunner().invoke(main, ["conversations", "export", "1", "-o", str(tmp_path / "no" / "such" / "dir" / "x.md")])
    assert result.exit_code == 1 and "cannot write" in result.stderr


def test_memories_commands() -> None:
    invoke("ask", "My cat is called Tom.", "--model", "echo")  # stored as a turn memory
    assert invoke("memories", "add", "The user's favourite colour is green.", "--embedder", "fake").exit_code == 0
    rows = json.loads(invoke("memories", "list", "--json", "--embedder", "fake").stdout)
    assert [r["kind"] for r in rows] == ["note", "turn"]
    found = invoke("memories", "search", "favourite colour green", "--embedder", "fake", "--min-score", "0.5")
    assert "green" in found.stdout
    note = rows[0]["id"]
    assert invoke("memories", "edit", str(note), "The user's favourite colour is blue.", "--embedder", "fake").exit_code == 0
    assert "blue" in invoke("memories", "list", "--contains", "colour", "--embedder", "fake").stdout
    other = CliRunner().invoke(main, ["memories", "delete", str(note), "--user", "mallory", "--embedder", "fake"])
    assert other.exit_code == 1 and f"no memory {note}" in other.stderr
    assert invoke("memories", "delete", str(note), "--embedder", "fake").exit_code == 0
    assert "colour" not in invoke("memories", "list", "--embedder", "fake").stdout
