"""The report a lab can publish: leaderboard, breakdowns, paired tests and plots over finished runs.

``build_report`` reads run directories, judge directories and annotation exports
(:mod:`.inputs`), computes every figure into one JSON document (:mod:`.document`, with the new
formulas in :mod:`.stats`) and :func:`render_report` renders it as ``report.json``, ``report.html``
(one self-contained file), ``report.md`` and CSV tables (:mod:`.views`, :mod:`.plots`);
:func:`write_report` does it all and returns the files. It reads what runs wrote and never asks a
model anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.report.document import ReportOptions, build_document
from cvalues.report.inputs import Inputs, ReportInputError, discover

__all__ = [
    "ReportInputError",
    "ReportOptions",
    "ReportResult",
    "build_document",
    "build_report",
    "discover",
    "render_report",
    "write_report",
]


@dataclass
class ReportResult:
    """What :func:`build_report` wrote: the document and the files, by kind."""

    document: dict[str, Any]
    out_dir: Path
    files: list[Path]


def render_report(document: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Render ``document`` into ``out_dir``: report.html, report.md, report.json (listed first), then
    tables/*.csv, answers/*.csv and plots/*.svg. Every file is made and written to disk before any is
    put in place (:func:`cvalues.atomic.atomic_write_many`): a failure half-way (a full disk, a folder
    where a file goes) leaves an earlier report in ``out_dir`` as it was, never half of each. Once the
    new files are in place, the earlier report's files the new one lacks are removed (nothing else)."""
    from cvalues.atomic import atomic_write_many
    from cvalues.report import plots as plotting
    from cvalues.report import views

    out = Path(out_dir)
    files: dict[Path, bytes] = {}

    def put(rel: str, data: bytes) -> None:
        files[out / rel] = data

    drawn = plotting.report_plots(document)
    plot_files = {}
    for p in drawn:
        rel = f"plots/{p['id']}.svg"
        put(rel, p["svg"].encode("utf-8"))
        plot_files[p["title"]] = rel
    for table in document["tables"]:
        put(f"tables/{table['id']}.csv", views.table_csv(table))
    for set_id in document["evidence"]:
        put(f"answers/{set_id}.csv", views.evidence_csv(document, set_id))
    put("report.json", (json.dumps(document, ensure_ascii=False) + "\n").encode("utf-8"))
    put("report.md", views.to_markdown(document, plot_files).encode("utf-8"))
    put("report.html", views.to_html(document, drawn).encode("utf-8"))
    earlier = _earlier_files(out)
    try:
        atomic_write_many(files)
    except OSError as exc:
        raise ReportInputError(
            f"{exc.filename or out}: cannot write the report ({exc.strerror or exc}); "
            f"nothing in {out} was changed"
        ) from None
    for stale in earlier - set(files):  # an earlier report's tables, answers, plots this one lacks
        stale.unlink(missing_ok=True)
    written = list(files)
    return written[-1:-4:-1] + written[:-3]


def _report_files(document: Mapping[str, Any], out: Path) -> set[Path]:
    """The files :func:`render_report` writes for ``document`` into ``out``."""
    from cvalues.report import plots as plotting

    found = {out / f"tables/{t['id']}.csv" for t in document["tables"]}
    found |= {out / f"answers/{set_id}.csv" for set_id in document["evidence"]}
    found |= {out / f"plots/{p['id']}.svg" for p in plotting.report_plots(document)}
    return found | {out / name for name in ("report.json", "report.md", "report.html")}


def _earlier_files(out: Path) -> set[Path]:
    """The files of the report already in ``out`` (by its report.json), so that a new report leaves
    none of them beside its own; nothing when there is none or it cannot be read."""
    try:
        files = _report_files(json.loads((out / "report.json").read_text(encoding="utf-8")), out)
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    # only plain names inside the report's own folders: an id such as "../x" names nothing to remove
    folders = {out, out / "tables", out / "answers", out / "plots"}
    return {f for f in files if f.parent in folders and "/" not in f.name and not f.name.startswith(".")}


def build_report(
    roots: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    annotations: Sequence[str | os.PathLike[str]] = (),
    options: ReportOptions | None = None,
) -> ReportResult:
    """Read the runs under ``roots`` and the ``annotations`` label files; write the report to ``out_dir``."""
    inputs: Inputs = discover([Path(r) for r in roots], [Path(a) for a in annotations])
    if not inputs.runs and not inputs.labels:
        raise ReportInputError(
            f"no run directories (folders with a manifest.json) under {', '.join(map(str, roots))}"
        )
    document = build_document(inputs, options, sources=[str(r) for r in roots])
    files = render_report(document, out_dir)
    return ReportResult(document, Path(out_dir), files)


def write_report(
    roots: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    annotations: Sequence[str | os.PathLike[str]] = (),
    options: ReportOptions | None = None,
) -> list[Path]:
    """:func:`build_report` for callers that want only the files written (report.html first)."""
    return build_report(roots, out_dir, annotations=annotations, options=options).files
