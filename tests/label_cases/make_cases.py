"""Writes the human-label round: the files under files/ and cases.jsonl (run from the repository root).

The cases were written from the docs and ``--help`` alone (README.md here), before reading the code that
reads label files. Every file is a label file an annotation team could hand over: odd-but-valid ones the
readers must read exactly, and mistakes they must refuse naming the file, the line and the field.

The runs the cases are read against (built by tests/test_label_round.py): one model ``openai:m``, safety
items ``q0``..``q7`` (scenario ``crimes``) and responsibility items ``r0``..``r7`` (domains ``law`` and
``psychology``).

    PYTHONPATH=src python tests/label_cases/make_cases.py
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
M = "openai:m"

#: readers: "agreement" (`cvalues judge agreement --labels`, cvalues.judge.calibration.read_labels),
#: "report" (`cvalues report --annotations`, cvalues.report.discover), "ls" (`cvalues annotate
#: import-labels`, Label Studio's JSON export).
BOTH = ["agreement", "report"]
CASES: list[dict[str, Any]] = []


def case(
    cid: str,
    name: str,
    data: bytes | str,
    *,
    readers: list[str],
    why: str,
    labels: list[list[Any]] | None = None,
    error: list[Any] | None = None,
    encoding: str = "utf-8",
    extra: dict[str, Any] | None = None,
) -> None:
    """``labels``: every label the file must give, ``[item_id, model, label, score]`` (for "ls":
    ``[item_id, annotator, label, score]``); ``error``: what the message must name, each entry a
    string or a list of alternatives (file name, line, field)."""
    assert (labels is None) != (error is None), cid
    raw = data if isinstance(data, bytes) else data.encode(encoding)
    (FILES / name).write_bytes(raw)
    row: dict[str, Any] = {"id": cid, "file": name, "readers": readers, "why": why}
    if labels is not None:
        row["expect"] = "accept"
        row["labels"] = labels
    else:
        row["expect"] = "error"
        row["names"] = error
    if extra:
        row.update(extra)
    CASES.append(row)


def jl(*rows: Any) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def csv_lines(*lines: str, eol: str = "\n") -> str:
    return "".join(line + eol for line in lines)


def ls_task(item: str, task: str, annotations: list[dict[str, Any]], tid: int) -> dict[str, Any]:
    """A task of Label Studio's JSON export, as LS writes it (ids, extra keys, no answer_uid kept)."""
    return {
        "id": tid,
        "data": {"prompt": "问", "answer": "答", "task": task, "item_id": item, "category": "crimes"},
        "meta": {"model": M},
        "annotations": annotations,
        "predictions": [],
        "drafts": [],
        "file_upload": "tasks.json",
        "created_at": "2026-11-20T08:00:00.000000Z",
        "project": 3,
    }


def ls_ann(aid: int, who: str, result: list[dict[str, Any]], cancelled: bool = False) -> dict[str, Any]:
    return {
        "id": aid,
        "completed_by": {"id": aid, "email": f"{who}@lab.example.cn", "first_name": "", "last_name": ""},
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": "2026-11-21T09:00:00.000000Z",
        "lead_time": 12.5,
    }


def choice(*values: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "type": "choices",
        "from_name": "safety",
        "to_name": "answer",
        "origin": "manual",
        "value": {"choices": list(values)},
    }


def rating(value: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "type": "rating",
        "from_name": "score",
        "to_name": "answer",
        "origin": "manual",
        "value": {"rating": value},
    }


def note(text: str) -> dict[str, Any]:
    return {
        "id": "n1",
        "type": "textarea",
        "from_name": "note",
        "to_name": "answer",
        "value": {"text": [text]},
    }


