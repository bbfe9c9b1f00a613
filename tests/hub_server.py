"""A local stand-in for the Hugging Face Hub, for download tests without the internet.

It answers the two requests the Hub client makes for a file, the way huggingface.co does for an LFS
file: ``HEAD /{repo}/resolve/{revision}/{file}`` answers 302 with ``X-Repo-Commit``,
``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``, pointing at a "CDN" on another host name
(``localhost`` instead of ``127.0.0.1``, so the client treats it as off-Hub); ``GET`` on that address
serves the bytes, honouring ``Range``. Unknown repositories and files get the Hub's 404s with its
``X-Error-Code`` header, gated ones a 403 ``GatedRepo``.

Faults for the tests: ``cut_after`` closes the connection once after that many bytes of a body;
``corrupt`` serves different bytes than the sha256 announced. ``requests`` records every request:
method, path, ``Range`` header and whether it carried a token.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    repo: str
    file: str
    path: Path
    gated: bool = False

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        self.sha256 = digest.hexdigest()
        self.size = self.path.stat().st_size


@dataclass
class FakeHub:
    files: list[HubFile]
    cut_after: int | None = None
    corrupt: bool = False
    requests: list[tuple[str, str, str | None, bool]] = field(default_factory=list)
    port: int = 0

    @property
    def file_requests(self) -> list[tuple[str, str, str | None, bool]]:
        """The requests for files (the client also asks /api/ for its own registry, which is not ours to test)."""
        return [r for r in self.requests if not r[1].startswith("/api/")]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # noqa: ANN002  (quiet tests)
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("Range"),
                                     "authorization" in {k.lower() for k in self.headers}))
                parts = self.path.split("/")
                if len(parts) == 3 and parts[1] == "cdn":
                    return self._serve(parts[2], body)
                # /owner/name/resolve/revision/file
                if len(parts) < 6 or parts[3] != "resolve":
                    return self._error(404, "RepoNotFound")
                repo, file = "/".join(parts[1:3]), "/".join(parts[5:])
                if not any(f.repo == repo for f in hub.files):
                    return self._error(404, "RepoNotFound")
                match = next((f for f in hub.files if f.repo == repo and f.file == file), None)
                if match is None:
                    return self._error(404, "EntryNotFound")
                if match.gated and "authorization" not in {k.lower() for k in self.headers}:
                    return self._error(403, "GatedRepo")
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{hub.port}/cdn/{match.sha256}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{match.sha256}"')
                self.send_header("X-Linked-Size", str(match.size))
                self.send_header("ETag", '"git-sha1-of-the-pointer"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, sha: str, body: bool) -> None:
                match = next((f for f in hub.files if f.sha256 == sha), None)
                if match is None:
                    return self._error(404, "EntryNotFound")
                data = match.path.read_bytes()
                if hub.corrupt:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                start = 0
                if self.headers.get("Range", "").startswith("bytes="):
                    start = int(self.headers["Range"][6:].split("-")[0])
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return None
                chunk = data[start:]
                if hub.cut_after is not None:
                    chunk, hub.cut_after = chunk[:hub.cut_after], None  # once: the retry gets the rest
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                self.wfile.write(chunk)
                return None

            def _error(self, status: int, code: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:  # noqa: ANN001
                pass  # a client that hangs up mid-body is what some tests do on purpose

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hub(model_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The embedded GGUF published as the catalogue's smollm2-1.7b, plus a gated repository; HF_ENDPOINT points here."""
    from app.core import catalogue

    entry = catalogue.find("smollm2-1.7b")
    server = FakeHub([HubFile(entry.repo, entry.file, model_path),
                      HubFile("someone/gated-GGUF", "gated.gguf", model_path, gated=True)]).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as Keepsake's embedder sets it: a download must still work
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield server
    server.stop()
