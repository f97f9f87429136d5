"""`cvalues report`: the leaderboard, breakdowns, paired tests and plots of finished runs, as files.

Thin click code over :mod:`cvalues.report`, imported when the command runs (the library pulls in
numpy, scipy, matplotlib and jinja2, which ``cvalues --help`` must not load).
"""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    """Add ``report`` to the root command."""
    cli.add_command(report)


@click.command()
@click.argument(
    "out_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--out",
    "report_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the report is written to (report.html, report.md, report.json, tables/, answers/, plots/).",
)
@click.option(
    "--annotations",
    "annotation_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Human labels: a `cvalues annotate export` JSONL, or a JSONL/JSON/CSV/TSV/XLSX with item_id, model, "
    "label or score (repeatable). OUT_DIR/annotations.jsonl is read without asking.",
)
@click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the intervals and paired tests (0: no intervals).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--title", default="CValues report", show_default=True, help="Title of the report.")
def report(
    out_dirs: tuple[Path, ...],
    report_dir: Path,
    annotation_files: tuple[Path, ...],
    resamples: int,
    seed: int,
    title: str,
) -> None:
    """Write the report of the runs under OUT_DIR... (found by their manifests, any depth up to 4).

    Reads multi-choice runs (`mc run`), generation runs (`generate`), judge directories (`judge run`)
    and annotation exports; asks no model. The leaderboard shows per model the multi-choice acc/acc*,
    pair-consistent accuracy, Refuse and Need_Check rates, and the safety and responsibility scores
    (human where annotated, else the judge's), each with a 95% bootstrap interval and its count.
    """
    from cvalues.report import ReportInputError, ReportOptions, build_report

    options = ReportOptions(resamples=resamples, seed=seed, title=title)
    try:
        result = build_report(out_dirs, report_dir, annotations=annotation_files, options=options)
    except ReportInputError as exc:
        raise click.ClickException(str(exc)) from exc
    doc = result.document
    click.echo(
        f"{len(doc['runs'])} runs, {len(doc['models'])} model(s), {len(doc['evidence'])} answer sets "
        f"-> {report_dir / 'report.html'} (and report.md, report.json, {len(result.files) - 3} tables, "
        "answers and plots)"
    )
    for warning in doc["warnings"]:
        click.echo(f"warning: {warning}", err=True)
