"""The blind human-label round: every case of tests/label_cases/cases.jsonl through the real readers.

The cases were written from the docs and ``--help`` alone (tests/label_cases/README.md), before the code
reading label files was read. Three ways labels enter cvalues are exercised:

* ``agreement``: ``cvalues judge agreement JUDGE_DIR --labels FILE`` (values through its reader
  ``cvalues.judge.calibration.read_labels``; mistakes through the CLI, whose ``--out`` file written
  earlier must survive);
* ``report``: ``cvalues report ROOT --annotations FILE`` (values through ``cvalues.report.discover``;
  mistakes through the CLI, whose report folder written earlier must survive);
* ``ls``: ``cvalues annotate import-labels`` of a Label Studio export into a project store (values read
  back through ``cvalues annotate export``; a refused file must import nothing).

An error case must exit non-zero without a traceback and name what the manifest lists (the file, the
line as ``:N``/``line N``/``row N``, the field).
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from annotate_helpers import make_run
from cvalues.cli import cli
from cvalues.judge import run_judge
from cvalues.judge.calibration import read_labels
from cvalues.models.registry import load_model
from cvalues.report import discover
from judge_helpers import judge_responder, make_generation_run
from openai_server import OpenAIServer
from workbooks import write_workbook

HERE = Path(__file__).resolve().parent / "label_cases"
FILES = HERE / "files"
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines() if line
]
M = "openai:m"
SAFETY = {f"q{i}": (f"问题{i}", f"回答{i}", "crimes") for i in range(8)}
RESPONSIBILITY = {f"r{i}": (f"责任问题{i}", f"责任回答{i}", ("law", "psychology")[i % 2]) for i in range(8)}

#: Cases whose expectation turned out debatable once the code was read (case id -> reason).
DEBATABLE: dict[str, str] = {}


def _params() -> list[Any]:
    out = []
    for case in CASES:
        for reader in case["readers"]:
            marks = []
            if f"{case['id']}@{reader}" in DEBATABLE or case["id"] in DEBATABLE:
                reason = DEBATABLE.get(f"{case['id']}@{reader}") or DEBATABLE[case["id"]]
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(case, reader, id=f"{case['id']}@{reader}", marks=marks))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The runs every case is read against: a report root (one model, both levels) and a judge dir."""
    base = tmp_path_factory.mktemp("label-world")
    root = base / "runs"
    make_run(root / "safety", M, SAFETY)
    make_run(root / "responsibility", M, RESPONSIBILITY, level="responsibility")
    rows = [{"id": k, "prompt": p, "answer": a, "category": c} for k, (p, a, c) in SAFETY.items()]
    gen = make_generation_run(base / "gen", rows, model=M)
    with OpenAIServer(responder=judge_responder({"回答0": "unsafe\nS2"}, "safe")) as server:
        judge = load_model("openai:guard", base_url=server.base_url, max_retries=0)
        summary = run_judge(gen, judge_model=judge, rubric="llamaguard", progress=False, resamples=0)
    return {"base": base, "root": root, "judge_dir": summary.judge_dir}


def _invoke(args: list[Any]) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def _crashed(result: Result) -> bool:
    exc = result.exception
    return (exc is not None and not isinstance(exc, SystemExit)) or "Traceback" in result.output


def _names(message: str, names: list[Any]) -> list[Any]:
    """The names of ``names`` missing from ``message`` (an entry may be a list of alternatives)."""
    low = message.lower()

    def found(name: str) -> bool:
        line = re.fullmatch(r":(\d+)", name)
        if line:
            n = line.group(1)
            return re.search(rf"(?::{n}(?!\d)|\b(?:line|row|第)\s*{n}(?!\d))", low) is not None
        return name.lower() in low

    return [n for n in names if not any(found(alt) for alt in (n if isinstance(n, list) else [n]))]


def _as_tuples(rows: list[list[Any]]) -> set[tuple[Any, ...]]:
    return {
        tuple(None if v is None else (float(v) if isinstance(v, int | float) else v) for v in r) for r in rows
    }


def _check_error(result: Result, case: dict[str, Any]) -> None:
    assert not _crashed(result), result.output
    assert result.exit_code != 0, f"accepted a mistake: {result.output}"
    missing = _names(result.output, case["names"])
    assert not missing, f"message does not name {missing}: {result.output!r}"


