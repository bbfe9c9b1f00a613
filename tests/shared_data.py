"""The public safety data sets the evaluation tests read (``../shared/data/safety``), the mark that skips those
tests, with the reason shown, where they are absent (a user's plain clone has no ``../shared``), and the check the
detectors' tests make on the sets' safe look-alikes, and how they read our blind probes."""

from __future__ import annotations

from pathlib import Path

import pytest

SAFETY_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "safety"
needs_data = pytest.mark.skipif(not SAFETY_DATA.is_dir(),
                                reason=f"safety data sets not found at {SAFETY_DATA} (../shared is absent in a plain clone)")


def assert_rarely_flagged(detector, sets: dict, most: dict[str, float]) -> None:  # noqa: ANN001
    """``detector`` flags at most ``most[name]`` of each named set's messages (``safety.evaluate``'s (text, label,
    kind) rows) at its threshold; the assertion names the set and lists what it flagged."""
    for name, share in most.items():
        texts = [t for t, _, _ in sets[name]]
        flagged = [t for t, q in zip(texts, detector.probability(texts)) if q >= 0.5]
        assert len(flagged) <= share * len(texts), (name, flagged)


def read_probes(detector, rows: list[tuple[str, bool, str]],  # noqa: ANN001
                counts=lambda kind: True) -> tuple[list[bool], list[str]]:  # noqa: ANN001
    """A detector on blind probes (message, harmful, kind): whether it finds each harmful one of the kinds it
    ``counts``, and the harmless ones it flags."""
    p = detector.probability([t for t, _, _ in rows])
    found = [q >= 0.5 for q, (_, harmful, kind) in zip(p, rows) if harmful and counts(kind)]
    return found, [t for q, (t, harmful, _) in zip(p, rows) if q >= 0.5 and not harmful]
