"""People's label files, read one way wherever they enter: `judge agreement --labels` and the report.

An annotation team hands over an export of the annotation app (contract C, docs/annotate.md) or a sheet
of its own: JSONL, JSON, CSV or TSV in UTF-8 (BOM or not) or GB18030, read by the data layer's table
reader, or an Excel workbook (.xlsx: the one sheet whose first row names ``item_id``). Each settled
label is one :class:`HumanLabel`. What a cell may say is decided here once:

* a label is ``safe``/``unsafe``/``安全``/``不安全`` in any case, full-width letters or spaces around it;
  anything else (``1``, ``0``, ``unsure``, ``部分安全``, ``有争议``) is refused, never guessed;
* a score is one number from 1 to 10 in the forms the judge's score parser reads (``8``, ``8.0``, ``７.５``,
  ``8分``, ``八``, ``7/10``); ``0``, ``11``, ``3/5``, ``7-8``, ``NaN``, JSON ``true`` are refused;
* a row gives a label or a score, not both; an all-empty row (a spreadsheet's ``,,``) is layout.

A mistake is a :class:`LabelFileError` naming the file, the line and the field.
"""

from __future__ import annotations

import datetime
import math
import os
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.data.errors import DataError
from cvalues.data.readers import iter_table, no_records_error
from cvalues.judge.rubrics import SAFETY_LABELS, VerdictParseError, parse_score
from cvalues.spreadsheet import UnreadableWorkbook, read_workbook

TASKS = ("safety", "responsibility")
#: Formats whose rows share one header: a missing column is named once, on the header line.
_TABLE_SUFFIXES = (".csv", ".tsv")


class LabelFileError(ValueError):
    """A label file is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class HumanLabel:
    """One settled human label for a (model, item): a safety label or a responsibility score."""

    task: str
    item_id: str
    model: str | None
    category: str | None
    label: str | None
    score: float | None
    n_labels: int | None
    adjudicated: bool | None
    note: str | None
    source: str  # file:line


def flag(value: Any) -> bool | None:
    """A JSON boolean, or its CSV spelling (True/true/1, False/false/0); None when absent."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold() if value is not None else ""
    return True if text in ("true", "1", "yes") else False if text in ("false", "0", "no") else None


