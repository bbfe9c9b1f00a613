"""Downloads through the Hub's own client against a local Hub stand-in (tests/hub_server.py).

The file served is the embedded SmolLM2-135M GGUF, published under a catalogue entry's repository and
file name, so what is downloaded is a real model that the last test chats with.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.core import catalogue
from app.core.download import DownloadError, pull, reporting
from app.core.models import downloaded, models_dir

from hub_server import FakeHub, hub  # noqa: F401  (the fixture)

ENTRY = catalogue.find("smollm2-1.7b")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(home: Path) -> list[Path]:
    return [p for p in models_dir(home).rglob("*") if p.is_file()]


def test_pull_by_catalogue_name_via_the_cli(hub: FakeHub, keepsake_home: Path, model_path: Path) -> None:
    result = CliRunner().invoke(main, ["models", "pull", ENTRY.name])
    assert result.exit_code == 0, result.output
    path = models_dir(keepsake_home) / ENTRY.file
    assert result.stdout.strip() == str(path)
    assert _sha(path) == _sha(model_path)
    assert downloaded(keepsake_home) == [path] and _leftovers(keepsake_home) == [path]
    # The client asked the Hub for metadata, then fetched the bytes from the "CDN" it was sent to.
    assert [r[0] for r in hub.file_requests] == ["HEAD", "GET"] and hub.file_requests[1][1].startswith("/cdn/")
    assert CliRunner().invoke(main, ["models", "pull", ENTRY.name]).exit_code == 0
    assert len(hub.file_requests) == 2  # already there: nothing fetched again
    listing = CliRunner().invoke(main, ["models", "list"]).stdout
    assert next(line for line in listing.splitlines() if line.startswith(ENTRY.name + " ")).count("⬇") == 1
    assert CliRunner().invoke(main, ["models", "rm", ENTRY.name]).exit_code == 0
    assert not path.exists()


def test_pull_by_repo_and_file_reports_progress(hub: FakeHub, keepsake_home: Path, model_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    path = pull(f"{ENTRY.repo}/{ENTRY.file}", keepsake_home, progress=reporting(lambda done, total: seen.append((done, total))))
    size = model_path.stat().st_size
    assert path.stat().st_size == size
    assert seen[-1] == (size, size) and len(seen) > 2 and all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_a_cut_connection_is_resumed_with_a_range_request(hub: FakeHub, keepsake_home: Path, model_path: Path) -> None:
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE as CHUNK

    hub.cut_after = 2 * CHUNK + 5_000_000  # the client writes whole chunks: the part-chunk is fetched again
    path = pull(ENTRY.name, keepsake_home)
    assert _sha(path) == _sha(model_path)
    ranges = [r[2] for r in hub.file_requests if r[0] == "GET"]
    assert ranges == [None, f"bytes={2 * CHUNK}-"]


def test_a_stopped_download_resumes_in_the_next_run(hub: FakeHub, keepsake_home: Path, model_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx2
    from huggingface_hub import file_download

    real = file_download.http_get

    def dies_after_some_bytes(url, temp_file, **kwargs):  # noqa: ANN001, ANN003, ANN202
        class Stop(Exception):
            pass

        class Writer:
            written = 0

            def write(self, chunk: bytes) -> None:
                if self.written > 3_000_000:
                    raise httpx2.ReadError("the network went away")
                temp_file.write(chunk)
                self.written += len(chunk)

            def __getattr__(self, name: str):  # noqa: ANN204
                return getattr(temp_file, name)

        return real(url, Writer(), **{**kwargs, "_nb_retries": 0})

    monkeypatch.setattr(file_download, "http_get", dies_after_some_bytes)
    with pytest.raises(DownloadError, match="cannot reach the Hub at 127.0.0.1:.*run the same command again: it resumes"):
        pull(ENTRY.name, keepsake_home)
    assert downloaded(keepsake_home) == []  # nothing half-written where models are picked from
    kept = next((models_dir(keepsake_home) / ".partial").iterdir()).stat().st_size
    assert kept > 3_000_000
    monkeypatch.setattr(file_download, "http_get", real)
    path = pull(ENTRY.name, keepsake_home)
    assert _sha(path) == _sha(model_path)
    assert [r[2] for r in hub.file_requests if r[0] == "GET"][-1] == f"bytes={kept}-"


def test_checksum_mismatch_keeps_nothing(hub: FakeHub, keepsake_home: Path) -> None:
    hub.corrupt = True
    with pytest.raises(DownloadError, match="does not match the Hub's sha256.*deleted"):
        pull(ENTRY.name, keepsake_home)
    assert _leftovers(keepsake_home) == []


def test_full_disk_keeps_nothing(hub: FakeHub, keepsake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    real_open = Path.open

    class FullDisk(io.FileIO):
        def write(self, chunk) -> int:  # noqa: ANN001
            if self.tell() + len(chunk) > 2_000_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(chunk)

    def opening(self: Path, mode: str = "r", *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if self.suffix == ".part" and "a" in mode:
            return FullDisk(str(self), "a")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opening)
    with pytest.raises(DownloadError, match="the disk filled up while downloading .*nothing was kept"):
        pull(ENTRY.name, keepsake_home)
    assert _leftovers(keepsake_home) == []


def test_not_enough_space_is_refused_before_downloading(hub: FakeHub, keepsake_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DownloadError, match="not enough disk space for .*GB more needed, 0.00 GB free"):
        pull(ENTRY.name, keepsake_home)
    assert [r[0] for r in hub.file_requests] == ["HEAD"] and _leftovers(keepsake_home) == []


@pytest.mark.parametrize("ref, message", [
    ("nobody/NoSuch-GGUF/x.gguf", "no repository nobody/NoSuch-GGUF on the Hub"),
    (f"{ENTRY.repo}/Missing-Q4_K_M.gguf", f"{ENTRY.repo} has no file Missing-Q4_K_M.gguf"),
    ("someone/gated-GGUF/gated.gguf", "someone/gated-GGUF is gated: accept its licence .*set HF_TOKEN"),
    ("not-a-model", "no model 'not-a-model' in the catalogue; choose one of: qwen2.5-0.5b, "),
    ("a/b", "neither a catalogue name nor OWNER/REPO/FILE.gguf"),
])
def test_wrong_repository_or_file_is_one_line(hub: FakeHub, keepsake_home: Path, ref: str, message: str) -> None:
    result = CliRunner().invoke(main, ["models", "pull", ref])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert re.search(message, result.stderr), result.stderr
    assert downloaded(keepsake_home) == []


def test_a_gated_repository_downloads_with_a_token(hub: FakeHub, keepsake_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert pull("someone/gated-GGUF/gated.gguf", keepsake_home).name == "gated.gguf"
    # The token went to the Hub, never to the CDN host the file came from.
    assert [(r[0], r[3]) for r in hub.file_requests] == [("HEAD", True), ("GET", False)]


def test_no_network(keepsake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    result = CliRunner().invoke(main, ["models", "pull", ENTRY.name])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "cannot reach the Hub at 127.0.0.1:" in result.stderr
    assert _leftovers(keepsake_home) == []


@pytest.mark.model
def test_chat_with_the_downloaded_model(hub: FakeHub, keepsake_home: Path, settings) -> None:  # noqa: ANN001
    result = CliRunner().invoke(main, ["models", "pull", ENTRY.name])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    reply = CliRunner().invoke(main, ["ask", "--model", str(path), "--no-memory", "--no-safety", "--max-tokens", "24",
                                      "--seed", "1", "--json", "Hello! What is your favourite season?"])
    assert reply.exit_code == 0, reply.output
    answer = json.loads(reply.stdout)
    assert answer["model"] == path.stem and answer["usage"]["completion_tokens"] > 0 and answer["reply"].strip()
