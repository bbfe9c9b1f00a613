"""The one sentence splitter (app.core.text), used by seed chunks, style profiles, facts and summaries."""

from __future__ import annotations

import doctest

from app.core import text
from app.core.text import sentences


def test_the_examples_in_its_docstring_hold() -> None:
    assert doctest.testmod(text).failed == 0


def test_numbers_and_abbreviations_without_a_space_stay_whole() -> None:
    assert sentences("It cost 3.5 shillings. Dr.Smith came…  Then rain") == [
        "It cost 3.5 shillings.", "Dr.Smith came…", "Then rain"]


def test_full_width_marks_end_a_sentence_without_a_space_and_lines_end_one_too() -> None:
    assert sentences("外公很好！你呢？\n\n  \nLove,\nGrandpa") == ["外公很好！", "你呢？", "Love,", "Grandpa"]
