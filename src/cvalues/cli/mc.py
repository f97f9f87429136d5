"""`cvalues mc ...`: score official-format answer files, export Need_Check rows, rescore after review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cvalues.cli.judge_extract import extract_for_scored_rows, judge_extract_options
from cvalues.cli.rerun_shortcut import ShortcutGroup

if TYPE_CHECKING:
    from cvalues.mc import metrics as mc_metrics
    from cvalues.mc import official


# `mc run` (cli/mc_run.py) needs the run machinery to build its options: imported when asked for, and
# not at all when its run directory's stamp says that a rerun would change nothing (cvalues.runs.rerun).
@click.group(cls=ShortcutGroup, lazy_commands={"run": "cvalues.cli.mc_run:run"}, shortcut_commands=("run",))
def mc() -> None:
    """Multi-choice evaluation: which of two replies is better (CValues automatic evaluation)."""


def register(cli: click.Group) -> None:
    """Add the ``mc`` group to the root command."""
    cli.add_command(mc)


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "table", "json"]),
    default="text",
    show_default=True,
    help="Print the metrics as a text table (text, or its alias table) or as one JSON object.",
)
bootstrap_option = click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples (over pairs) for the confidence intervals; 0 skips them.",
)
_seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")


def _emit(rows: list[official.OfficialRow], fmt: str, bootstrap: int, seed: int) -> None:
    _print_metrics([r.to_scored() for r in rows], fmt, bootstrap, seed)


def _print_metrics(items: list[mc_metrics.ScoredItem], fmt: str, bootstrap: int, seed: int) -> None:
    from cvalues.mc import metrics as mc_metrics

    _print_report(mc_metrics.compute_metrics(items, resamples=bootstrap, seed=seed), fmt)


def _print_report(report: mc_metrics.MetricsReport, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        click.echo(report.render())


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from None


@mc.command("score")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Scored JSONL to write [default: FILE.scored.jsonl beside the input].",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option(
    "--review-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the Need_Check rows to this .csv or .xlsx for a person to label.",
)
@format_option
@bootstrap_option
@_seed_option
@judge_extract_options
def score(
    file: Path,
    output: Path | None,
    force: bool,
    review_out: Path | None,
    fmt: str,
    bootstrap: int,
    seed: int,
    judge_extract: dict | None,
) -> None:
    """Score FILE (official format: one JSON object per line with `response` and `label`).

    Adds `pred` and `pred_rule` to every line, writes the scored file and prints acc, acc* and the
    counts of Other, Refuse and Need_Check, per category and difficulty when `meta_info` has them.
    """
    from cvalues.mc import official

    output = output or official.default_output(file, ".scored.jsonl")
    try:
        result = official.score_file(file, output, review_out=review_out, force=force)
    except (official.OfficialFormatError, FileExistsError, OSError) as exc:
        _fail(exc)
    if review_out is not None:
        click.echo(f"wrote {result.review_rows} Need_Check answers to {review_out}", err=True)
    click.echo(f"wrote {result.rows} scored answers to {output}", err=True)
    _print_report(result.metrics(resamples=bootstrap, seed=seed), fmt)
    if judge_extract is not None:
        # The judge reads the Need_Check answers of the scored file (read back whole: the judge is
        # the slow part here, and its fields are added to every line of the output).
        try:
            rows = official.parse_official(output, require_pred=True)
        except official.OfficialFormatError as exc:
            _fail(exc)
        extract_for_scored_rows(rows, output, judge_extract, fmt=fmt, bootstrap=bootstrap)


@mc.command("rescore")
@click.argument("scored", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--review",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A filled review sheet (.csv or .xlsx) whose manual_pred column overrides pred.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Rescored JSONL to write [default: SCORED's name with .rescored.jsonl].",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@format_option
@bootstrap_option
@_seed_option
def rescore(
    scored: Path, review: Path | None, output: Path | None, force: bool, fmt: str, bootstrap: int, seed: int
) -> None:
    """Recompute the metrics of a SCORED file, after applying a person's labels from --review.

    Rows the reviewer left empty stay Need_Check. Without --review the metrics of SCORED are printed and
    nothing is written.
    """
    from cvalues.mc import official

    try:
        rows = official.parse_official(scored, require_pred=True)
        if review is not None:
            labels = official.read_review(review)
            n = official.apply_review(rows, labels, review)
            output = output or official.default_output(scored, ".rescored.jsonl")
            if output.resolve() == scored.resolve():
                raise FileExistsError(f"{output} is the input file; give another --output")
            official.write_rows(output, rows, force=force)
            click.echo(f"applied {n} manual labels; wrote {len(rows)} scored answers to {output}", err=True)
    except (official.OfficialFormatError, FileExistsError, OSError) as exc:
        _fail(exc)
    _emit(rows, fmt, bootstrap, seed)
