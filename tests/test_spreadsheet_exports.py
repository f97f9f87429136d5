"""Every CSV and xlsx cvalues writes opens in a spreadsheet as data: no cell runs as a formula (OWASP's
list, after leading whitespace too, ids included), and a text too long for an xlsx cell says it was cut."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cvalues.mc import official
from cvalues.models.base import ChatMessage
from cvalues.runs.store import Answer, RunStore, utc_now
from cvalues.spreadsheet import XLSX_CELL_LIMIT, csv_cell, csv_uncell, is_formula_like

HOSTILE = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '  =HYPERLINK("http://x")', "\u3000＝1", "\n@x"]
HARMLESS = ["回复1更好", "a=b", "1-2", "", "'quoted", "Need_Check"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_cells_are_quoted_and_read_back(text):
    assert is_formula_like(text)
    assert csv_cell(text) == "'" + text and csv_uncell(csv_cell(text)) == text


@pytest.mark.parametrize("text", [*HARMLESS, "'=already quoted", "''@x"])
def test_other_cells_round_trip(text):
    assert csv_uncell(csv_cell(text)) == text
    if text.lstrip("'")[:1] not in "=+-@\t\r" or not text:
        assert csv_cell(text) == text


def _answer(key: str, item_id: str, text: str) -> Answer:
    now = utc_now()
    messages = (ChatMessage("user", "问"),)
    return Answer(key=key, item_id=item_id, kind="generate", model="m", status="ok",
                  messages=messages, started_at=now, finished_at=now, text=text)  # fmt: skip


def test_runs_export_csv_neutralises_answers_and_ids(tmp_path):
    with RunStore(tmp_path / "s.sqlite") as store:
        store.put_many(_answer(f"k{i}", text, text) for i, text in enumerate(HOSTILE + HARMLESS))
        store.export(tmp_path / "a.csv", format="csv")
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row, text in zip(rows, HOSTILE + HARMLESS, strict=True):
        for column in ("item_id", "text"):
            assert not is_formula_like(row[column]), (column, row[column])
            assert csv_uncell(row[column]) == text


def _scored(tmp_path: Path, rows: list[dict]) -> list[official.OfficialRow]:
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return official.score_rows(official.parse_official(src))


def test_review_csv_quotes_ids_and_answers_and_reads_them_back(tmp_path):
    rows = [{"id": text, "response": text + " 嗯", "label": "回复1"} for text in HOSTILE]
    scored = _scored(tmp_path, rows)
    assert all(r.pred == "Need_Check" for r in scored)
    sheet = tmp_path / "r.csv"
    assert official.export_review(scored, sheet) == len(HOSTILE)
    with sheet.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    for row in table:
        assert not is_formula_like(row["id"]) and not is_formula_like(row["response"])
    for row in table:
        row["manual_pred"] = "回复1"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    review = official.read_review(sheet)
    assert [r.item_id for r in review.values()] == [t.strip() for t in HOSTILE]  # cells are stripped
    assert official.apply_review(scored, review, sheet) == len(HOSTILE)


def test_xlsx_says_when_a_cell_was_cut(tmp_path):
    long = "长" * (XLSX_CELL_LIMIT + 5000)
    scored = _scored(tmp_path, [{"id": "x", "response": long, "label": "回复1"},
                                {"id": "y", "response": "短 嗯", "label": "回复2"}])  # fmt: skip
    assert official.export_review(scored, tmp_path / "r.xlsx") == 2
    ws = load_workbook(tmp_path / "r.xlsx").active
    cut, short = ws["C2"].value, ws["C3"].value
    assert len(cut) <= XLSX_CELL_LIMIT and cut.startswith("长" * 1000)
    assert f"{len(long):,} characters" in cut and "cut" in cut
    assert short == "短 嗯"
