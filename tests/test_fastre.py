"""cvalues.mc.fastre: the look-ahead, the required characters and the group search change no match."""

from __future__ import annotations

import random
import re

import pytest

from cvalues.mc import fastre
from cvalues.mc.fastre import any_of, compile_fast, first_class, lookahead, may_match, required_chars

PATTERNS = [
    r"综上|总之|\bin conclusion\b|我(?:会)?选",
    r"(?<![0-9])(?:1|一)\s*号\s*(?:回复|回答)",
    r"(?:(?<=^)|(?<=[得为是]))\s*1\s*号?(?=\s*(?:更好|较好))",
    r"(?P<rec>建议|应该)?\s*(?:用户)?\s*(?:采用|参考)\s*(?P<tok>[▲▼])",
    r"\bthe\s+(?:first|1st)(?=\s*(?:[.,;!)]|$|\s+is\b))",
    r"不(?!仅|但)|没|无(?!疑)|\bnot\b|n't\b",
    r"(?:^|[，,；;。])\s*(?:不对|错了)\s*(?=[，,。；;!]|$)|我说错了",
]
ALPHABET = [
    *"综上总之我会选择号回复答一12 是得为更好较建议应该用户采用参考▲▼不仅但没无疑，,；;。!",
    "in conclusion",
    "the first",
    " is",
    "not",
    "n't",
    "不对",
    "错了",
]


def _texts(n: int = 400) -> list[str]:
    rng = random.Random(7)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in pattern.finditer(text)]


@pytest.mark.parametrize("source", PATTERNS)
def test_compile_fast_finds_the_same_matches(source: str) -> None:
    plain, fast = re.compile(source), compile_fast(source)
    assert fast.groupindex == plain.groupindex
    for text in _texts():
        assert _spans(fast, text) == _spans(plain, text), text
        assert fast.sub("#", text) == plain.sub("#", text)


def test_the_look_ahead_is_added_only_where_it_helps() -> None:
    assert compile_fast(PATTERNS[0]).pattern.startswith("(?=[")  # \b in an alternative: no fast scan
    assert compile_fast(r"[▲▼]更好").pattern == r"[▲▼]更好"  # re already skips to ▲/▼
    assert compile_fast(r"^\s*[▲▼]").pattern == r"^\s*[▲▼]"  # anchored


def test_unbounded_patterns_are_left_as_they_are() -> None:
    assert first_class(re.compile(r"a?")) is None  # matches the empty string
    assert first_class(re.compile(r".b")) is None  # any first character
    assert first_class(re.compile(r"abc", re.IGNORECASE)) is None
    assert first_class(re.compile(r"[^a]b")) is None
    assert lookahead(r"x*") == ""
    assert compile_fast(r"(?i)think").pattern == r"(?i)think"


def test_first_class_holds_every_first_character() -> None:
    cls = first_class(re.compile(r"(?:很|非常)?\s*(?:好|\bgood\b)|[0-9]分"))
    assert cls is not None
    first = re.compile(cls)
    for ch in ["很", "非", " ", "好", "g", "0", "9"]:
        assert first.match(ch), ch
    assert not first.match("x")


def test_required_chars() -> None:
    needs = required_chars(re.compile(r"第\s*(?:1|一)\s*(?:个|条)?\s*回复"))
    assert set(needs) == {frozenset("第"), frozenset("回"), frozenset("复")}  # the three smallest
    assert required_chars(re.compile(r"(?:1|一)号")) == (frozenset("号"), frozenset("1一"))
    assert required_chars(re.compile(r"(?<=比)\s*2")) == (frozenset("2"), frozenset("比"))
    assert required_chars(re.compile(r"a|b?")) == ()  # may match empty
    assert required_chars(re.compile(r"abc", re.IGNORECASE)) == ()
    pattern = compile_fast(r"第\s*(?:1|一)\s*回复")
    assert may_match(pattern, set("第一个回复"))
    assert not may_match(pattern, set("回复1更好"))
    assert not may_match(re.compile("x"), set("yz")) and may_match(re.compile("x"), set("xyz"))
    assert may_match(re.compile("x", re.IGNORECASE), set())  # not read here: unknown, so it may


@pytest.mark.parametrize("seed", range(3))
def test_required_chars_never_rule_out_a_text_that_matches(seed: int) -> None:
    rng = random.Random(seed)
    for source in PATTERNS:
        pattern = compile_fast(source)
        for _ in range(300):
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20)))
            if pattern.search(text):
                assert may_match(pattern, set(text)), (source, text)


def test_any_of_matches_where_one_of_them_does() -> None:
    patterns = [compile_fast(source) for source in PATTERNS]
    combined = any_of(*patterns)
    for text in _texts():
        assert bool(combined.search(text)) == any(p.search(text) for p in patterns), text


def test_any_of_refuses_back_references_and_mixed_flags() -> None:
    with pytest.raises(ValueError):
        any_of(re.compile(r"(a)\1"))
    with pytest.raises(ValueError):
        any_of(re.compile("a"), re.compile("b", re.MULTILINE))


def test_plain_compile_without_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another Python without re._parser: the patterns compile as they are."""
    monkeypatch.setattr(fastre, "_p", None)
    assert compile_fast(PATTERNS[0]).pattern == PATTERNS[0]
    assert required_chars(re.compile("ab")) == ()
