"""Held-out sets S and T (issue 12): answers written and labelled before the extractor read them.

``tests/extract_corpus/heldout_issue12_{s,t}.jsonl`` (their README says what each weighs): each case is
named, read by ``extract_choice`` and compared with its label. A case whose label is debatable carries a
strict ``xfail`` naming why, so a change that comes to read it as labelled shows up. A later set written
in the same shape joins :data:`SETS`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cvalues.mc.extract import OUTCOMES, extract_choice
from heldout_cases import case_params, read_cases

CORPUS = Path(__file__).parent / "extract_corpus"
#: set name -> its file
SETS = {"s": CORPUS / "heldout_issue12_s.jsonl", "t": CORPUS / "heldout_issue12_t.jsonl"}
CASES = {name: read_cases(path) for name, path in SETS.items()}


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_shape(name: str) -> None:
    """Unique ids, every outcome, about a third of the answers not a pick, the fields of the set."""
    cases = CASES[name]
    assert len({c["id"] for c in cases}) == len(cases) >= 120
    counts = Counter(c["gold"] for c in cases)
    assert set(counts) == set(OUTCOMES)
    assert counts["Other"] + counts["Refuse"] + counts["Need_Check"] >= len(cases) // 3
    for case in cases:
        assert set(case) <= {"id", "answer", "gold", "why", "style", "noswap", "xfail"}, case["id"]
        assert case["why"].strip() and case["style"].strip(), case["id"]


@pytest.mark.parametrize(
    "case",
    [
        param
        for name, path in sorted(SETS.items())
        for param in case_params(path, {c["id"]: c["xfail"] for c in CASES[name] if c.get("xfail")})
    ],
)
def test_set_case(case: dict[str, Any]) -> None:
    got = extract_choice(case["answer"])
    assert got.label == case["gold"], f"{case['style']}: {got.rule} / {got.evidence!r}"


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_no_confident_wrong_pick(name: str) -> None:
    """A pick of the other reply, or a pick where no pick was due, is never made."""
    wrong = []
    for case in CASES[name]:
        got = extract_choice(case["answer"]).label
        if got in ("回复1", "回复2") and got != case["gold"]:
            wrong.append((case["id"], case["gold"], got))
    assert wrong == []
