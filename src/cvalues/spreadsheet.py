"""Cells that a spreadsheet program opens as data, never as a formula (CSV and xlsx exports).

Why: a review sheet or an answer export holds text written by a model or a user (answers, ids), and
Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula, even after leading spaces (OWASP, "CSV Injection"). Every CSV cvalues
writes goes through :func:`csv_cell`, which prefixes such a cell with ``'``; :func:`csv_uncell`
undoes exactly that when cvalues reads its own sheet back. Full-width ``＝＋－＠`` count too: an IME
turns them into their ASCII forms in some spreadsheet programs.

xlsx cells are typed as strings instead (a string cell is never evaluated), but a worksheet cell
holds at most :data:`XLSX_CELL_LIMIT` characters: :func:`xlsx_text` cuts longer text and says so in
the cell, rather than cutting it silently. :func:`read_workbook` reads a workbook back, cells as the
text readers see them, for every reader of a user's sheet (labels, review sheets, replay answers).
"""

from __future__ import annotations

import re
from typing import Any

#: Characters that make a spreadsheet read a cell as a formula (OWASP), with their full-width forms.
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
#: The most characters an xlsx cell can hold (Excel's limit; openpyxl writes more, Excel then repairs).
XLSX_CELL_LIMIT = 32_767
_LEADING_SPACE = re.compile(r"[ \u3000\u00a0\n]*")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet would read ``text`` as a formula (after any leading whitespace)."""
    rest = text[_LEADING_SPACE.match(text).end() :]  # type: ignore[union-attr]
    return bool(text) and (text[:1] in FORMULA_STARTS or rest[:1] in FORMULA_STARTS)


def _needs_quote(text: str) -> bool:
    # text already starting with quotes before a formula is quoted once more, so that reading back
    # (csv_uncell) strips exactly the quote that was added
    return is_formula_like(text.lstrip("'"))


def csv_cell(value: Any) -> Any:
    """``value`` made safe for a CSV cell: a formula-like string gets a leading ``'``; others unchanged."""
    if isinstance(value, str) and _needs_quote(value):
        return "'" + value
    return value


def csv_uncell(text: str) -> str:
    """The inverse of :func:`csv_cell` for a cell read back from a sheet cvalues wrote."""
    if text.startswith("'") and _needs_quote(text[1:]):
        return text[1:]
    return text


def xlsx_text(text: str, *, limit: int = XLSX_CELL_LIMIT) -> tuple[str, bool]:
    """``(cell text, cut)``: ``text`` if it fits in one xlsx cell, else its start and a note saying how
    many characters were left out (the whole cell then still fits ``limit``)."""
    if len(text) <= limit:
        return text, False
    note = f" [... cut: {len(text):,} characters, a spreadsheet cell holds {limit:,}; see the JSONL file]"
    return text[: limit - len(note)] + note, True


class UnreadableWorkbook(ValueError):
    """Not an xlsx workbook openpyxl can read (the message says why; the caller names the file)."""


def workbook_cell(value: Any) -> Any:
    """A worksheet cell as the text readers see it: empty is ``""``, and an integral number stays a
    whole number (an id typed as 1001 is 1001, not 1001.0); anything else as stored."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_workbook(path: Any) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    """``(sheet title, [(row number, cells)])`` for every worksheet, its rows numbered as the sheet
    shows them (from 1), blank rows left out, cells through :func:`workbook_cell`; formulas give their
    cached values, never run."""
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - a core dependency
        raise UnreadableWorkbook("reading .xlsx needs openpyxl; or save the sheet as CSV") from None
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            sheets = [
                (ws.title, [[workbook_cell(v) for v in row] for row in ws.iter_rows(values_only=True)])
                for ws in wb.worksheets
            ]
        finally:
            wb.close()
    except Exception as exc:  # openpyxl raises several types for a broken workbook
        raise UnreadableWorkbook(f"not a readable xlsx workbook ({type(exc).__name__}: {exc})") from None
    return [
        (title, [(i, row) for i, row in enumerate(rows, 1) if any(str(c).strip() for c in row)])
        for title, rows in sheets
    ]
