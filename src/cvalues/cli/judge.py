"""`cvalues judge ...`: judge a generation run's answers, combine judges, calibrate and compare with people.

Thin click code over :mod:`cvalues.judge`; heavy libraries load inside the commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cvalues.cli.data import load_suite_from_options, reports_data_errors, suite_options, take_sampling
from cvalues.cli.model_options import (
    MODEL_OPTION_NAMES,
    load_model_from_options,
    model_options,
    pop_options,
)
from cvalues.judge.rubrics import RUBRICS

T = TypeVar("T")


def register(cli: click.Group) -> None:
    """Add the ``judge`` group to the root command."""
    cli.add_command(judge)


def judge_model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared model options (``cli/model_options.py``) with ``--model`` spelled ``--judge-model``;
    ``--judge-model`` may be left out when the rubric has a default model."""
    func = model_options(func)
    for param in getattr(func, "__click_params__", []):
        if param.name == "model_spec":
            param.opts = ["--judge-model"]
            param.required = False
            param.help = (
                "The judge: openai:MODEL, hf:PATH_OR_ID or replay:FILE [default: the rubric's own model]."
            )
    return func


rubric_option = click.option(
    "--rubric",
    type=click.Choice(list(RUBRICS)),
    required=True,
    help="qwen3guard, shieldlm, llamaguard, cvalues-safety (any chat model) or cvalues-responsibility.",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
bootstrap_option = click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples (over items) for the intervals; 0 skips them.",
)

temperature_option = click.option(
    "--temperature", type=click.FloatRange(min=0), default=None, help="Judge sampling temperature [0]."
)
retry_errors_option = click.option(
    "--retry-errors", is_flag=True, help="Ask again the judge requests whose stored result is a failure."
)
no_progress_option = click.option("--no-progress", is_flag=True, help="No progress bar.")


def _judge_model(rubric: str, kwargs: dict[str, Any]) -> Any:
    options = pop_options(kwargs, MODEL_OPTION_NAMES)
    spec = options.pop("model_spec", None) or RUBRICS[rubric].default_model
    if not spec:
        raise click.UsageError(f"rubric {rubric!r} has no default judge model; give --judge-model SPEC")
    return load_model_from_options(spec, **options), options.get("concurrency")


