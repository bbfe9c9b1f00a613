"""Downloading GGUF models from the Hugging Face Hub into ``<home>/models``, only when a user asks.

The Hub's own client does the talking: ``get_hf_file_metadata`` for the file's commit, size and sha256
(the ``X-Linked-Etag`` of an LFS file), and ``http_get`` for the bytes, with its retries, ``Range``
resume, progress bar and Hub error types. We keep the partial file ourselves, under
``<home>/models/.partial/<sha256>``, so that a download stopped by a lost connection or Ctrl-C
resumes from where it stopped the next time it is asked for (``hf_hub_download`` in huggingface_hub
2.x deletes its partial file on any failure). A file reaches ``<home>/models/`` only once its sha256
matches the Hub's, so the model picker never offers half a model.

``HF_ENDPOINT`` (a mirror) and ``HF_TOKEN`` (gated repositories) are read at each download.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from app.core import catalogue
from app.core.errors import KeepsakeError, ModelLoadError
from app.core.models import check_gguf, models_dir

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(KeepsakeError):
    """A model could not be downloaded; nothing half-written is left where models are picked from."""


@dataclass(frozen=True)
class Source:
    """A GGUF file on the Hub: a catalogue entry or any REPO/FILE."""

    repo: str
    file: str
    revision: str = "main"

    @property
    def name(self) -> str:
        entry = catalogue.by_file(self.file)
        return entry.name if entry else f"{self.repo}/{self.file}"


def source(ref: str) -> Source:
    """``llama3.2-3b`` (a catalogue name) or ``owner/repo/File.gguf`` (any GGUF on the Hub).

    >>> source("bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf").repo
    'bartowski/Llama-3.2-1B-Instruct-GGUF'
    """
    if "/" not in ref:
        entry = catalogue.find(ref)
        return Source(entry.repo, entry.file)
    parts = ref.split("/")
    if len(parts) < 3 or not all(parts) or not ref.endswith(".gguf") or ".." in parts:
        raise DownloadError(f"{ref!r} is neither a catalogue name nor OWNER/REPO/FILE.gguf "
                            "(see `python -m app models list`)")
    return Source("/".join(parts[:2]), "/".join(parts[2:]))


def target(home: Path, src: Source) -> Path:
    """Where a downloaded file lives: ``<home>/models/<file name>``."""
    return models_dir(home) / Path(src.file).name


def reporting(callback: Callable[[int, int | None], None]) -> type[tqdm]:
    """A silent progress-bar class for the Hub client that hands (bytes done, total) to ``callback``.

    The page passes one that moves a Gradio progress bar; the terminal uses plain tqdm instead.
    """

    class Reporting(tqdm):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **{**kwargs, "disable": True})
            self.done = kwargs.get("initial", 0)
            callback(self.done, self.total)

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            callback(self.done, self.total)
            return None

    return Reporting


@contextmanager
def _online() -> Iterator[None]:
    """Let this one request through the hub library's offline switch.

    Keepsake sets ``HF_HUB_OFFLINE`` so that loading the embedder never looks anything up; a download
    is different, because the user asked for it. The switch is the library's module constant.
    """
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def pull(ref: str, home: Path, *, progress: type[tqdm] | None = None, token: str | None = None) -> Path:
    """Download ``ref`` (see ``source``) into ``<home>/models`` and return its path.

    Already there: returned as is. Interrupted before: resumed. Every failure is a ``DownloadError``
    with one line that says what happened and what to do.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    src = source(ref)
    dest = target(home, src)
    if dest.is_file():
        return dest
    endpoint = os.environ.get("HF_ENDPOINT") or None
    token = token or os.environ.get("HF_TOKEN") or None
    url = hf_hub_url(src.repo, src.file, revision=src.revision, endpoint=endpoint)
    try:
        with _online():
            meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
            sha = (meta.etag or "").lower()
            if not SHA256.match(sha) or not meta.size:
                raise DownloadError(f"the Hub gives no sha256 and size for {src.file} in {src.repo} (not an LFS file?), "
                                    "so it cannot be checked; refusing to download it")
            return _fetch(src, dest, meta.location or url, url, sha, meta.size, token, progress)
    except HfHubHTTPError as exc:
        raise DownloadError(_hub_message(exc, src)) from None
    except Exception as exc:
        if _is_network_error(exc):
            where = urlsplit(endpoint or "https://huggingface.co").netloc
            raise DownloadError(f"cannot reach the Hub at {where} ({type(exc).__name__}); check the network "
                                "(or HF_ENDPOINT) and run the same command again: it resumes") from None
        raise


def _fetch(src: Source, dest: Path, location: str, url: str, sha: str, size: int, token: str | None,
           progress: type[tqdm] | None) -> Path:
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    partial = dest.parent / ".partial" / f"{sha}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    free = shutil.disk_usage(partial.parent).free
    if size - have > free:
        raise DownloadError(f"not enough disk space for {dest.name}: {(size - have) / 1e9:.2f} GB more needed, "
                            f"{free / 1e9:.2f} GB free in {dest.parent}")
    headers = build_hf_headers(token=token)
    if urlsplit(location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a signed CDN address: the token stays with the Hub
    with partial.open("ab") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"{dest.name} is already being downloaded; wait for that download to finish") from None
        try:
            http_get(location, f, resume_size=have, headers=headers, expected_size=size,
                     displayed_filename=dest.name, tqdm_class=progress)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                partial.unlink(missing_ok=True)  # free the space again; a full disk is not resumed
                raise DownloadError(f"the disk filled up while downloading {dest.name} to {dest.parent}; nothing was "
                                    f"kept. Free {size / 1e9:.2f} GB and try again") from None
            if not _is_network_error(exc) and "Consistency check failed" in str(exc):
                got = partial.stat().st_size if partial.exists() else 0
                raise DownloadError(f"the download of {dest.name} stopped at {got / 1e6:.0f} of {size / 1e6:.0f} MB; "
                                    "run the same command again to resume") from None
            raise
    if partial.stat().st_size != size or _sha256(partial) != sha:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{dest.name} from {src.repo} does not match the Hub's sha256 (a damaged or tampered "
                            "download); it was deleted, run the same command again")
    try:
        check_gguf(partial)
    except ModelLoadError:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{src.file} in {src.repo} is not a GGUF model file; Keepsake runs GGUF models only") from None
    os.replace(partial, dest)
    return dest


def _is_network_error(exc: BaseException) -> bool:
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled

    return isinstance(exc, httpx2.TransportError | OfflineModeIsEnabled | ConnectionError | TimeoutError)


def _hub_message(exc: Exception, src: Source) -> str:
    from huggingface_hub.errors import (
        DisabledRepoError,
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return (f"{src.repo} is gated: accept its licence at https://huggingface.co/{src.repo}, then set HF_TOKEN "
                "to a read token (https://huggingface.co/settings/tokens)")
    if isinstance(exc, RepositoryNotFoundError):
        return (f"no repository {src.repo} on the Hub (check the spelling; a private one needs HF_TOKEN)")
    if isinstance(exc, RemoteEntryNotFoundError):
        return f"{src.repo} has no file {src.file} (check the file name on its Files page)"
    if isinstance(exc, RevisionNotFoundError):
        return f"{src.repo} has no revision {src.revision}"
    if isinstance(exc, DisabledRepoError):
        return f"{src.repo} has been disabled on the Hub"
    status = getattr(getattr(exc, "response", None), "status_code", "an error")
    return f"the Hub answered {status} for {src.repo}/{src.file}; try again later"
