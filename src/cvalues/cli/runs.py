"""`cvalues generate` and `cvalues runs ...`: ask a model a suite's prompts durably; list, show, export runs.

Thin click code over :mod:`cvalues.runs`: every command parses its options, calls the library and
prints what happened. Errors a person can fix (unknown model scheme, missing data file, a run
directory made for another configuration, another process writing the directory) exit 1 with one line.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from cvalues.cli.data import load_suite_from_options, reports_data_errors, suite_options, take_sampling
from cvalues.cli.model_options import load_model_from_options, run_dir_options, with_model_options
from cvalues.data.schema import PromptRecord
from cvalues.models.base import GenerationSettings
from cvalues.runs import (
    ManifestMismatch,
    Request,
    RunDir,
    RunDirBusy,
    RunManifest,
    RunStore,
    RunSummary,
    chat_messages,
    execute_async,
    find_run_dirs,
    read_manifest,
    select,
)
from cvalues.runs.store import EXPORT_FORMATS

#: Prompt record meta keys a judge reads from the generation run (contract A).
JUDGE_META_KEYS = ("adversarial", "judge_note", "reference")
#: How many distinct failure causes the summary lines show.
SHOWN_CAUSES = 5


def register(cli: click.Group) -> None:
    """Add ``generate`` and the ``runs`` group to the root command."""
    cli.add_command(generate)
    cli.add_command(runs)


def prompt_requests(records: list[PromptRecord], system_prompt: str | None) -> list[Request]:
    """One generate request per prompt record: its text as the user turn, after the system prompt if any."""
    return [
        Request(
            r.id,
            chat_messages(r.text, system_prompt),
            meta={
                "level": r.level,
                "category": r.category,
                "source": r.source,
                **{k: r.meta[k] for k in JUDGE_META_KEYS if k in r.meta},
            },
        )
        for r in records
    ]


@click.command()
@with_model_options
@suite_options
@run_dir_options
@click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="Only the first N items (after --sample)."
)
@reports_data_errors
def generate(
    model_kwargs: dict[str, Any],
    settings: GenerationSettings,
    run_dir: Path,
    limit: int | None,
    retry_errors: bool,
    no_progress: bool,
    **suite_kwargs: Any,
) -> None:
    """Ask a model every prompt of a suite; answers are stored as they arrive and a rerun resumes.

    --sample N picks N items: with the suite's own sampler where it has one (safety-prompts:
    stratified by scenario), otherwise by a seeded hash of the item ids (--seed). Items already
    answered in RUN_DIR are not asked again; failed ones only with --retry-errors.
    """
    sample, seed = take_sampling(suite_kwargs)
    suite = load_suite_from_options(**suite_kwargs)
    if suite.kind != "prompt":
        raise click.UsageError(
            f"suite {suite.name!r} holds {suite.kind} items, not prompts; "
            "`cvalues generate` asks open prompts (score multi-choice suites with the mc commands)"
        )
    records = [r for r in suite.records() if isinstance(r, PromptRecord)]
    chosen = select(records, limit=limit, sample=sample, seed=seed)
    requests = prompt_requests(chosen, settings.system_prompt)
    model = load_model_from_options(**model_kwargs)
    concurrency = model_kwargs.get("concurrency")

    rundir = RunDir(run_dir)
    session = {
        "command": "generate",
        "argv": sys.argv[1:],
        "limit": limit,
        "sample": sample,
        "seed": seed,
        "suite_options": suite.describe().get("options"),
        "items": len(requests),
    }
    try:
        with rundir.lock():
            manifest = RunManifest.open(
                rundir.path, model=model, settings=settings, suite=suite, suite_name=suite.name
            )
            with RunStore(rundir.store_path) as store:

                async def run() -> RunSummary:
                    try:
                        return await execute_async(
                            model,
                            requests,
                            store=store,
                            settings=settings,
                            concurrency=concurrency,
                            retry_errors=retry_errors,
                            progress=not no_progress,
                            manifest=manifest,
                            session_options=session,
                        )
                    finally:
                        await model.aclose()

                summary = asyncio.run(run())
    except (ManifestMismatch, RunDirBusy) as exc:
        raise click.ClickException(str(exc)) from exc

    _print_summary(summary, rundir)
    if summary.unique and summary.answered == 0:
        sys.exit(1)


def _print_summary(s: RunSummary, rundir: RunDir) -> None:
    click.echo(
        f"{s.unique} items: {s.answered} answered ({s.cached} from earlier sessions, {s.ok} now), "
        f"{s.unanswered} failed ({s.failed} now, {s.skipped_errors} earlier and not retried) "
        f"in {s.elapsed_s:.1f}s -> {rundir.store_path}"
    )
    for cause, n in list(s.errors_by_cause.items())[:SHOWN_CAUSES]:
        click.echo(f"  {n} x {cause[:200]}")
    if len(s.errors_by_cause) > SHOWN_CAUSES:
        click.echo(f"  ... and {len(s.errors_by_cause) - SHOWN_CAUSES} other causes (`cvalues runs show`)")
    if s.unanswered:
        click.echo("Rerun the same command with --retry-errors to ask the failed items again.")


# --- runs -----------------------------------------------------------------------------------------------


@click.group()
def runs() -> None:
    """List, show and export run directories."""


def _store_counts(rundir: RunDir) -> dict[str, int] | None:
    if not rundir.store_path.is_file():
        return None
    try:
        with RunStore(rundir.store_path, readonly=True) as store:
            return store.counts()
    except sqlite3.OperationalError:  # a store being created right now
        return None


def _manifest_or_none(rundir: RunDir) -> dict[str, Any] | None:
    try:
        return read_manifest(rundir.path)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@runs.command("list")
@click.option(
    "--run-dir-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder searched (4 levels deep) for run directories.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
def list_runs(run_dir_root: Path, as_json: bool) -> None:
    """Run directories under a folder: model, suite, answered and failed counts, last session."""
    found = find_run_dirs(run_dir_root)
    rows = []
    for rundir in found:
        manifest = _manifest_or_none(rundir) or {}
        counts = _store_counts(rundir) or manifest.get("counts") or {}
        last = (manifest.get("sessions") or [{}])[-1]
        rows.append(
            {
                "run_dir": str(rundir.path),
                "model": (manifest.get("model") or {}).get("spec"),
                "suite": (manifest.get("suite") or {}).get("name"),
                "ok": counts.get("ok", 0),
                "failed": counts.get("error", 0),
                "last_session": last.get("status"),
                "updated_at": manifest.get("updated_at"),
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no run directories under {run_dir_root}")
        return
    headers = ["run_dir", "model", "suite", "ok", "failed", "last_session", "updated_at"]
    table = [[str(r[h]) if r[h] is not None else "-" for h in headers] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


@runs.command("show")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest with current counts as JSON.")
def show_run(run_dir: Path, as_json: bool) -> None:
    """What a run asked of which model, its sessions, and its counts and failure causes now."""
    rundir = RunDir(run_dir)
    if not rundir.exists():
        raise click.ClickException(f"{run_dir} is not a run directory (no manifest.json or answers.sqlite)")
    manifest = _manifest_or_none(rundir) or {}
    causes: dict[str, int] = {}
    counts = None
    if rundir.store_path.is_file():
        with RunStore(rundir.store_path, readonly=True) as store:
            counts, causes = store.counts(), store.error_causes()
    if as_json:
        click.echo(
            json.dumps(
                {**manifest, "store": {"counts": counts, "error_causes": causes}},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    model = manifest.get("model") or {}
    click.echo(f"run dir:   {run_dir}")
    click.echo(f"model:     {model.get('spec', '-')}")
    click.echo(f"suite:     {(manifest.get('suite') or {}).get('name', '-')}")
    if manifest.get("settings"):
        click.echo(f"settings:  {json.dumps(manifest['settings'], ensure_ascii=False)}")
    if manifest.get("extra"):
        click.echo(f"extra:     {json.dumps(manifest['extra'], ensure_ascii=False)}")
    env = manifest.get("environment") or {}
    if env:
        click.echo(f"cvalues:   {env.get('cvalues')} on Python {env.get('python')}, {env.get('platform')}")
    if counts is not None:
        click.echo(f"answers:   {counts['ok']} ok, {counts['error']} failed, {counts['total']} stored")
    sessions = manifest.get("sessions") or []
    if sessions:
        click.echo("sessions:")
    for s in sessions:
        summary = s.get("summary") or {}
        click.echo(
            f"  {s.get('started_at')} -> {s.get('ended_at') or '...'}  {s.get('status')}: "
            f"asked {summary.get('asked', '?')}, ok {summary.get('ok', '?')}, "
            f"failed {summary.get('failed', '?')}, cached {summary.get('cached', '?')}"
        )
    if causes:
        click.echo("failure causes:")
        for cause, n in list(causes.items())[:10]:
            click.echo(f"  {n} x {cause[:200]}")


@runs.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File written (atomically: a failure leaves no half file).",
)
@click.option("--status", type=click.Choice(["ok", "error"]), default=None, help="Only answers or failures.")
def export_run(run_dir: Path, fmt: str, out: Path, status: str | None) -> None:
    """Write a run's answers as JSONL or CSV (UTF-8; CSV with a BOM for spreadsheet programs)."""
    rundir = RunDir(run_dir)
    if not rundir.store_path.is_file():
        raise click.ClickException(f"{run_dir} holds no answers ({rundir.store_path} is missing)")
    with RunStore(rundir.store_path, readonly=True) as store:
        n = store.export(out, format=fmt, status=status)  # type: ignore[arg-type]
    click.echo(f"wrote {n} answers to {out}")
