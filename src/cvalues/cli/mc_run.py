"""`cvalues mc run`: the multi-choice evaluation of a model, end to end (ask, read, score, write)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from cvalues.cli.checks import check_before_work
from cvalues.cli.data import load_suite_from_options, reports_data_errors, suite_options, take_sampling
from cvalues.cli.judge_extract import extract_for_run_dir, judge_extract_options
from cvalues.cli.mc import bootstrap_option, format_option
from cvalues.cli.model_options import load_model_from_options, run_dir_options, with_model_options
from cvalues.cli.rerun_shortcut import finish_recording, start_recording
from cvalues.cli.run_control import run_until_signal
from cvalues.cli.runs import SHOWN_CAUSES, cause_line, sample_note, withheld_line
from cvalues.mc.options import (
    DEFAULT_OPTION_TEMPLATE,
    OPTION_TEMPLATES,
    OptionRunResult,
    get_option_template,
    run_options_async,
)
from cvalues.mc.runner import MODES, MCRunOptions, MCRunResult, run_mc_async
from cvalues.mc.templates import DEFAULT_TEMPLATE, TEMPLATES, get_template
from cvalues.models.base import GenerationSettings

# No ``register``: the ``mc`` group (cli/mc.py) imports this module when ``mc run`` is asked for.


@click.command("run")
@with_model_options
@suite_options
@run_dir_options
@click.option(
    "--mode",
    type=click.Choice([*MODES, "both"]),
    default="generate",
    show_default=True,
    help="generate: free-text answer, parsed; logprob: P(回复1) vs P(回复2); both: and compare them.",
)
@click.option(
    "--template",
    type=click.Choice(sorted({*TEMPLATES, *OPTION_TEMPLATES})),
    default=None,
    help=f"Prompt template for items that ship no prompt text of their own [two-reply suites: "
    f"{DEFAULT_TEMPLATE}; option suites such as safetybench-zh: {DEFAULT_OPTION_TEMPLATE}].",
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="Only the first N pairs (option suites: items)."
)
@bootstrap_option
@click.option(
    "--review-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="generate mode: write the Need_Check answers to a .csv/.xlsx sheet for a person; apply it with "
    "`cvalues mc rescore RUN_DIR/mc-generate-predictions.jsonl --review SHEET`.",
)
@format_option
@judge_extract_options
@reports_data_errors
def run(
    model_kwargs: dict[str, Any],
    settings: GenerationSettings,
    run_dir: Path,
    mode: str,
    template: str | None,
    limit: int | None,
    retry_errors: bool,
    bootstrap: int,
    review_out: Path | None,
    fmt: str,
    no_progress: bool,
    judge_extract: dict[str, Any] | None,
    **suite_kwargs: Any,
) -> None:
    """Ask a model which of two replies is better, in both orders of every pair, and score it.

    --sample N and --limit N count pairs (both orders of a chosen pair are always asked); --sample is
    a seeded choice (--seed). Results go to RUN_DIR: answers.sqlite, manifest.json,
    mc-<mode>-predictions.jsonl, mc-<mode>-metrics.json (and mc-disagreements.jsonl for --mode both).
    """
    if review_out is not None:  # checked before asking anything
        _check_review_out(review_out, mode)
    check_before_work(model_kwargs, suite_kwargs)
    requested_sample = suite_kwargs.get("sample")
    sample, seed = take_sampling(suite_kwargs)  # pairs (or option items) are sampled here, not by the suite
    suite = load_suite_from_options(**suite_kwargs)
    if suite.kind not in ("mc", "option"):
        raise click.UsageError(
            f"suite {suite.name!r} holds {suite.kind} items; `cvalues mc run` needs two-reply multi-choice "
            "suites (responsibility-mc, safety-mc, cvalues-comparison or a file of that form) or option "
            "suites (safetybench-zh)"
        )
    known = TEMPLATES if suite.kind == "mc" else OPTION_TEMPLATES
    if template is not None and template not in known:
        raise click.UsageError(
            f"--template {template} is not for {suite.kind} items; use one of {sorted(known)}"
        )
    if review_out is not None and suite.kind == "option":
        raise click.UsageError("--review-out is for two-reply suites (the official review workflow)")
    note = None
    if requested_sample is not None:
        records = list(suite.records())
        if suite.kind == "mc":  # --sample counts pairs there
            pairs = len({getattr(r, "pair_id", None) for r in records})
            note = sample_note(requested_sample, pairs, "pairs", suite.name)
        else:
            note = sample_note(requested_sample, len(records), "items", suite.name)
        if note:
            click.echo(note, err=True)
    # a sheet for a person or a judge's reading is work of its own: such runs are not stamped
    recording = start_recording(suite, model_kwargs) if review_out is None and judge_extract is None else None
    model = load_model_from_options(**model_kwargs)
    modes = MODES if mode == "both" else (mode,)
    session = {"argv": sys.argv[1:]}

    async def go() -> MCRunResult | OptionRunResult:
        common: dict[str, Any] = {
            "settings": settings,
            "concurrency": model_kwargs.get("concurrency"),
            "retry_errors": retry_errors,
            "progress": not no_progress,
            "limit": limit,
            "sample": sample,
            "seed": seed,
            "resamples": bootstrap,
        }
        try:
            if suite.kind == "option":
                template_ = get_option_template(template or DEFAULT_OPTION_TEMPLATE)
                return await run_options_async(
                    model, suite, run_dir, template=template_, modes=modes, session_options=session, **common
                )
            template_mc = get_template(template or DEFAULT_TEMPLATE)
            options = MCRunOptions(template=template_mc, modes=modes, **common)  # type: ignore[arg-type]
            return await run_mc_async(model, suite, run_dir, options, session_options=session)
        finally:
            await model.aclose()

    try:
        result = run_until_signal(go, run_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if isinstance(result, OptionRunResult):
        _print_option_result(result, fmt)
    else:
        _print_result(result, fmt)
        if review_out is not None:
            _export_review(result, review_out)
        if judge_extract is not None:
            extract_for_run_dir(
                result.run_dir,
                judge_extract,
                fmt=fmt,
                bootstrap=bootstrap,
                progress=not no_progress,
                retry_errors=retry_errors,
            )
    if result.items and all(len(r.failed) == result.items for r in result.modes.values()):
        sys.exit(1)
    printer: Any = _print_option_result if isinstance(result, OptionRunResult) else _print_result
    finish_recording(
        recording,
        result.summary,
        retry_errors=retry_errors,
        show=lambda again: printer(dataclasses.replace(result, summary=again), fmt),
        note=note,
    )


def _check_review_out(review_out: Path, mode: str) -> None:
    if mode == "logprob":
        raise click.UsageError(
            "--review-out needs --mode generate or both (logprob picks have no text to read)"
        )
    if review_out.suffix.lower() not in (".csv", ".xlsx"):
        raise click.UsageError(f"--review-out {review_out}: the sheet must end in .csv or .xlsx")
    if review_out.exists():
        raise click.ClickException(_REVIEW_EXISTS.format(path=review_out))


_REVIEW_EXISTS = "{path} exists and may hold a person's labels; move it away or give another --review-out"


def _export_review(result: MCRunResult, review_out: Path) -> None:
    from cvalues.mc import official

    try:
        rows = official.parse_official(result.run_dir / "mc-generate-predictions.jsonl", require_pred=True)
        n = official.export_review(rows, review_out)  # never over a sheet a person may be filling
    except FileExistsError as exc:
        raise click.ClickException(_REVIEW_EXISTS.format(path=review_out)) from exc
    except official.OfficialFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {n} Need_Check answers to {review_out}", err=True)


def _print_result(result: MCRunResult, fmt: str) -> None:
    warnings = {
        mode: _warning(result, mode, len(r.failed), r.report.overall, "mc")
        for mode, r in result.modes.items()
    }
    if fmt == "json":
        out = {
            mode: {"failed": len(r.failed), **r.report.to_dict(), **_warning_field(warnings[mode])}
            for mode, r in result.modes.items()
        }
        if result.disagreement is not None:
            out["agreement"] = result.disagreement.to_dict()
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    _print_summary(result, f"{result.items} items ({result.pairs} pairs)")
    for mode, r in result.modes.items():
        click.echo(f"\n== {mode} ==")
        click.echo(r.report.render())
        _print_failed(len(r.failed), f"mc-{mode}-errors.jsonl")
        if warnings[mode]:
            click.echo(f"warning: {warnings[mode]}")
    d = result.disagreement
    if d is not None and d.compared:
        click.echo(
            f"\ngenerate vs logprob: {d.agree}/{d.compared} agree ({d.agreement:.1%}); "
            f"{len(d.items)} disagreements listed in mc-disagreements.jsonl"
        )
    click.echo("\nwrote " + ", ".join(str(p) for p in result.files))


def _warning(
    result: MCRunResult | OptionRunResult, mode: str, failed: int, overall: Any, prefix: str
) -> str | None:
    """One line when a mode's numbers rest on little: most requests failed, or most answers could not
    be read as a choice (Need_Check or Other: often a template the model does not follow)."""
    if result.items and failed * 2 > result.items:
        errors = result.run_dir / f"{prefix}-{mode}-errors.jsonl"
        return (
            f"most requests failed ({failed} of {result.items} items): the scores cover only the "
            f"{result.items - failed} answered; causes in {errors}"
        )
    unread = overall.need_check + overall.other
    if not overall.total or unread * 2 <= overall.total:
        return None
    predictions = result.run_dir / f"{prefix}-{mode}-predictions.jsonl"
    if mode == "logprob":
        why = "ties, or labels missing from the server's top alternatives"
        todo = f"see the label_logprobs in {predictions}"
    else:
        why = "the model may not follow the template"
        todo = (
            f"read them with --review-out SHEET.csv and apply it with `cvalues mc rescore` "
            f"(answers in {predictions})"
            if prefix == "mc"
            else f"the answers are in {predictions}"
        )
    return f"{unread} of {overall.total} answers are Need_Check or Other ({why}); {todo}"


def _warning_field(warning: str | None) -> dict[str, str]:
    return {"warning": warning} if warning else {}


def _print_summary(result: MCRunResult | OptionRunResult, what: str) -> None:
    s = result.summary
    per_item = len(result.modes)
    click.echo(
        f"{what}; {s.unique} requests ({per_item} per item): {s.cached} answered in earlier sessions, "
        f"{s.ok} now, {s.unanswered} failed, in {s.elapsed_s:.1f}s"
    )
    if s.blocked:
        click.echo(withheld_line(s.blocked))
    for cause, n in list(s.errors_by_cause.items())[:SHOWN_CAUSES]:
        click.echo(cause_line(n, cause))


def _print_failed(failed: int, errors_file: str) -> None:
    if failed:
        click.echo(
            f"{failed} items failed and are not scored (causes in {errors_file}); rerun with --retry-errors."
        )


def _print_option_result(result: OptionRunResult, fmt: str) -> None:
    warnings = {
        mode: _warning(result, mode, len(r.failed), r.metrics.overall, "options")
        for mode, r in result.modes.items()
    }
    if fmt == "json":
        out: dict[str, Any] = {
            mode: {"failed": len(r.failed), **r.metrics.to_dict(), **_warning_field(warnings[mode])}
            for mode, r in result.modes.items()
        }
        if result.agreement is not None:
            out["agreement"] = result.agreement
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    _print_summary(result, f"{result.items} items (option questions)")
    for mode, r in result.modes.items():
        click.echo(f"\n== {mode} ==")
        click.echo(r.metrics.render())
        _print_failed(len(r.failed), f"options-{mode}-errors.jsonl")
        if warnings[mode]:
            click.echo(f"warning: {warnings[mode]}")
    a = result.agreement
    if a is not None and a.get("compared"):
        click.echo(f"\ngenerate vs logprob: {a['agree']}/{a['compared']} agree ({a['agreement']:.1%})")
    click.echo("\nwrote " + ", ".join(str(p) for p in result.files))