def build() -> None:
    # ---------------------------------------------------------------- valid: encodings and layout
    case(
        "csv-excel-utf8-bom-crlf",
        "excel_utf8_bom.csv",
        "\ufeff"
        + csv_lines("item_id,model,label", f"q0,{M},unsafe", f"q1,{M},安全", f"q2,{M},不安全", eol="\r\n"),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None], ["q2", M, "unsafe", None]],
        why="Excel's 'CSV UTF-8' saves a BOM and CRLF; the BOM must not stick to the header 'item_id'",
    )
    case(
        "csv-gb18030-chinese-windows",
        "excel_gb18030.csv",
        csv_lines("item_id,model,label,备注", f"q0,{M},安全,无", f"q1,{M},不安全,涉及违法", eol="\r\n"),
        encoding="gb18030",
        readers=BOTH,
        labels=[["q0", M, "safe", None], ["q1", M, "unsafe", None]],
        why="Excel on a Chinese Windows saves plain 'CSV' in GBK/GB18030 (docs: UTF-8 or GB18030)",
    )
    case(
        "csv-gbk-scores",
        "excel_gbk_scores.csv",
        csv_lines("item_id,model,score,专家", f"r0,{M},8,王医生", f"r1,{M},3,李律师", eol="\r\n"),
        encoding="gbk",
        readers=BOTH,
        labels=[["r0", M, None, 8.0], ["r1", M, None, 3.0]],
        why="a GBK file (a subset of GB18030) with a Chinese extra column; scores read as numbers",
    )
    case(
        "csv-columns-reordered-extra",
        "reordered.csv",
        csv_lines("annotator,label,note,item_id,model", f"alice,unsafe,教唆,q3,{M}", f"bob,safe,,q4,{M}"),
        readers=BOTH,
        labels=[["q3", M, "unsafe", None], ["q4", M, "safe", None]],
        why="columns are found by their header, in any order, with extra columns ignored",
    )
    case(
        "csv-trailing-empty-lines",
        "trailing_blank.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", f"q1,{M},unsafe", "", "", eol="\r\n"),
        readers=BOTH,
        labels=[["q0", M, "safe", None], ["q1", M, "unsafe", None]],
        why="spreadsheet programs and editors leave empty lines at the end; they hold no label",
    )
    case(
        "csv-trailing-empty-cells",
        "trailing_commas.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", f"q1,{M},unsafe", ",,", ",,", eol="\r\n"),
        readers=BOTH,
        labels=[["q0", M, "safe", None], ["q1", M, "unsafe", None]],
        why="Excel writes ',,' for rows whose cells were cleared; an all-empty row is not a label",
    )
    case(
        "csv-quoted-note-with-newline",
        "quoted_note.csv",
        csv_lines(
            "item_id,model,label,note",
            f'q0,{M},unsafe,"给出了具体步骤,\n应拒绝"',
            f'q1,{M},safe,"礼貌拒绝，""建议报警"""',
        ),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None]],
        why="a quoted cell may hold commas, quotes and a line break (Alt+Enter in Excel)",
    )
    case(
        "csv-label-case-and-spaces",
        "label_variants.csv",
        csv_lines(
            "item_id,model,label",
            f"q0,{M},Safe",
            f"q1,{M},UNSAFE",
            f"q2,{M}, safe ",
            f"q3,{M},安全\u3000",
            f"q4,{M},\u3000不安全",
            f"q5,{M},Unsafe",
        ),
        readers=BOTH,
        labels=[
            ["q0", M, "safe", None],
            ["q1", M, "unsafe", None],
            ["q2", M, "safe", None],
            ["q3", M, "safe", None],
            ["q4", M, "unsafe", None],
            ["q5", M, "unsafe", None],
        ],
        why="annotators type Safe/UNSAFE and leave ASCII or full-width spaces around a cell; same label",
    )
    case(
        "csv-fullwidth-latin-label",
        "fullwidth_label.csv",
        csv_lines("item_id,model,label", f"q0,{M},ｕｎｓａｆｅ", f"q1,{M},Ｓａｆｅ"),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None]],
        why="a Chinese input method left in full-width mode types ｕｎｓａｆｅ: the same word (NFKC)",
    )
    case(
        "csv-item-id-spaces",
        "id_spaces.csv",
        csv_lines("item_id,model,label", f" q0 ,{M},safe", f"q1\u3000,{M},unsafe"),
        readers=BOTH,
        labels=[["q0", M, "safe", None], ["q1", M, "unsafe", None]],
        why="a stray space around an id pasted into a cell is not part of the id",
    )
    case(
        "csv-scores-numeric-forms",
        "scores_forms.csv",
        csv_lines(
            "item_id,model,score",
            f"r0,{M},8",
            f"r1,{M},8.0",
            f"r2,{M}, 10 ",
            f"r3,{M},1",
            f"r4,{M},7.5",
        ),
        readers=BOTH,
        labels=[
            ["r0", M, None, 8.0],
            ["r1", M, None, 8.0],
            ["r2", M, None, 10.0],
            ["r3", M, None, 1.0],
            ["r4", M, None, 7.5],
        ],
        why="scores 1-10 as integers, decimals (a spreadsheet's 8.0) and a mean of experts (7.5, as contract "
        "C's final lines carry); 1 and 10 are inside the scale",
    )
    case(
        "csv-scores-fullwidth",
        "scores_fullwidth.csv",
        csv_lines("item_id,model,score", f"r0,{M},８", f"r1,{M},１０", f"r2,{M},６．５"),
        readers=BOTH,
        labels=[["r0", M, None, 8.0], ["r1", M, None, 10.0], ["r2", M, None, 6.5]],
        why="full-width digits are normal input on a Chinese keyboard (the brief: Chinese-aware)",
    )
    case(
        "csv-scores-chinese-forms",
        "scores_chinese.csv",
        csv_lines("item_id,model,score", f"r0,{M},8分", f"r1,{M},八", f"r2,{M},十分", f"r3,{M},7/10"),
        readers=BOTH,
        labels=[["r0", M, None, 8.0], ["r1", M, None, 8.0], ["r2", M, None, 10.0], ["r3", M, None, 7.0]],
        why="experts write 8分, 八, 十分 or 7/10: each is one score on the 1-10 scale (the judge's score "
        "parser reads the same forms, docs/judge.md)",
    )
    case(
        "csv-both-tasks-one-file",
        "both_tasks.csv",
        csv_lines(
            "item_id,model,label,score",
            f"q0,{M},unsafe,",
            f"q1,{M},安全,",
            f"r0,{M},,9",
            f"r1,{M},,4",
        ),
        readers=BOTH,
        labels=[
            ["q0", M, "unsafe", None],
            ["q1", M, "safe", None],
            ["r0", M, None, 9.0],
            ["r1", M, None, 4.0],
        ],
        why="one team sheet with a label column for safety items and a score column for responsibility",
    )
    case(
        "csv-same-item-two-models",
        "two_models.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", "q0,openai:other,unsafe"),
        readers=["agreement"],
        labels=[["q0", M, "safe", None], ["q0", "openai:other", "unsafe", None]],
        why="one label per (model, item): the same item answered by two models is two labels, "
        "not a duplicate",
    )
    case(
        "csv-no-model-column",
        "no_model.csv",
        csv_lines("item_id,label", "q0,unsafe", "q1,safe"),
        readers=BOTH,
        labels=[["q0", None, "unsafe", None], ["q1", None, "safe", None]],
        why="model is optional (docs: optional when one model has runs of that level)",
    )
    case(
        "tsv-gb18030",
        "labels_gb.tsv",
        csv_lines("item_id\tmodel\tlabel", f"q0\t{M}\t不安全", f"q1\t{M}\t安全", eol="\r\n"),
        encoding="gb18030",
        readers=["report"],
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None]],
        why="docs/report.md: TSV in GB18030 (Excel's 'Text (tab delimited)' on a Chinese Windows)",
    )
    case(
        "jsonl-extra-fields",
        "extra_fields.jsonl",
        jl(
            {"item_id": "q0", "model": M, "label": "unsafe", "annotator": "alice", "note": "教唆", "ts": 1},
            {"item_id": "r0", "model": M, "score": "8", "annotator": "dr-wang", "domain": "law"},
            {"item_id": "r1", "model": M, "score": 6, "label": None},
        ),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["r0", M, None, 8.0], ["r1", M, None, 6.0]],
        why="JSON Lines with extra fields (ignored), a score as a string and an explicit null label",
    )
    case(
        "jsonl-blank-lines-crlf",
        "blank_lines.jsonl",
        "\ufeff"
        + jl({"item_id": "q0", "model": M, "label": "safe"}).replace("\n", "\r\n")
        + "\r\n   \r\n"
        + jl({"item_id": "q1", "model": M, "label": "不安全"}).replace("\n", "\r\n")
        + "\r\n",
        readers=BOTH,
        labels=[["q0", M, "safe", None], ["q1", M, "unsafe", None]],
        why="a BOM, CRLF and blank lines between and after records are layout, not records",
    )
    case(
        "jsonl-gb18030",
        "labels_gb.jsonl",
        jl({"item_id": "q0", "model": M, "label": "不安全"}, {"item_id": "q1", "model": M, "label": "安全"}),
        encoding="gb18030",
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None]],
        why="JSON Lines saved in GB18030 by a Windows editor (docs: UTF-8 or GB18030)",
    )
    case(
        "json-array",
        "labels.json",
        json.dumps(
            [{"item_id": "q0", "model": M, "label": "unsafe"}, {"item_id": "r0", "model": M, "score": 9}],
            ensure_ascii=False,
            indent=2,
        ),
        readers=["report"],
        labels=[["q0", M, "unsafe", None], ["r0", M, None, 9.0]],
        why="docs/report.md: JSON (an array of records) is one of the accepted forms",
    )
    final = [
        {
            "task": "safety",
            "item_id": "q0",
            "model": M,
            "category": "crimes",
            "annotator": "alice",
            "label": "unsafe",
            "score": None,
            "reason_scenario": "crimes",
            "note": None,
            "created_at": "2026-11-30T05:03:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q0",
            "model": M,
            "category": "crimes",
            "annotator": "bob",
            "label": "safe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:04:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q0",
            "model": M,
            "category": "crimes",
            "annotator": "carol",
            "label": "unsafe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:05:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q1",
            "model": M,
            "category": "crimes",
            "annotator": "alice",
            "label": "safe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:06:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q1",
            "model": M,
            "category": "crimes",
            "annotator": "bob",
            "label": "unsafe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:07:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q2",
            "model": M,
            "category": "crimes",
            "annotator": "alice",
            "label": "safe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:08:51.990Z",
            "final": False,
        },
        {
            "task": "safety",
            "item_id": "q2",
            "model": M,
            "category": "crimes",
            "annotator": "bob",
            "label": "unsafe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:09:51.990Z",
            "final": False,
        },
        {
            "task": "responsibility",
            "item_id": "r0",
            "model": M,
            "category": "law",
            "annotator": "dr-wang",
            "label": None,
            "score": 7,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:10:51.990Z",
            "final": False,
        },
        {
            "task": "responsibility",
            "item_id": "r0",
            "model": M,
            "category": "law",
            "annotator": "dr-li",
            "label": None,
            "score": 8,
            "reason_scenario": None,
            "note": None,
            "created_at": "2026-11-30T05:11:51.990Z",
            "final": False,
        },
        # settled: q0 by majority, q1 by the admin's adjudication; q2 is a tie (no final line); r0 mean
        {
            "task": "safety",
            "item_id": "q0",
            "model": M,
            "category": "crimes",
            "annotator": None,
            "label": "unsafe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": None,
            "final": True,
            "adjudicated": False,
            "n_labels": 3,
        },
        {
            "task": "safety",
            "item_id": "q1",
            "model": M,
            "category": "crimes",
            "annotator": None,
            "label": "safe",
            "score": None,
            "reason_scenario": None,
            "note": None,
            "created_at": None,
            "final": True,
            "adjudicated": True,
            "n_labels": 2,
        },
        {
            "task": "responsibility",
            "item_id": "r0",
            "model": M,
            "category": "law",
            "annotator": None,
            "label": None,
            "score": 7.5,
            "reason_scenario": None,
            "note": None,
            "created_at": None,
            "final": True,
            "adjudicated": False,
            "n_labels": 2,
        },
    ]
    case(
        "contract-c-final-several-annotators",
        "export_final.jsonl",
        jl(*final),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None], ["q1", M, "safe", None], ["r0", M, None, 7.5]],
        why="contract C: only the final lines count (q1 adjudicated against a 1-1 split, q2's tie has no "
        "final line and no label, r0's final score is the experts' mean 7.5)",
    )
    # ---------------------------------------------------------------- mistakes: labels
    for cid, value, why in [
        ("label-unsure", "unsure", "an unknown label is refused, never guessed"),
        ("label-partly-safe", "部分安全", "'partly safe' is neither label; the task is binary"),
        ("label-one", "1", "1 could mean safe (the app's key 1) or unsafe (1 = positive class): ambiguous"),
        ("label-zero", "0", "0/1 coding has no agreed direction: ambiguous, refused"),
        ("label-controversial", "有争议", "controversial is a judge's third level, not a human label"),
        ("label-not-safe", "not safe", "two words, not the label 'unsafe'; refused rather than read as safe"),
        ("label-both", "safe/unsafe", "two labels in one cell"),
        ("label-true", "TRUE", "Excel's boolean in a label column has no agreed direction"),
    ]:
        case(
            cid,
            f"{cid}.csv",
            csv_lines("item_id,model,label", f"q0,{M},safe", f"q1,{M},{value}", f"q2,{M},unsafe"),
            readers=BOTH,
            error=[f"{cid}.csv", ":3", "label"],
            why=why,
        )
    # ---------------------------------------------------------------- mistakes: scores
    for cid, value, why in [
        ("score-zero", "0", "0 is outside the 1-10 scale"),
        ("score-eleven", "11", "11 is outside the 1-10 scale"),
        ("score-negative", "-1", "a negative score is outside the scale"),
        ("score-ten-and-half", "10.5", "above 10"),
        ("score-other-scale", "85", "a 100-point score pasted into a 1-10 column"),
        ("score-out-of-five", "3/5", "another scale: not a 1-10 score"),
        ("score-range", "7-8", "a range is two scores, not one"),
        ("score-two-candidates", "七或八", "'7 or 8' is two scores"),
        ("score-nan", "NaN", "not a number; must not slip through as a float"),
        ("score-inf", "inf", "not a score; must not slip through as a float"),
        ("score-word", "good", "a word in a score column"),
    ]:
        case(
            cid,
            f"{cid}.csv",
            csv_lines("item_id,model,score", f"r0,{M},8", f"r1,{M},{value}", f"r2,{M},5"),
            readers=BOTH,
            error=[f"{cid}.csv", ":3", "score"],
            why=why,
        )
    case(
        "score-json-bool",
        "score_bool.jsonl",
        jl({"item_id": "r0", "model": M, "score": 8}, {"item_id": "r1", "model": M, "score": True}),
        readers=BOTH,
        error=["score_bool.jsonl", ":2", "score"],
        why="JSON true is not a score (Python would read it as 1)",
    )
    case(
        "label-json-list",
        "label_list.jsonl",
        jl(
            {"item_id": "q0", "model": M, "label": "safe"}, {"item_id": "q1", "model": M, "label": ["unsafe"]}
        ),
        readers=BOTH,
        error=["label_list.jsonl", ":2", "label"],
        why="a list is not a label",
    )
    case(
        "label-json-number",
        "label_number.jsonl",
        jl({"item_id": "q0", "model": M, "label": "safe"}, {"item_id": "q1", "model": M, "label": 1}),
        readers=BOTH,
        error=["label_number.jsonl", ":2", "label"],
        why="a number in the label field is ambiguous (0/1 coding), refused",
    )
    case(
        "row-label-and-score",
        "label_and_score.csv",
        csv_lines("item_id,model,label,score", f"q0,{M},safe,", f"q1,{M},unsafe,8"),
        readers=BOTH,
        error=["label_and_score.csv", ":3", ["label", "score"]],
        why="a row with both a safety label and a score: which task it is cannot be told",
    )
    case(
        "row-neither",
        "neither.csv",
        csv_lines("item_id,model,label,score", f"q0,{M},safe,", f"q1,{M},,"),
        readers=BOTH,
        error=["neither.csv", ":3", ["label", "score"]],
        why="an item with an id and a model but no label or score: a forgotten cell, not a label",
    )
    case(
        "score-empty-cell",
        "score_empty.csv",
        csv_lines("item_id,model,score", f"r0,{M},8", f"r1,{M},", f"r2,{M},6"),
        readers=BOTH,
        error=["score_empty.csv", ":3", "score"],
        why="a forgotten score cell in a score sheet must not be dropped silently",
    )
    # ---------------------------------------------------------------- mistakes: ids and duplicates
    case(
        "missing-item-id",
        "missing_id.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", f",{M},unsafe"),
        readers=BOTH,
        error=["missing_id.csv", ":3", "item_id"],
        why="a label without an item id cannot be matched",
    )
    case(
        "missing-item-id-jsonl",
        "missing_id.jsonl",
        jl({"item_id": "q0", "model": M, "label": "safe"}, {"model": M, "label": "unsafe"}),
        readers=BOTH,
        error=["missing_id.jsonl", ":2", "item_id"],
        why="a record without item_id",
    )
    case(
        "duplicate-same-item",
        "duplicate.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", f"q1,{M},unsafe", f"q0,{M},unsafe"),
        readers=BOTH,
        error=["duplicate.csv", ":4", "q0", ":2"],
        why="docs: a second label for the same item is an error that names both lines",
    )
    case(
        "duplicate-same-value",
        "duplicate_same.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe", f"q0,{M},safe"),
        readers=BOTH,
        error=["duplicate_same.csv", ":3", "q0"],
        why="docs: one label per (model, item); a pasted-twice row is still a second label (a sheet that "
        "was not the final one)",
    )
    case(
        "duplicate-final-lines",
        "duplicate_final.jsonl",
        jl(
            {
                "task": "safety",
                "item_id": "q0",
                "model": M,
                "annotator": None,
                "label": "safe",
                "score": None,
                "final": True,
                "adjudicated": False,
                "n_labels": 2,
            },
            {
                "task": "safety",
                "item_id": "q0",
                "model": M,
                "annotator": None,
                "label": "unsafe",
                "score": None,
                "final": True,
                "adjudicated": True,
                "n_labels": 2,
            },
        ),
        readers=BOTH,
        error=["duplicate_final.jsonl", ":2", "q0"],
        why="two exports concatenated: two final labels for one (model, item) contradict each other",
    )
    # ---------------------------------------------------------------- mistakes: header and file
    case(
        "header-typo-lable",
        "header_typo.csv",
        csv_lines("item_id,model,lable", f"q0,{M},safe", f"q1,{M},unsafe"),
        readers=BOTH,
        error=["header_typo.csv", "label"],
        why="a misspelt header means no label column: refused naming the column it lacks, not read as empty",
    )
    case(
        "header-item-id-typo",
        "header_itemid.csv",
        csv_lines("itemid,model,label", f"q0,{M},safe"),
        readers=BOTH,
        error=["header_itemid.csv", "item_id"],
        why="no item_id column: the field every label needs",
    )
    case(
        "header-missing",
        "no_header.csv",
        csv_lines(f"q0,{M},safe", f"q1,{M},unsafe"),
        readers=BOTH,
        error=["no_header.csv", "item_id"],
        why="a sheet exported without its header row: the first row is data, there is no item_id column",
    )
    case(
        "empty-file",
        "empty.csv",
        "",
        readers=BOTH,
        error=["empty.csv"],
        why="an empty file holds no labels; a wrong path or a failed export, not zero labels",
    )
    case(
        "header-only",
        "header_only.csv",
        "\ufeffitem_id,model,label\r\n",
        readers=BOTH,
        error=["header_only.csv"],
        why="a header without a row: labels were asked for and none were given",
    )
    buf = FILES / "labels.xlsx"
    with zipfile.ZipFile(buf, "w") as z:
        for member, body in (("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")):
            z.writestr(zipfile.ZipInfo(member, date_time=(2026, 11, 30, 0, 0, 0)), body)  # reproducible
    CASES.append(
        {
            "id": "xlsx-not-supported",
            "file": "labels.xlsx",
            "readers": BOTH,
            "expect": "error",
            "names": ["labels.xlsx"],
            "why": "a .xlsx that is no readable workbook is refused naming the file (written when the docs "
            "listed no .xlsx; since this round .xlsx is read, tests/test_label_round.py)",
        }
    )
    case(
        "utf16-excel-unicode-text",
        "unicode_text.txt",
        "item_id\tmodel\tlabel\r\n" + f"q0\t{M}\t安全\r\n",
        encoding="utf-16",
        readers=BOTH,
        error=["unicode_text.txt"],
        why="Excel's 'Unicode Text' is UTF-16; docs accept UTF-8 or GB18030 only: refused naming the file",
    )
    mixed = csv_lines("item_id,model,label", f"q0,{M},安全", f"q1,{M},安全").encode("utf-8") + (
        f"q2,{M},不安全\n".encode("gb18030")
    )
    case(
        "mixed-encodings",
        "mixed.csv",
        mixed,
        readers=BOTH,
        error=["mixed.csv", [":4", "encod", "UTF-8", "utf-8"]],
        why="a GB18030 row appended to a UTF-8 file: refused (naming the row or the encoding), not read as "
        "mojibake labels",
    )
    case(
        "truncated-jsonl",
        "truncated.jsonl",
        jl({"item_id": "q0", "model": M, "label": "safe"}) + '{"item_id": "q1", "model": "openai:m", "lab',
        readers=BOTH,
        error=["truncated.jsonl", ":2"],
        why="a copy cut mid-record: the last line is not JSON",
    )
    case(
        "truncated-csv",
        "truncated.csv",
        csv_lines("item_id,model,label", f"q0,{M},safe") + f"q1,{M},uns",
        readers=BOTH,
        error=["truncated.csv", ":3", "label"],
        why="a copy cut mid-row: 'uns' is no label",
    )
    case(
        "truncated-csv-quote",
        "truncated_quote.csv",
        csv_lines("item_id,model,label,note", f"q0,{M},safe,ok") + f'q1,{M},unsafe,"没写完',
        readers=BOTH,
        error=["truncated_quote.csv", ":3"],
        why="an unclosed quote at the end of the file swallows the rest: a cut file",
    )
    case(
        "label-studio-to-agreement",
        "ls_export_given_to_agreement.json",
        json.dumps([ls_task("q0", "safety", [ls_ann(1, "alice", [choice("safe")])], 1)], ensure_ascii=False),
        readers=["agreement"],
        error=["ls_export_given_to_agreement.json"],
        why="a Label Studio export is not a label file for agreement (docs: JSONL/CSV); refused naming the "
        "file, not read as zero labels",
    )
    case(
        "jsonl-line-not-object",
        "not_object.jsonl",
        jl({"item_id": "q0", "model": M, "label": "safe"}, ["q1", M, "unsafe"]),
        readers=BOTH,
        error=["not_object.jsonl", ":2"],
        why="a JSON array on a line is not a label record",
    )
    # ---------------------------------------------------------------- Label Studio's export back in
    case(
        "ls-valid-real-export",
        "ls_valid.json",
        json.dumps(
            [
                ls_task(
                    "q0",
                    "safety",
                    [
                        ls_ann(11, "alice", [choice("unsafe"), note("给出了方法")]),
                        ls_ann(12, "bob", [choice("safe")]),
                        ls_ann(13, "carol", [choice("safe")], cancelled=True),
                    ],
                    101,
                ),
                ls_task("q1", "safety", [ls_ann(14, "alice", [choice("safe")])], 102),
                ls_task("r0", "responsibility", [ls_ann(15, "dr-wang", [rating(8), note("很好")])], 103),
                ls_task("r1", "responsibility", [], 104),
            ],
            ensure_ascii=False,
            indent=1,
        ),
        readers=["ls"],
        labels=[
            ["q0", "alice", "unsafe", None],
            ["q0", "bob", "safe", None],
            ["q1", "alice", "safe", None],
            ["r0", "dr-wang", None, 8.0],
        ],
        why="Label Studio's JSON export as LS writes it (ids, completed_by objects, extra keys, no "
        "answer_uid): matched by task + item_id + model; the cancelled annotation and "
        "the unlabelled task add nothing",
    )
    for cid, result, field, why in [
        ("ls-unknown-choice", [choice("unsure")], "choices", "an unknown choice is refused, not guessed"),
        ("ls-two-choices", [choice("safe", "unsafe")], "choices", "two choices in a single-choice field"),
        (
            "ls-rating-eleven",
            [rating(11)],
            "rating",
            "a rating outside 1-10 (a config edited to maxRating 11)",
        ),
        ("ls-rating-zero", [rating(0)], "rating", "a rating of 0 is outside 1-10"),
        ("ls-rating-text", [rating("good")], "rating", "a rating must be a number"),
    ]:
        task = "safety" if field == "choices" else "responsibility"
        item = "q1" if task == "safety" else "r1"
        first = "q0" if task == "safety" else "r0"
        good = [choice("safe")] if task == "safety" else [rating(7)]
        case(
            cid,
            f"{cid}.json",
            json.dumps(
                [
                    ls_task(first, task, [ls_ann(21, "alice", good)], 201),
                    ls_task(item, task, [ls_ann(22, "alice", result)], 202),
                ],
                ensure_ascii=False,
            ),
            readers=["ls"],
            error=[f"{cid}.json", [item, "202", "task 2"], field],
            why=why + "; nothing of the file is imported (the good first task included)",
        )
    case(
        "ls-unknown-item",
        "ls_unknown_item.json",
        json.dumps(
            [
                ls_task("q0", "safety", [ls_ann(31, "alice", [choice("safe")])], 301),
                ls_task("q99", "safety", [ls_ann(32, "alice", [choice("unsafe")])], 302),
            ]
        ),
        readers=["ls"],
        error=["ls_unknown_item.json", "q99"],
        why="a task whose item is not in the project (another project's export): its label would be lost "
        "silently; refused naming the item",
    )
    case(
        "ls-not-an-export",
        "ls_is_csv.json",
        csv_lines("item_id,model,label", f"q0,{M},safe"),
        readers=["ls"],
        error=["ls_is_csv.json"],
        why="a CSV named .json handed to import-labels: refused naming the file",
    )
    case(
        "ls-json-min",
        "ls_json_min.json",
        json.dumps([{"id": 1, "prompt": "问", "answer": "答", "item_id": "q0", "safety": "safe"}]),
        readers=["ls"],
        error=["ls_json_min.json", "annotations"],
        why="Label Studio's JSON-MIN export has no annotations: refused naming what is missing, not read as "
        "nothing",
    )
    case(
        "ls-truncated",
        "ls_truncated.json",
        json.dumps([ls_task("q0", "safety", [ls_ann(41, "alice", [choice("safe")])], 401)], indent=1)[:-40],
        readers=["ls"],
        error=["ls_truncated.json"],
        why="an export cut off mid-file is not JSON",
    )
    # ---------------------------------------------------------------- added after the code was read
    after = {"blind": False}
    case(
        "csv-utf16-named-csv",
        "utf16.csv",
        "item_id,model,label\r\n" + f"q0,{M},安全\r\n",
        encoding="utf-16",
        readers=BOTH,
        error=["utf16.csv", "UTF-16"],
        why="Excel's 'Unicode Text' renamed .csv: UTF-16 is refused saying so, not read as GB18030 mojibake",
        extra=after,
    )
    case(
        "csv-header-case",
        "header_case.csv",
        csv_lines(" Item_ID ,Model,LABEL", f"q0,{M},unsafe"),
        readers=BOTH,
        labels=[["q0", M, "unsafe", None]],
        why="a header typed with capitals or spaces names the same column",
        extra=after,
    )
    case(
        "ls-new-annotator-both-tasks",
        "ls_both_tasks.json",
        json.dumps(
            [
                ls_task("q0", "safety", [ls_ann(51, "dr-zhao", [choice("safe")])], 501),
                ls_task("r0", "responsibility", [ls_ann(52, "dr-zhao", [rating(9)])], 502),
            ]
        ),
        readers=["ls"],
        labels=[["q0", "dr-zhao", "safe", None], ["r0", "dr-zhao", None, 9.0]],
        why="an annotator new to the store labels both tasks: created as an expert (who labels both), not "
        "as an annotator refused halfway through the file",
        extra=after,
    )


def main() -> None:
    FILES.mkdir(parents=True, exist_ok=True)
    for old in FILES.iterdir():
        old.unlink()
    build()
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    (HERE / "cases.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CASES), encoding="utf-8"
    )
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
