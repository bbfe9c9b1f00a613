"""Writing files the user asked for (exports, cards, avatars) so that a failure leaves nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import KeepsakeError


class WriteError(KeepsakeError):
    """A file could not be written (disk full, no permission); nothing half-written is left."""


def write_atomic(path: Path, data: bytes) -> None:
    """All or nothing: a full disk or a crash leaves the old file (or none), never half of one."""
    path = Path(path)
    special = path.exists() and not path.is_file()  # a device or pipe (/dev/stdout): write to it, never replace it
    tmp = path if special else path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        if not special:
            os.replace(tmp, path)
    except OSError as exc:
        if not special:
            tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
