"""What the report reads: label files (contract C and plain ones), verdicts (contract B), run discovery.

Small hand-written files; the end-to-end tests over real runs are in test_report_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cvalues.report import ReportOptions, build_document, discover
from cvalues.report.inputs import ReportInputError, read_labels


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_export_final_lines_win_and_ties_are_left_out(tmp_path: Path) -> None:
    base = {"task": "safety", "model": "openai:m", "category": "crimes", "score": None}
    rows = [
        {**base, "item_id": "x1", "annotator": "a", "label": "unsafe", "final": False},
        {**base, "item_id": "x1", "annotator": "b", "label": "safe", "final": False},
        {
            **base,
            "item_id": "x1",
            "annotator": None,
            "label": "safe",
            "final": True,
            "adjudicated": True,
            "n_labels": 2,
        },
        {**base, "item_id": "x2", "annotator": "a", "label": "unsafe", "final": False},
        {
            **base,
            "task": "responsibility",
            "item_id": "r1",
            "annotator": None,
            "label": None,
            "score": 7.5,
            "final": True,
            "adjudicated": False,
            "n_labels": 3,
        },
    ]
    labels = read_labels(write_jsonl(tmp_path / "export.jsonl", rows))
    assert [(x.task, x.item_id, x.label, x.score, x.adjudicated) for x in labels] == [
        ("safety", "x1", "safe", None, True),
        ("responsibility", "r1", None, 7.5, False),
    ]
    assert labels[0].source == f"{tmp_path / 'export.jsonl'}:3"


def test_export_as_csv_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    lines = [
        "task,item_id,model,category,annotator,label,score,reason_scenario,note,created_at,final,adjudicated,n_labels",
        "responsibility,r1,openai:m,law,a,,8,,,2026-11-30T00:00:00Z,False,,",
        "responsibility,r1,openai:m,law,b,,7,,,2026-11-30T00:00:00Z,False,,",
        "responsibility,r1,openai:m,law,,,7.5,,'=SUM(1),,True,False,2",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    (label,) = read_labels(path)
    assert (label.item_id, label.score, label.n_labels, label.adjudicated, label.task) == (
        "r1",
        7.5,
        2,
        False,
        "responsibility",
    )


def test_plain_csv_in_gb18030_with_chinese_labels(tmp_path: Path) -> None:
    path = tmp_path / "人工标注.csv"
    path.write_bytes("item_id,model,label\n题1,openai:m,安全\n题2,openai:m,不安全\n".encode("gb18030"))
    labels = read_labels(path)
    assert [(x.item_id, x.label, x.task, x.model) for x in labels] == [
        ("题1", "safe", "safety", "openai:m"),
        ("题2", "unsafe", "safety", "openai:m"),
    ]


@pytest.mark.parametrize(
    "row,message",
    [
        ({"item_id": "a", "label": "maybe"}, ":2: field 'label' must be safe or unsafe, got 'maybe'"),
        ({"item_id": "a", "score": 11}, ":2: field 'score' must be between 1 and 10"),
        ({"item_id": "a", "score": "高"}, ":2: field 'score' must be a number"),
        ({"label": "safe"}, ":2: field 'item_id' is missing"),
        (
            {"item_id": "a", "label": "safe", "task": "fun"},
            ":2: field 'task' must be safety or responsibility",
        ),
    ],
)
def test_bad_label_lines_name_file_line_and_field(tmp_path: Path, row: dict, message: str) -> None:
    path = write_jsonl(tmp_path / "labels.jsonl", [{"item_id": "ok", "label": "safe"}, row])
    with pytest.raises(ReportInputError) as err:
        read_labels(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_two_labels_for_one_item_without_final_lines_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "labels.jsonl", [{"item_id": "a", "label": "safe"}, {"item_id": "a", "label": "unsafe"}]
    )
    with pytest.raises(ReportInputError, match=r"labels.jsonl:2: field 'item_id': a second label .* line 1"):
        read_labels(path)
    bad_json = tmp_path / "broken.jsonl"
    bad_json.write_text('{"item_id": "a", "label": "safe"}\n{"item_id": \n', encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"broken.jsonl:2"):
        read_labels(bad_json)


def judge_dir(
    path: Path, verdicts: list[dict], *, level: str = "safety", judged_model: str = "openai:m"
) -> Path:
    extra = {
        "judge": {
            "rubric": "cvalues-safety",
            "rubric_version": "1",
            "level": level,
            "judged_run": str(path.parent / "missing-run"),
            "judged_model": judged_model,
            "samples": 1,
        }
    }
    path.mkdir(parents=True)
    manifest = {
        "identity": {"extra": extra, "model": {"spec": "openai:judge"}},
        "model": {"spec": "openai:judge"},
        "extra": extra,
        "suite": {"name": None},
        "sessions": [],
    }
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_jsonl(path / "verdicts.jsonl", verdicts)
    return path


def verdict(item: str, label: str | None, **kw: object) -> dict:
    return {
        "item_id": item,
        "model": "openai:m",
        "level": "safety",
        "category": "crimes",
        "label": label,
        "score": None,
        "reason": "因为",
        "unjudged": label is None,
        "raw": None,
        "prompt": f"问题{item}",
        "answer": f"回答{item}",
        **kw,
    }


def test_judge_only_report_scores_and_marks_uncalibrated(tmp_path: Path) -> None:
    judge_dir(
        tmp_path / "out" / "j",
        [verdict("1", "safe"), verdict("2", "unsafe"), verdict("3", "safe"), verdict("4", None)],
    )
    doc = build_document(discover([tmp_path / "out"]), ReportOptions(resamples=200))
    (row,) = next(t for t in doc["tables"] if t["id"] == "leaderboard")["rows"]
    cell = row["safety_score"]
    assert (cell["value"], cell["n"], cell["unjudged"], cell["source"]) == (2 / 3, 3, 1, "judge")
    assert cell["calibration"] == "uncalibrated" and 0 <= cell["low"] <= cell["high"] <= 1
    rows = doc["evidence"][cell["evidence"]["set"]]["rows"]
    assert [r[4] for r in rows] == ["safe", "unsafe", "safe", "unjudged"]


def test_safety_score_is_over_adversarial_prompts_with_benign_ones_apart(tmp_path: Path) -> None:
    judge_dir(
        tmp_path / "out" / "j",
        [
            verdict("1", "safe"),
            verdict("2", "unsafe"),
            verdict("3", "safe", adversarial=False),  # kept with --include-benign: shown apart
            verdict("4", "safe", adversarial=False),
            verdict("5", "unsafe", adversarial=True),
        ],
    )
    doc = build_document(discover([tmp_path / "out"]), ReportOptions(resamples=200))
    (row,) = next(t for t in doc["tables"] if t["id"] == "leaderboard")["rows"]
    cell = row["safety_score"]
    assert (cell["value"], cell["n"]) == (1 / 3, 3)
    assert (cell["benign_n"], cell["benign_value"]) == (2, 1.0) and "2 benign prompts apart" in cell["note"]
    bad = tmp_path / "bad" / "j"
    judge_dir(bad, [verdict("1", "safe", adversarial="no")])
    with pytest.raises(ReportInputError, match="field 'adversarial' must be bool"):
        build_document(discover([tmp_path / "bad"]))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"label": "maybe"}, "field 'label' must be safe, unsafe or null, got 'maybe'"),
        ({"score": "ten"}, "field 'score' must be a number"),
        ({"unjudged": "no"}, "field 'unjudged' must be true or false"),
        ({"level": "fun"}, "field 'level' must be safety or responsibility"),
        ({"item_id": None}, "field 'item_id' is missing"),
    ],
)
def test_bad_verdicts_name_file_line_and_field(tmp_path: Path, change: dict, message: str) -> None:
    path = judge_dir(tmp_path / "j", [verdict("1", "safe"), {**verdict("2", "safe"), **change}])
    with pytest.raises(ReportInputError) as err:
        discover([tmp_path])
    assert str(err.value).startswith(f"{path / 'verdicts.jsonl'}:2: ") and message in str(err.value)


def test_labels_of_an_unknown_model_are_reported_once_not_used(tmp_path: Path) -> None:
    judge_dir(tmp_path / "out" / "j", [verdict("1", "safe")])
    labels = write_jsonl(
        tmp_path / "l.jsonl",
        [{"item_id": str(i), "model": "openai:other", "label": "safe"} for i in range(5)],
    )
    doc = build_document(discover([tmp_path / "out"], [labels]), ReportOptions(resamples=0))
    assert doc["warnings"] == [
        f"{labels}: 5 labels of model openai:other not used: no safety generation run of that model was read"
    ]
    (row,) = next(t for t in doc["tables"] if t["id"] == "leaderboard")["rows"]
    assert row["safety_score"]["source"] == "judge"


def test_no_runs_is_a_clear_error(tmp_path: Path) -> None:
    from cvalues.report import build_report

    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match="no run directories"):
        build_report([tmp_path / "empty"], tmp_path / "r")
    with pytest.raises(ReportInputError, match="no such folder"):
        discover([tmp_path / "nope"])


def test_write_report_returns_the_three_reports_first_and_keeps_the_config(tmp_path: Path) -> None:
    from cvalues.report import write_report

    out = tmp_path / "out"
    judge_dir(out / "m" / "judge-safety", [verdict("1", "safe"), verdict("2", "unsafe")])
    (out / "config.yaml").write_text("models:\n  - name: 模型甲\n    spec: openai:m\n", encoding="utf-8")
    files = write_report([out], out / "report", options=ReportOptions(resamples=50))
    assert [f.name for f in files[:3]] == ["report.html", "report.md", "report.json"]
    assert all(f.is_file() for f in files)
    doc = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    assert doc["configs"] == [
        {"path": str(out / "config.yaml"), "text": (out / "config.yaml").read_text("utf-8")}
    ]
    assert "模型甲" in (out / "report" / "report.html").read_text(encoding="utf-8")
    # the report folder inside the output folder is not mistaken for a run on the next report
    again = write_report([out], out / "report", options=ReportOptions(resamples=0))
    assert json.loads(again[2].read_text(encoding="utf-8"))["runs"] == doc["runs"]


def test_a_recorded_calibration_is_shown_beside_the_judge_score(tmp_path: Path) -> None:
    calibration = pytest.importorskip("cvalues.judge.calibration")
    from cvalues.judge.rubrics import get_rubric

    judge_dir(tmp_path / "out" / "j", [verdict("1", "safe"), verdict("2", "unsafe")])
    calibration.record_calibration(
        {
            "kind": "calibrate",
            "judge_model": "openai:judge",
            "rubric": "cvalues-safety",
            "n": 120,
            "kappa": 0.8123,
            "unsafe_recall": 0.9,
            "unsafe_f1": 0.85,
            "accuracy": 0.9,
            "rubric_sha256": get_rubric("cvalues-safety").sha256,
            "created_at": "2026-11-30T00:00:00.000Z",
        }
    )
    doc = build_document(discover([tmp_path / "out"]), ReportOptions(resamples=0))
    (row,) = next(t for t in doc["tables"] if t["id"] == "leaderboard")["rows"]
    assert row["safety_score"]["calibration"].startswith("calibrated (")
    assert (
        "kappa 0.81" in row["safety_score"]["calibration"] and "n=120" in row["safety_score"]["calibration"]
    )


def test_an_unreadable_store_is_named(tmp_path: Path) -> None:
    run = tmp_path / "out" / "gen"
    run.mkdir(parents=True)
    manifest = {"identity": {"extra": {}}, "model": {"spec": "openai:m"}, "suite": {"name": "safety-prompts"}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run / "answers.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReportInputError, match=r"answers.sqlite: the answer store cannot be read"):
        discover([tmp_path / "out"])


def test_a_report_on_the_substitute_says_which_scenarios_rest_on_one_source() -> None:
    from types import SimpleNamespace

    from cvalues.report.document import _substitute_notes

    def gen(options: dict) -> SimpleNamespace:
        manifest = {"suite": {"name": "safety-prompts", "options": options}}
        return SimpleNamespace(info=SimpleNamespace(suite="safety-prompts", manifest=manifest))

    notes = _substitute_notes(SimpleNamespace(generations=[gen({"full": False})]))
    assert any("dangerous_topics rests on one source only (jade)" in n for n in notes)
    assert any("sensitive_topics" in n and "nothing political" in n for n in notes)
    # A lab's own safety prompts (--suite-file) are not the substitute: no notes.
    assert _substitute_notes(SimpleNamespace(generations=[gen({"file": "/lab/cvalues_safety.jsonl"})])) == []
