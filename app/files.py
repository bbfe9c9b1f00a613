"""Writing files the user asked for (exports, cards, avatars) so that a failure leaves nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

from app.errors import KeepsakeError


class WriteError(KeepsakeError):
    """A file could not be written (disk full, no permission); nothing half-written is left."""


def write_atomic(path: Path, data: bytes) -> None:
    """All or nothing: a full disk or a crash leaves the old file (or none), never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
