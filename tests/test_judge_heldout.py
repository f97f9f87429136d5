"""The judge rubrics' parsers against hand-labelled judge replies (tests/judge_outputs/, see its README).

Each case is one reply in a shape a real judge produces (Qwen3Guard-Gen, Llama Guard 3/4, ShieldLM,
chat models on the cvalues JSON rubrics) and what a careful reader takes from it: a reading, or no single
well-formed verdict (``"error": true``). A case ends one of three ways: right; **wrong** (a reading that
differs from the expected one, or a reading where none should be: the worst failure, a confident wrong
verdict); or **refused** (a VerdictParseError where the verdict is clear). ``python
tests/test_judge_heldout.py [-v] [FILE...]`` prints these figures per rubric.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from cvalues.judge.rubrics import RUBRICS, VerdictParseError, get_rubric

CASES_DIR = Path(__file__).parent / "judge_outputs"
_FIELDS = {"rubric", "text", "expected", "note", "xfail", "why", "style"}
_EXPECTED = {"label", "score", "categories", "refusal", "error"}
Outcome = Literal["right", "wrong", "refused"]


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    rubric: str
    text: str
    expected: dict[str, Any]
    note: str
    xfail: str | None

    @property
    def id(self) -> str:
        return f"{self.file.removesuffix('.jsonl')}:{self.line}:{self.rubric}"


def load_cases(path: Path) -> list[Case]:
    """One case per line: {"rubric", "text", "expected", "note", "xfail"?, "why"?, "style"?}; a bad line
    names itself (``why`` and ``style``, from round E on, say why the label is what it is and which
    kind of judge writes such a reply)."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{where}: not JSON ({exc})") from exc
        unknown = set(record) - _FIELDS
        assert not unknown, f"{where}: unknown field(s) {sorted(unknown)}"
        assert record.get("rubric") in RUBRICS, f"{where}: field 'rubric' is {record.get('rubric')!r}"
        assert isinstance(record.get("text"), str), f"{where}: field 'text' is not text"
        expected = record.get("expected")
        assert isinstance(expected, dict) and expected, f"{where}: field 'expected' is {expected!r}"
        unknown = set(expected) - _EXPECTED
        assert not unknown, f"{where}: unknown expected field(s) {sorted(unknown)}"
        if expected.get("error"):
            assert set(expected) == {"error"}, f"{where}: an error case expects nothing else"
        else:
            level = get_rubric(record["rubric"]).level
            needed = "label" if level == "safety" else "score"
            assert needed in expected, f"{where}: a {level} case needs expected {needed!r}"
            assert expected.get("label") in (None, "safe", "unsafe", "controversial"), f"{where}: label"
        assert isinstance(record.get("note"), str) and record["note"], f"{where}: field 'note' is empty"
        cases.append(
            Case(
                path.name,
                number,
                record["rubric"],
                record["text"],
                expected,
                record["note"],
                record.get("xfail"),
            )
        )
    return cases


def outcome(case: Case) -> tuple[Outcome, str]:
    """How the rubric's parser reads the case, and what it read (or the error it raised)."""
    try:
        reading = get_rubric(case.rubric).parse(case.text)
    except VerdictParseError as exc:
        return ("right" if case.expected.get("error") else "refused"), f"error: {exc}"
    got = {
        "label": reading.safety,
        "score": reading.score,
        "categories": list(reading.categories),
        "refusal": reading.refusal,
    }
    if case.expected.get("error"):
        return "wrong", f"read {got} where no verdict should be"
    differs = {k: got[k] for k in case.expected if got[k] != case.expected[k]}
    return ("wrong", f"read {differs}, expected {case.expected}") if differs else ("right", str(got))


def measure(cases: list[Case]) -> dict[str, Counter[str]]:
    """Outcome counts per rubric (and ``all``)."""
    figures: dict[str, Counter[str]] = {name: Counter() for name in RUBRICS}
    figures["all"] = Counter()
    for case in cases:
        result, _ = outcome(case)
        figures[case.rubric][result] += 1
        figures["all"][result] += 1
    return figures


CASES = [case for path in sorted(CASES_DIR.glob("*.jsonl")) for case in load_cases(path)]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else [])
        for c in CASES
    ],
)
def test_case(case: Case) -> None:
    result, detail = outcome(case)
    assert result == "right", f"{case.id} ({case.note}): {result}: {detail}"


def test_corpus_shape() -> None:
    files = {c.file for c in CASES}
    assert {
        "heldout_formats.jsonl",
        "heldout_formats_b.jsonl",
        "heldout_formats_c.jsonl",
        "heldout_formats_d.jsonl",
        "heldout_formats_e.jsonl",
        "rules_formats.jsonl",
    } <= files
    for name in files:
        rubrics = Counter(c.rubric for c in CASES if c.file == name)
        assert set(rubrics) == set(RUBRICS), f"{name} misses rubric(s) {set(RUBRICS) - set(rubrics)}"
        errors = sum(1 for c in CASES if c.file == name and c.expected.get("error"))
        assert errors >= 10, f"{name} has {errors} cases that must stay errors"
    # debatable labels only, each saying why; never a way to park a miss
    parked = [c for c in CASES if c.xfail]
    assert len(parked) <= 5 and all("debatable" in c.xfail for c in parked)


def test_loader_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"rubric": "llamaguard", "text": "safe", "expected": {"label": "safe"}, "note": "ok"}\n'
        '{"rubric": "llamaguard", "text": "safe", "expected": {"lable": "safe"}, "note": "typo"}\n',
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match=r"bad\.jsonl:2: unknown expected field"):
        load_cases(bad)
    bad.write_text('{"rubric": "gpt", "text": "safe", "expected": {"label": "safe"}, "note": "x"}\n', "utf-8")
    with pytest.raises(AssertionError, match=r"bad\.jsonl:1: field 'rubric' is 'gpt'"):
        load_cases(bad)


def test_outcome_tells_wrong_from_refused() -> None:
    def case(text: str, **expected: Any) -> Case:
        return Case("x.jsonl", 1, "llamaguard", text, expected, "n", None)

    assert outcome(case("unsafe\nS1", label="unsafe", categories=["S1"]))[0] == "right"
    assert outcome(case("unsafe\nS1", label="safe"))[0] == "wrong"
    assert outcome(case("safe", error=True))[0] == "wrong"
    assert outcome(case("no idea", label="safe"))[0] == "refused"
    assert outcome(case("no idea", error=True))[0] == "right"


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    paths = [Path(a) for a in argv if a != "-v"] or sorted(CASES_DIR.glob("*.jsonl"))
    for path in paths:
        cases = load_cases(path)
        print(f"{path.name}: {len(cases)} cases")
        for rubric, counts in measure(cases).items():
            right, wrong, refused = counts["right"], counts["wrong"], counts["refused"]
            print(f"  {rubric:<24} right {right:>3}  wrong {wrong:>3}  refused {refused:>3}")
        for c in cases if verbose else ():
            result, detail = outcome(c)
            if result != "right":
                print(f"    {result:<7} {c.id} {c.note}: {detail[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
