"""Shorten a message for a person: bounded length, whitespace collapsed, never cut inside a word.

Error causes are shown in summaries and stored per item; a cause cut mid-word (``conn``, ``HTTP 5``)
reads as a different error. Latin letters, digits and ``_`` form words; CJK characters are words of
their own, so Chinese text is cut between any two characters.
"""

from __future__ import annotations

ELLIPSIS = "…"


def _wordy(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def shorten(text: str, width: int, placeholder: str = ELLIPSIS) -> str:
    """``text`` with whitespace runs collapsed to one space; if longer than ``width``, cut at the last
    word boundary that leaves room for ``placeholder`` and end with it. A first word longer than the
    room is cut where the room ends (the result is never longer than ``width``)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    room = max(width - len(placeholder), 0)
    cut = room
    if 0 < cut < len(flat) and _wordy(flat[cut - 1]) and _wordy(flat[cut]):
        start = cut
        while start > 0 and _wordy(flat[start - 1]):
            start -= 1
        if start > 0:
            cut = start
    return (flat[:cut].rstrip() + placeholder)[:width]