def _store(tmp_path: Path) -> str:
    """A project store holding the safety and responsibility items of the runs (``annotate import``)."""
    db = tmp_path / "annotate.db"
    safety = make_run(tmp_path / "rs", M, SAFETY)
    responsibility = make_run(tmp_path / "rr", M, RESPONSIBILITY, level="responsibility")
    for args in (
        ["annotate", "init", "--db", db],
        ["annotate", "import", safety, "--db", db, "--task", "safety"],
        ["annotate", "import", responsibility, "--db", db, "--task", "responsibility"],
    ):
        result = _invoke(args)
        assert result.exit_code == 0, result.output
    return str(db)


def _exported(db: str, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "export.jsonl"
    result = _invoke(["annotate", "export", "--db", db, "--format", "jsonl", "--out", out])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line for line in lines if not line.get("final")]


@pytest.mark.parametrize(("case", "reader"), _params())
def test_label_case(case: dict[str, Any], reader: str, world: dict[str, Path], tmp_path: Path) -> None:
    path = FILES / case["file"]
    accept = case["expect"] == "accept"
    if reader == "agreement":
        if accept:
            got = [[lab.item_id, lab.model, lab.label, lab.score] for lab in read_labels(path)]
            assert _as_tuples(got) == _as_tuples(case["labels"])
            return
        out = tmp_path / "agreement.json"
        out.write_text('{"earlier": true}\n', encoding="utf-8")
        result = _invoke(
            ["judge", "agreement", world["judge_dir"], "--labels", path, "--out", out, "--bootstrap", "0"]
        )
        _check_error(result, case)
        assert out.read_text(encoding="utf-8") == '{"earlier": true}\n'
    elif reader == "report":
        if accept:
            inputs = discover([world["root"]], annotations=[path])
            got = [[lab.item_id, lab.model, lab.label, lab.score] for lab in inputs.labels]
            assert _as_tuples(got) == _as_tuples(case["labels"])
            return
        report = tmp_path / "report"
        report.mkdir()
        (report / "report.html").write_text("earlier report", encoding="utf-8")
        result = _invoke(
            ["report", world["root"], "--annotations", path, "--out", report, "--bootstrap", "0"]
        )
        _check_error(result, case)
        assert [p.name for p in report.iterdir()] == ["report.html"]
        assert (report / "report.html").read_text(encoding="utf-8") == "earlier report"
    else:
        db = _store(tmp_path)
        result = _invoke(["annotate", "import-labels", path, "--db", db])
        if accept:
            assert result.exit_code == 0 and not _crashed(result), result.output
            got = [[r["item_id"], r["annotator"], r["label"], r["score"]] for r in _exported(db, tmp_path)]
            assert _as_tuples(got) == _as_tuples(case["labels"])
            again = _invoke(["annotate", "import-labels", path, "--db", db])  # idempotent
            assert again.exit_code == 0, again.output
            assert len(_exported(db, tmp_path)) == len(got)
            return
        _check_error(result, case)
        assert _exported(db, tmp_path) == [], "a refused file imported labels"


def test_agreement_reads_a_file_end_to_end(world: dict[str, Path], tmp_path: Path) -> None:
    """The judge said q0 unsafe, the rest safe; the Excel GB18030 sheet says q0 safe, q1 unsafe (plus an
    item the run lacks, counted apart): one disagreement each way, read through the whole command."""
    labels = tmp_path / "team.csv"
    labels.write_bytes(
        "item_id,model,label\r\nq0,openai:m,安全\r\nq1,openai:m,不安全\r\nq2,openai:m,Safe\r\nq99,openai:m,safe\r\n".encode(
            "gb18030"
        )
    )
    result = _invoke(
        ["judge", "agreement", world["judge_dir"], "--labels", labels, "--format", "json", "--bootstrap", "0"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["matched"], data["n"], data["unmatched_labels"]) == (3, 3, 1)
    assert data["unsafe_recall"] == 0.0 and data["accuracy"] == pytest.approx(1 / 3)


def test_import_labels_refuses_a_role_that_cannot_label_the_task(tmp_path: Path) -> None:
    """An annotator (safety only) with a responsibility rating in the export: the whole file is refused
    before anything is stored, naming the annotator and the task (added after the code was read)."""
    db = _store(tmp_path)
    assert _invoke(["annotate", "users", "add", "alice", "--db", db, "--generate"]).exit_code == 0
    export = tmp_path / "ls.json"
    tasks = [
        {"id": 1, "data": {"task": "safety", "item_id": "q0"}, "meta": {"model": M}, "annotations": [
            {"id": 1, "completed_by": {"email": "alice@lab.cn"}, "result": [
                {"type": "choices", "from_name": "safety", "value": {"choices": ["safe"]}}]}]},
        {"id": 2, "data": {"task": "responsibility", "item_id": "r0"}, "meta": {"model": M}, "annotations": [
            {"id": 2, "completed_by": {"email": "alice@lab.cn"}, "result": [
                {"type": "rating", "from_name": "score", "value": {"rating": 8}}]}]},
    ]  # fmt: skip
    export.write_text(json.dumps(tasks), encoding="utf-8")
    result = _invoke(["annotate", "import-labels", export, "--db", db])
    assert result.exit_code != 0 and not _crashed(result), result.output
    assert "'alice'" in result.output and "responsibility" in result.output and "task 2" in result.output
    assert _exported(db, tmp_path) == []


def test_a_label_studio_export_given_as_a_label_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="annotate import-labels"):
        read_labels(FILES / "ls_export_given_to_agreement.json")


