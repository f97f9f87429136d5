"""Shortened messages end at a word boundary (Latin words whole; CJK characters are words of their own)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cvalues.textcut import shorten

LONG = "http://127.0.0.1:8000/v1/chat/completions: HTTP 500: upstream connection terminated unexpectedly " * 4


def _wordy(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _cut_inside_a_word(out: str, text: str) -> bool:
    flat = " ".join(text.split())
    if out == flat:
        return False
    body = out.removesuffix("…").rstrip()
    assert flat.startswith(body), (out, flat)
    nxt = flat[len(body) : len(body) + 1]
    inside = bool(body and nxt) and _wordy(body[-1]) and _wordy(nxt)
    return inside and not all(_wordy(c) for c in body)  # one word longer than the room is cut anyway


def test_short_text_is_kept_with_whitespace_collapsed() -> None:
    assert shorten("  a\n  b  ", 10) == "a b"


def test_cut_ends_at_a_word_boundary_with_a_marker() -> None:
    for width in range(20, 200, 7):
        out = shorten(LONG, width)
        assert len(out) <= width and out.endswith("…")
        assert not _cut_inside_a_word(out, LONG), out


def test_chinese_is_cut_between_characters() -> None:
    assert shorten("服务器拒绝了请求" * 20, 21) == "服务器拒绝了请求服务器拒绝了请求服务器拒…"


def test_one_huge_token_is_still_bounded() -> None:
    assert len(shorten("x" * 500, 50)) == 50


@settings(deadline=None)  # a shared CI machine may be slow; the property is what matters
@given(st.text(alphabet="ab 中文:/.\n", max_size=300), st.integers(min_value=2, max_value=120))
def test_never_longer_and_never_mid_word(text: str, width: int) -> None:
    out = shorten(text, width)
    assert len(out) <= width
    assert not _cut_inside_a_word(out, text), (out, text)