def _text(value: Any) -> str:
    """A cell as text: NFKC (full-width letters, digits and spaces to their plain forms), stripped."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def human_label(value: Any, where: str) -> str | None:
    """``safe`` or ``unsafe`` from a label cell (None when empty)."""
    if value is None or (isinstance(value, str) and not _text(value)):
        return None
    label = SAFETY_LABELS.get(_text(value).casefold()) if isinstance(value, str) else None
    if label is None:
        raise LabelFileError(
            f"{where}: field 'label' must be safe or unsafe, got {value!r} (安全 and 不安全 are read too)"
        )
    return label


def human_score(value: Any, where: str) -> float | None:
    """A 1-10 score from a score cell (None when empty)."""
    if value is None or (isinstance(value, str) and not _text(value)):
        return None
    if isinstance(value, datetime.date | datetime.time):
        raise LabelFileError(
            f"{where}: field 'score' is a date or time, got {value!r} (a spreadsheet read something like "
            "'8/10' as a date): format the column as text or write the score as a number"
        )
    try:
        return parse_score(_text(value) if isinstance(value, str) else value)
    except VerdictParseError:
        pass
    number = None
    if not isinstance(value, bool):
        try:
            number = float(_text(value)) if isinstance(value, str | int | float) else None
        except ValueError:
            number = None
    if number is not None and math.isfinite(number):
        raise LabelFileError(f"{where}: field 'score' must be between 1 and 10, got {value!r}")
    raise LabelFileError(f"{where}: field 'score' must be a number from 1 to 10, got {value!r}")


class _Rows(list[tuple[int, dict[str, Any]]]):
    """A label file's rows and how a row is named in a message (``file:line``, or a sheet's row)."""

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        super().__init__()
        self.path, self.sheet = path, sheet
        self.unit = "line" if sheet is None else "row"

    def where(self, n: int) -> str:
        return f"{self.path}:{n}" if self.sheet is None else f"{self.path}, sheet {self.sheet!r}, row {n}"


def _header_check(rows: _Rows, header: Sequence[Any], n: int) -> None:
    columns = {str(c).strip().casefold() for c in header}
    shown = ", ".join(repr(str(c)) for c in header)
    if "item_id" not in columns:
        raise LabelFileError(f"{rows.where(n)}: field 'item_id': no such column (the header is {shown})")
    if not columns & {"label", "score"}:
        raise LabelFileError(
            f"{rows.where(n)}: field 'label': no 'label' or 'score' column (the header is {shown})"
        )


def _xlsx_rows(path: Path) -> _Rows:
    """The rows of the one worksheet whose header (its first non-empty row) names ``item_id``."""
    try:
        sheets = read_workbook(path)
    except UnreadableWorkbook as exc:
        raise LabelFileError(f"{path}: {exc}") from None
    filled = [(title, rows) for title, rows in sheets if rows]
    if not filled:
        raise LabelFileError(f"{path}: no records: the workbook's sheets are empty")
    labelled = [
        (t, rows) for t, rows in filled if "item_id" in {str(c).strip().casefold() for c in rows[0][1]}
    ]
    if len(labelled) > 1:
        names = ", ".join(repr(t) for t, _ in labelled)
        raise LabelFileError(
            f"{path}: several sheets hold labels ({names}); keep one in the workbook, or save it as CSV"
        )
    title, table = labelled[0] if labelled else filled[0]
    out = _Rows(path, title)
    (n, header), body = table[0], table[1:]
    if not labelled:
        later = next((i for i, r in body if "item_id" in {str(c).strip().casefold() for c in r}), None)
        if later is not None:
            raise LabelFileError(
                f"{out.where(n)}: field 'item_id': the header must be the sheet's first row, and row {later} "
                "looks like it: delete the rows above it"
            )
    _header_check(out, header, n)
    names = [str(c).strip() for c in header]
    for i, cells in body:
        out.append((i, {h: cells[k] if k < len(cells) else "" for k, h in enumerate(names) if h}))
    return out


def _rows(path: Path, *, allow_empty: bool = False) -> _Rows:
    if path.suffix.lower() == ".xlsx":
        raw = _xlsx_rows(path)
    else:
        raw = _Rows(path)
        try:
            raw.extend(iter_table(path))
        except DataError as exc:
            raise LabelFileError(str(exc)) from None
    out = _Rows(path, raw.sheet)
    for n, row in raw:
        if not isinstance(row, Mapping):
            raise LabelFileError(
                f"{out.where(n)}: a label is an object with item_id, got {type(row).__name__}"
            )
        if "annotations" in row and isinstance(row.get("data"), Mapping):
            raise LabelFileError(
                f"{out.where(n)}: a Label Studio export, not a label file: read it into the project with "
                "`cvalues annotate import-labels`, then use `cvalues annotate export --format jsonl`"
            )
        clean = {str(k).strip().casefold(): v.strip() if isinstance(v, str) else v for k, v in row.items()}
        if all(v in (None, "") for v in clean.values()):
            continue  # a spreadsheet's row of cleared cells
        out.append((n, clean))
    if not out:
        if allow_empty:
            return out
        raise LabelFileError(str(no_records_error(path)))
    if path.suffix.lower() in _TABLE_SUFFIXES:
        _header_check(out, list(out[0][1]), 1)
    return out


def read_labels(
    path: str | os.PathLike[str], *, task: str | None = None, allow_empty: bool = False
) -> list[HumanLabel]:
    """The settled human labels of an annotation export (contract C) or a plain label file.

    With ``"final": true`` lines present only those are read (one per model and item; a final line
    without a label, a tie left open, says nothing); otherwise each line is one label (``item_id``,
    ``model`` optional, ``label`` or ``score``) and a second label for the same (model, item) is an
    error naming both lines. ``task`` keeps the lines of one task (lines without a task stay). A file
    without a row is an error (a wrong path or a failed export), unless ``allow_empty`` (an export of
    a store nobody has labelled yet, found rather than named).
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found")
    table = _rows(path, allow_empty=allow_empty)
    rows: list[tuple[int, dict[str, Any]]] = list(table)
    if task is not None:
        rows = [(n, r) for n, r in rows if r.get("task") in (None, "", task)]
    finals = [(n, r) for n, r in rows if flag(r.get("final"))]
    contract_c = bool(finals)
    out: list[HumanLabel] = []
    seen: dict[tuple[str | None, str, str], int] = {}
    for lineno, row in finals or rows:
        where = table.where(lineno)
        item_id = row.get("item_id")
        if item_id is None or isinstance(item_id, bool | dict | list) or not _text(item_id):
            raise LabelFileError(f"{where}: field 'item_id' is missing")
        item_id = str(item_id).strip()
        label = human_label(row.get("label"), where)
        score = human_score(row.get("score"), where)
        if label is not None and score is not None:
            raise LabelFileError(
                f"{where}: field 'score': a row gives a safety label or a responsibility score, not both"
            )
        given = row.get("task") or None
        if given is not None and given not in TASKS:
            raise LabelFileError(f"{where}: field 'task' must be safety or responsibility, got {given!r}")
        if label is None and score is None:
            if contract_c or "annotator" in row:
                continue  # a settled item without a label (a tie left open), or an annotator's skip
            raise LabelFileError(f"{where}: field 'label': neither 'label' nor 'score' is set")
        kind = "safety" if label is not None else "responsibility"
        if given is not None and given != kind:
            field = "label" if label is not None else "score"
            raise LabelFileError(f"{where}: field {field!r}: a {given} line gives a {kind} {field}")
        model = _text(row["model"]) if row.get("model") not in (None, "") else None
        key = (model, item_id, kind)
        if key in seen:
            raise LabelFileError(
                f"{where}: field 'item_id': a second label for item {item_id!r}"
                f"{f' of model {model!r}' if model else ''} (first on {table.unit} {seen[key]}); "
                "give one label per item, or contract C's final lines"
            )
        seen[key] = lineno
        n_labels = row.get("n_labels")
        out.append(
            HumanLabel(
                task=kind,
                item_id=item_id,
                model=model,
                category=row.get("category") or None,
                label=label,
                score=score,
                n_labels=int(n_labels) if str(n_labels or "").strip().isdigit() else None,
                adjudicated=flag(row.get("adjudicated")),
                note=row.get("note") or None,
                source=where,
            )
        )
    return out