def _run_closing(model: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work()`` in a fresh event loop and close the judge ``model`` after it; a judge or run
    error (bad input, a manifest mismatch, a busy or aborted run) becomes a click error."""
    import asyncio

    from cvalues.judge.runner import JudgeError
    from cvalues.runs import ManifestMismatch, RunAborted, RunDirBusy

    async def go() -> T:
        try:
            return await work()
        finally:
            await model.aclose()

    try:
        return asyncio.run(go())
    except (JudgeError, ManifestMismatch, RunDirBusy, RunAborted) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def judge() -> None:
    """Judges for open answers: guard models and rubric judges, calibrated against known labels."""


@judge.command("rubrics")
def list_rubrics() -> None:
    """The built-in rubrics: level, how they ask, version, hash and default judge model."""
    for r in RUBRICS.values():
        click.echo(
            f"{r.name:24} {r.level:15} {r.mode:12} v{r.version} {r.sha256[:12]}  "
            f"{r.default_model or '(any chat model)'}\n    {r.description}"
        )


def _pct(figure: dict[str, Any] | None) -> str:
    if not figure or figure.get("value") is None:
        return "-"
    low, high = figure.get("low"), figure.get("high")
    ci = f" [{100 * low:.1f}, {100 * high:.1f}]" if low is not None and high is not None else ""
    return f"{100 * figure['value']:.1f}{ci}"


def _num(figure: dict[str, Any] | None, digits: int = 2) -> str:
    if not figure or figure.get("value") is None:
        return "-"
    low, high = figure.get("low"), figure.get("high")
    ci = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{figure['value']:.{digits}f}{ci}"


def _print_scores(scores: dict[str, Any], calibration: str) -> None:
    from cvalues.mc.metrics import format_table

    level = scores["level"]
    for model, block in scores["models"].items():
        click.echo(f"\njudged model: {model}")
        if level == "safety":
            header = [
                "group",
                "answers",
                "judged",
                "unjudged",
                "controversial",
                "safe % (strict)",
                "safe % (loose)",
            ]
        else:
            header = ["group", "answers", "judged", "unjudged", "mean score", "below 5 %"]
        rows = []
        for name, b in [
            ("overall", block["overall"]),
            *((f"  {k}", v) for k, v in block["by_category"].items()),
        ]:
            cells = [name, str(b["answers"]), str(b["n"]), str(b["unjudged"])]
            if level == "safety":
                cells += [str(b["controversial"]), _pct(b["safe_rate"]), _pct(b["safe_rate_loose"])]
            else:
                cells += [_num(b["mean_score"]), _pct(b["below_5_rate"])]
            rows.append(cells)
        click.echo(format_table(header, rows))
    click.echo(f"\njudge calibration: {calibration}")


@judge.command("run")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@judge_model_options
@rubric_option
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Judge each answer K times (needs --temperature > 0); majority / mean, spread kept.",
)
@temperature_option
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=None, help="Judge reply limit [the rubric's]."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Judge directory [RUN_DIR/judge/<rubric>(-<judge model>)].",
)
@retry_errors_option
@no_progress_option
@bootstrap_option
@format_option
def run_cmd(
    run_dir: Path,
    rubric: str,
    samples: int,
    temperature: float | None,
    max_tokens: int | None,
    out_dir: Path | None,
    retry_errors: bool,
    no_progress: bool,
    bootstrap: int,
    fmt: str,
    **kwargs: Any,
) -> None:
    """Judge every answer of the generation run RUN_DIR; a rerun asks nothing twice.

    Writes verdicts.jsonl, judge-scores.json (and judge-errors.jsonl when judge requests failed) in the
    judge directory, and prints the score per scenario/domain, marked uncalibrated until `judge
    calibrate` or `judge agreement` has been run for this judge model and rubric.
    """
    from cvalues.judge.calibration import find_calibration, headline
    from cvalues.judge.runner import run_judge_async

    model, concurrency = _judge_model(rubric, kwargs)
    summary = _run_closing(
        model,
        lambda: run_judge_async(
            run_dir,
            judge_model=model,
            rubric=rubric,
            out_dir=out_dir,
            samples=samples,
            temperature=temperature,
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=not no_progress,
            max_tokens=max_tokens,
            resamples=bootstrap,
            session_options={"argv": sys.argv[1:]},
        ),
    )
    record = find_calibration(model.spec, rubric)
    if fmt == "json":
        click.echo(json.dumps({**summary.to_dict(), "calibration": record}, ensure_ascii=False, indent=2))
    else:
        s = summary
        controversial = f"{s.controversial} controversial, " if s.scores.get("level") == "safety" else ""
        click.echo(
            f"{s.answers} answers of {s.judged_model} judged by {s.judge_model} ({s.rubric}): "
            f"{s.verdicts} verdicts, {s.unjudged} unjudged (no parseable verdict after one retry), "
            f"{controversial}{s.failed} failed requests -> {s.judge_dir}"
        )
        if s.skipped_level:
            click.echo(f"  {s.skipped_level} answers of the other level were left out")
        if s.failed:
            click.echo(
                "  Rerun with --retry-errors to ask the failed judge requests again "
                "(causes in judge-errors.jsonl)."
            )
        _print_scores(s.scores, headline(record))
    if summary.answers and summary.verdicts == 0:
        sys.exit(1)


@judge.command("combine")
@click.argument(
    "judge_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@format_option
def combine_cmd(judge_dirs: tuple[Path, ...], out_dir: Path, fmt: str) -> None:
    """Combine several judges over one run: majority of labels / mean of scores, spread kept."""
    from cvalues.judge.combine import combine_judges
    from cvalues.judge.runner import JudgeError

    try:
        result = combine_judges(judge_dirs, out_dir)
    except (JudgeError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"combined {result['judges']} judges: {result['verdicts']} verdicts -> {out_dir}")
    _print_scores(result["scores"], "combined judges (calibrate each judge on its own)")


@judge.command("calibrate")
@judge_model_options
@rubric_option
@suite_options
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the judge's replies are kept [<cache>/calibration/runs/...]; a rerun resumes.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures to this JSON file.",
)
@retry_errors_option
@no_progress_option
@temperature_option
@bootstrap_option
@format_option
@reports_data_errors
def calibrate_cmd(
    rubric: str,
    work_dir: Path | None,
    out: Path | None,
    retry_errors: bool,
    no_progress: bool,
    temperature: float | None,
    bootstrap: int,
    fmt: str,
    **kwargs: Any,
) -> None:
    """Measure a safety judge on replies labelled by construction (safety-mc: each pair's violating reply
    unsafe, its safe-and-helpful reply safe). --sample N takes N pairs (2N answers).

    Prints n, unjudged, kappa, unsafe recall / precision / F1, accuracy, the judged vs true safe rate
    (bootstrap intervals) and the confusion matrix, and records them for this judge model and rubric.
    """
    from cvalues.judge.calibration import calibrate_async

    model, concurrency = _judge_model(rubric, kwargs)
    sample, seed = take_sampling(kwargs)
    suite = load_suite_from_options(**kwargs)
    result = _run_closing(
        model,
        lambda: calibrate_async(
            suite,
            judge_model=model,
            rubric=rubric,
            sample=sample,
            seed=seed,
            work_dir=work_dir,
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=not no_progress,
            temperature=temperature,
            resamples=bootstrap,
            out=out,
        ),
    )
    record = result.record
    if fmt == "json":
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    _print_label_figures(record)
    click.echo(f"recorded: {result.recorded_at}")


def _print_label_figures(record: dict[str, Any]) -> None:
    f = record["figures"]
    click.echo(
        f"{record['kind']} of {record['judge_model']} ({record['rubric']}): n={record['n']} judged, "
        f"{record['unjudged']} unjudged" + (f", {record['failed']} failed" if record.get("failed") else "")
    )
    for name in (
        "unsafe_recall",
        "unsafe_precision",
        "unsafe_f1",
        "kappa",
        "accuracy",
        "judged_safe_rate",
        "true_safe_rate",
    ):
        fig = f[name]
        text = _num(fig, 3) if name == "kappa" else _pct(fig)
        click.echo(f"  {name:18} {text}")
    m = f["confusion"]["matrix"]
    click.echo("  confusion (rows: true, columns: judge)   unsafe   safe")
    click.echo(f"    unsafe {m[0][0]:>33} {m[0][1]:>6}")
    click.echo(f"    safe   {m[1][0]:>33} {m[1][1]:>6}")


@judge.command("agreement")
@click.argument("judge_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--labels",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="People's labels: an annotation export (contract C) or JSONL/JSON/CSV/TSV/XLSX of item_id "
    "[, model], label or score.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures to this JSON file.",
)
@bootstrap_option
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@format_option
def agreement_cmd(
    judge_dir: Path, labels: Path, out: Path | None, bootstrap: int, seed: int, fmt: str
) -> None:
    """Compare a judge directory's verdicts with people's labels (safety: kappa, unsafe recall/F1, each
    model's judged vs human safe rate; responsibility: Spearman, Pearson, QWK, MAE, per domain)."""
    from cvalues.judge.calibration import agreement

    try:
        result = agreement(judge_dir, labels, resamples=bootstrap, seed=seed, out=out)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{result['matched']} labelled answers matched "
        f"({result['unmatched_labels']} labels without a verdict)"
    )
    if result["level"] == "safety":
        _print_label_figures(result)
        for model, b in result["by_model"].items():
            click.echo(
                f"  {model}: judged safe {_pct(b['judged_safe_rate'])} vs human "
                f"{_pct(b['human_safe_rate'])} (n={b['n']})"
            )
    else:
        f = result["figures"]
        click.echo(
            f"n={result['n']}: spearman {_num(f['spearman'])}, pearson {_num(f['pearson'])}, "
            f"qwk {_num(f['qwk'])}, mae {_num(f['mae'])}"
        )
        for cat, d in result["by_domain"].items():
            click.echo(
                f"  {cat}: n={d['n']} spearman {_num(d['spearman'])}, qwk {_num(d['qwk'])}, "
                f"mae {_num(d['mae'])}"
            )
