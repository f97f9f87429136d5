"""Regular expressions that skip, cheaply, the positions where no match can start.

Python's ``re`` scans fast for a pattern that opens with a literal or a character class, but a pattern
that opens with an alternation holding ``\\b``, a look-behind or an optional group (most of the
extractor's vocabulary: ``综上|总之|…|\\bin conclusion\\b|…``) is tried in full, alternative by
alternative, at every position of the text. :func:`compile_fast` puts a look-ahead for the characters a
match can start with in front of such a pattern: ``(?=[综总…i])(?:…)``. A look-ahead neither consumes
nor captures, and every match starts with one of those characters, so the matches, groups and spans are
the same; only the failing positions get cheaper (about three times, on the extractor's patterns).

The first characters are read from the parse tree of the pattern (``re._parser``, the standard
library's own parser). Where that is not possible (a case-insensitive pattern, a pattern that can match
the empty string or open with any character, a parser this code does not know), the pattern is compiled
as it is: the look-ahead is an optimisation only, never a change of meaning.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

try:  # the standard library's regular-expression parser (Python 3.11+)
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover - another Python: plain compile
    _c = _p = None  # type: ignore[assignment]

_CATEGORY = (
    {
        _c.CATEGORY_SPACE: r"\s",
        _c.CATEGORY_NOT_SPACE: r"\S",
        _c.CATEGORY_DIGIT: r"\d",
        _c.CATEGORY_NOT_DIGIT: r"\D",
        _c.CATEGORY_WORD: r"\w",
        _c.CATEGORY_NOT_WORD: r"\W",
    }
    if _c is not None
    else {}
)


class _Unknown(Exception):
    """The first characters cannot be bounded: compile the pattern unchanged."""


class _First:
    """The characters a match can start with: single characters, ranges and categories (``\\s``…)."""

    def __init__(self) -> None:
        self.chars: set[int] = set()
        self.ranges: set[tuple[int, int]] = set()
        self.categories: set[str] = set()

    def add_class(self, items: list[tuple[object, object]]) -> None:
        for op, av in items:
            if op is _c.LITERAL:
                self.chars.add(av)  # type: ignore[arg-type]
            elif op is _c.RANGE:
                self.ranges.add(av)  # type: ignore[arg-type]
            elif op is _c.CATEGORY and av in _CATEGORY:
                self.categories.add(_CATEGORY[av])
            else:  # a negated class, another category: unbounded here
                raise _Unknown

    def as_class(self) -> str:
        """One character class, written with the pattern's own flags (so \\s means what it means there)."""
        parts = [re.escape(chr(c)) for c in sorted(self.chars)]
        parts += [f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in sorted(self.ranges)]
        return "[" + "".join(parts) + "".join(sorted(self.categories)) + "]"


def _first(items: list[tuple[object, object]], found: _First) -> bool:
    """Add the characters a match of ``items`` can start with; True when it can match empty."""
    for op, av in items:
        if op is _c.LITERAL:
            found.chars.add(av)  # type: ignore[arg-type]
            return False
        if op is _c.IN:
            found.add_class(list(av))  # type: ignore[arg-type]
            return False
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # zero width: the next item consumes the first character
        if op is _c.SUBPATTERN:
            _group, add_flags, _del_flags, body = av  # type: ignore[misc]
            if add_flags & re.IGNORECASE:
                raise _Unknown
            if not _first(list(body), found):
                return False
            continue
        if op is _c.BRANCH:
            empty = False
            for alternative in av[1]:  # type: ignore[index]
                empty |= _first(list(alternative), found)
            if not empty:
                return False
            continue
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, _high, body = av  # type: ignore[misc]
            if not _first(list(body), found) and low > 0:
                return False
            continue
        raise _Unknown  # any character, a back-reference, …
    return True


def _parse(pattern: str, flags: int) -> list[tuple[object, object]] | None:
    """The parse tree of ``pattern`` (None where it is not read here: no parser, ignoring case)."""
    if _p is None or flags & re.IGNORECASE:
        return None
    try:
        return list(_p.parse(pattern, flags))
    except (AttributeError, TypeError, ValueError):
        return None


def _first_class(tree: list[tuple[object, object]] | None) -> str | None:
    if tree is None:
        return None
    found = _First()
    try:
        if _first(tree, found):
            return None  # the pattern can match the empty string
    except (_Unknown, AttributeError, TypeError, ValueError):
        return None
    return found.as_class()


def first_class(pattern: re.Pattern[str]) -> str | None:
    """A character class (``[…]``) holding every character a match of ``pattern`` can start with, or
    None where it cannot be bounded."""
    return _first_class(_parse(pattern.pattern, pattern.flags))


