"""Excel workbooks written by the tests, sheet by sheet (openpyxl, a core dependency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Save ``path`` with one worksheet per entry of ``sheets`` (title -> rows), in that order."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path
