"""The public safety data sets the evaluation tests read (``../shared/data/safety``), and the mark that skips those
tests, with the reason shown, where they are absent: a user's plain clone has no ``../shared``."""

from __future__ import annotations

from pathlib import Path

import pytest

SAFETY_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "safety"
needs_data = pytest.mark.skipif(not SAFETY_DATA.is_dir(),
                                reason=f"safety data sets not found at {SAFETY_DATA} (../shared is absent in a plain clone)")