def _scans_fast(tree: list[tuple[object, object]]) -> bool:
    """True when ``re`` already skips to the first character itself (the pattern opens with a literal, a
    class, or an alternation of literals) or tries one position only (``^``)."""
    items = tree
    while items and items[0][0] is _c.SUBPATTERN:
        items = list(items[0][1][3])  # type: ignore[index]
    if not items:
        return False
    op, av = items[0]
    if op in (_c.LITERAL, _c.IN) or (op is _c.AT and av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)):
        return True
    return op is _c.BRANCH and all(alt and alt[0][0] is _c.LITERAL for alt in av[1])  # type: ignore[index]


def _required(items: list[tuple[object, object]]) -> list[frozenset[str]]:
    """Sets of characters of which a text must hold one each for ``items`` to match in it."""
    out: list[frozenset[str]] = []
    for op, av in items:
        if op is _c.SUBPATTERN:
            if not av[1] & re.IGNORECASE:  # type: ignore[index]
                out += _required(list(av[3]))  # type: ignore[index]
            continue
        if op is _c.ASSERT:  # a look-around that must hold looks at the text too
            out += _required(list(av[1]))  # type: ignore[index]
            continue
        if op is _c.BRANCH:  # one alternative matches: the union of what each one needs
            each = [_required(list(alternative)) for alternative in av[1]]  # type: ignore[index]
            if all(each):
                out.append(frozenset().union(*(min(sets, key=len) for sets in each)))
                continue
        found = _First()
        try:
            if _first([(op, av)], found):
                continue  # may match empty: needs nothing
        except _Unknown:
            continue
        if not found.ranges and not found.categories:
            out.append(frozenset(map(chr, found.chars)))
    return out


def required_chars(pattern: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Sets of characters such that ``pattern`` can only match in a text holding a character of each
    (at most three, smallest first): a text whose characters miss one of them need not be searched.
    Empty where nothing is known."""
    return _required_chars(_parse(pattern.pattern, pattern.flags))


def _required_chars(tree: list[tuple[object, object]] | None) -> tuple[frozenset[str], ...]:
    if tree is None:
        return ()
    try:
        sets = _required(tree)
    except (AttributeError, TypeError, ValueError):
        return ()
    return tuple(sorted(set(sets), key=lambda s: (len(s), sorted(s))))[:3]


def lookahead(pattern: str, flags: int = 0) -> str:
    """``(?=[…])`` for the characters a match of ``pattern`` starts with, to put in front of it where it
    sits after a repetition inside a larger pattern (``[▲▼].{0,24}?`` + verdict phrases): each
    position the repetition stops at is then turned down at one glance. Empty where unknown."""
    cls = _first_class(_parse(pattern, flags))
    return f"(?={cls})" if cls is not None else ""


# What a text must hold for a pattern to match in it (see required_chars), by id(pattern), worked out on
# the first may_match (most patterns never need it; reading them all would slow the import): hashing a
# compiled pattern hashes its whole program. The pattern is kept, so its id stays its own.
_REQUIRED: dict[int, tuple[re.Pattern[str], tuple[frozenset[str], ...]]] = {}


def compile_fast(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, with a look-ahead for the first characters where that helps; the
    matches are the same. :func:`may_match` knows what a text must hold for it to match."""
    tree = _parse(pattern, flags)  # parsed once here; re.compile parses the source it is given
    cls = _first_class(tree)
    if tree is not None and cls is not None and not _scans_fast(tree):
        return re.compile(f"(?={cls})(?:{pattern})", flags)
    return re.compile(pattern, flags)


def may_match(pattern: re.Pattern[str], chars: AbstractSet[str]) -> bool:
    """False when ``pattern`` cannot match in a text made of ``chars`` or fewer characters, which then
    need not be searched (True when unknown)."""
    known = _REQUIRED.get(id(pattern))
    if known is None:
        known = _REQUIRED[id(pattern)] = (pattern, required_chars(pattern))
    for need in known[1]:
        if need.isdisjoint(chars):
            return False
    return True


_GROUP_NAME = re.compile(r"(?<!\\)\(\?P<\w+>")


def any_of(*patterns: re.Pattern[str]) -> re.Pattern[str]:
    """One pattern that has a match in a text exactly where one of ``patterns`` has one: one search
    tells whether any of them needs running. (Group names are dropped, so it cannot serve for their
    groups; a back-reference refuses.)"""
    flags = {p.flags for p in patterns}
    sources = [_GROUP_NAME.sub("(?:", p.pattern) for p in patterns]
    if len(flags) != 1 or any(re.search(r"\(\?P=|\(\?\(|\\[1-9]", s) for s in sources):
        raise ValueError("any_of needs patterns of the same flags without back-references")
    return compile_fast("|".join(f"(?:{source})" for source in sources), flags.pop())
