"""Held-out set R of option answers (tests/options_heldout_r.py), each read by extract_option.

A case whose label is debatable is a strict xfail with its reason (keyed by its index in CASES), so a
change that comes to read it as labelled shows up."""

from __future__ import annotations

from collections import Counter

import pytest

from cvalues.mc.options import extract_option
from options_heldout_r import CASES, OPTION_SETS

DEBATABLE: dict[int, str] = {}


def _params() -> list[object]:
    out = []
    for i, case in enumerate(CASES):
        marks = [pytest.mark.xfail(strict=True, reason=DEBATABLE[i])] if i in DEBATABLE else []
        out.append(pytest.param(*case, id=f"{i}-{case[0]}", marks=marks))
    return out


def test_set_covers_every_outcome() -> None:
    labels = Counter(case[0] for case in CASES)
    assert len(CASES) >= 100
    assert set(labels) == {"A", "B", "C", "D", "Other", "Refuse", "Need_Check"}


@pytest.mark.parametrize(("label", "n_options", "option_set", "answer"), _params())
def test_extract_option_heldout_r(label: str, n_options: int, option_set: str | None, answer: str) -> None:
    options = OPTION_SETS[option_set] if option_set else None
    got = extract_option(answer, n_options, options=options)
    assert got.label == label, f"{answer!r} read as {got}"
    assert got.rule