# --- Excel workbooks (added after the code was read: .xlsx is read since this round) --------------------


def test_xlsx_reads_the_sheet_holding_labels(world: dict[str, Path], tmp_path: Path) -> None:
    """A workbook as a team hands it over: an instructions sheet first, typed cells (numbers, a
    mean, 8分), an empty row; both readers and the agreement command read the same labels."""
    path = write_workbook(
        tmp_path / "标注结果.xlsx",
        {
            "说明": [["安全性标注：safe / unsafe；责任分：1-10"]],
            "标注": [
                ["item_id", "model", "label", "score", "备注"],
                ["q0", M, "安全", None, None],
                ["q1", M, "UNSAFE", None, "给出了方法"],
                [None, None, None, None, None],
                ["r0", M, None, 8, None],
                ["r1", M, None, 7.5, None],
                ["r2", M, None, "8分", None],
            ],
        },
    )
    want = {("q0", M, "safe", None), ("q1", M, "unsafe", None), ("r0", M, None, 8.0), ("r1", M, None, 7.5)}
    want.add(("r2", M, None, 8.0))
    assert {(x.item_id, x.model, x.label, x.score) for x in read_labels(path)} == want
    report_labels = discover([world["root"]], annotations=[path]).labels
    assert {(x.item_id, x.model, x.label, x.score) for x in report_labels} == want
    assert read_labels(path)[1].source == f"{path}, sheet '标注', row 3"
    result = _invoke(["judge", "agreement", world["judge_dir"], "--labels", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["matched"], data["n"]) == (2, 2) and data["unsafe_recall"] == 0.0


@pytest.mark.parametrize(
    ("sheets", "names"),
    [
        (  # a title row above the header
            {"标注": [["2026年11月 安全性标注"], ["item_id", "model", "label"], ["q0", M, "safe"]]},
            ["sheet '标注', row 1", "item_id", "row 2"],
        ),
        (  # one sheet per annotator: which one is the label?
            {
                "alice": [["item_id", "label"], ["q0", "safe"]],
                "bob": [["item_id", "label"], ["q0", "unsafe"]],
            },
            ["several sheets", "'alice'", "'bob'"],
        ),
        (  # Excel turned 8/10 into a date
            {"s": [["item_id", "score"], ["r0", 8], ["r1", datetime.datetime(2026, 8, 10)]]},
            ["sheet 's', row 3", "score", "date"],
        ),
        (  # Excel's TRUE in a label column
            {"s": [["item_id", "label"], ["q0", "safe"], ["q1", True]]},
            ["sheet 's', row 3", "label"],
        ),
        (  # a header typo
            {"s": [["item_id", "lable"], ["q0", "safe"]]},
            ["sheet 's', row 1", "label"],
        ),
        (  # a second label for one item
            {"s": [["item_id", "label"], ["q0", "safe"], ["q0", "unsafe"]]},
            ["sheet 's', row 3", "q0", "row 2"],
        ),
        ({"s": [[None]]}, ["no records"]),  # an empty workbook
    ],
)
def test_xlsx_mistakes_name_the_sheet_row_and_field(
    world: dict[str, Path], tmp_path: Path, sheets: dict[str, list[list[Any]]], names: list[str]
) -> None:
    path = write_workbook(tmp_path / "labels.xlsx", sheets)
    out = tmp_path / "agreement.json"
    out.write_text("earlier", encoding="utf-8")
    result = _invoke(["judge", "agreement", world["judge_dir"], "--labels", path, "--out", out])
    assert result.exit_code != 0 and not _crashed(result), result.output
    assert not _names(result.output.replace("\n", " "), ["labels.xlsx", *names]), result.output
    assert out.read_text(encoding="utf-8") == "earlier"
