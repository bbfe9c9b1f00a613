"""Cutting text into sentences, the one way every part of Keepsake does it.

A sentence ends at ``. ! ? …`` followed by white space (so "3.5" and "e.g.x" stay whole), at the
Chinese and Japanese full-width ``。！？`` whether or not a space follows (those scripts use none), and
at a line break (letters and chat messages end a thought at the end of a line without a full stop).
"""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*|\n+")


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, without empty ones.

    >>> sentences("I got a dog. He is brown!\\nLove, Tom")
    ['I got a dog.', 'He is brown!', 'Love, Tom']
    >>> sentences("我很好。你呢？")
    ['我很好。', '你呢？']
    """
    return [s.strip() for s in _END.split(text) if s and s.strip()]


def boundary(text: str) -> int:
    """Where the last whole sentence of ``text`` ends (the white space after it not included); 0 when none has.

    >>> text = "I got a dog. He is bro"
    >>> text[:boundary(text)]
    'I got a dog.'
    """
    last = None
    for last in _END.finditer(text):
        pass
    return last.start() if last else 0
