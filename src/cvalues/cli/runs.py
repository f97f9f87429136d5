"""`cvalues generate` and `cvalues runs ...`: ask a model a suite's prompts durably; list, show, export runs.

Thin click code over :mod:`cvalues.runs`: every command parses its options, calls the library and
prints what happened. Errors a person can fix (unknown model scheme, missing data file, a run
directory made for another configuration, another process writing the directory) exit 1 with one line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cvalues.cli.checks import check_before_work
from cvalues.cli.data import load_suite_from_options, reports_data_errors, suite_options, take_sampling
from cvalues.cli.model_options import load_model_from_options, run_dir_options, with_model_options
from cvalues.cli.rerun_shortcut import ShortcutCommand, finish_recording, start_recording
from cvalues.cli.run_control import run_errors, run_until_signal
from cvalues.runs.store import EXPORT_FORMATS
from cvalues.textcut import shorten

if TYPE_CHECKING:  # the run machinery is imported by the commands that use it, not at start-up
    from cvalues.models.base import GenerationSettings
    from cvalues.runs import RunDir, RunSummary
    from cvalues.runs.generate import GenerateResult

#: How many distinct failure causes the summary lines show.
SHOWN_CAUSES = 5
#: Characters of a failure cause shown per line (cut at a word boundary).
CAUSE_CHARS = 200


def cause_line(n: int, cause: str) -> str:
    """``  N x cause``, the cause shortened at a word boundary."""
    return f"  {n} x {shorten(cause, CAUSE_CHARS)}"


def register(cli: click.Group) -> None:
    """Add ``generate`` and the ``runs`` group to the root command."""
    cli.add_command(generate)
    cli.add_command(runs)


@click.command(cls=ShortcutCommand)
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
    from cvalues.runs import RunDir
    from cvalues.runs.generate import generate_async

    check_before_work(model_kwargs, suite_kwargs)
    requested_sample = suite_kwargs.get("sample")
    sample, seed = take_sampling(suite_kwargs)
    suite = load_suite_from_options(**suite_kwargs)
    if suite.kind != "prompt":
        raise click.UsageError(
            f"suite {suite.name!r} holds {suite.kind} items, not prompts; "
            "`cvalues generate` asks open prompts (score multi-choice suites with the mc commands)"
        )
    recording = start_recording(suite, model_kwargs)
    model = load_model_from_options(**model_kwargs)

    async def run() -> GenerateResult:
        try:
            return await generate_async(
                model,
                suite,
                run_dir,
                settings=settings,
                limit=limit,
                sample=sample,
                seed=seed,
                concurrency=model_kwargs.get("concurrency"),
                retry_errors=retry_errors,
                progress=not no_progress,
                session_options={"argv": sys.argv[1:]},
            )
        finally:
            await model.aclose()

    result = run_until_signal(run, Path(run_dir))
    note = sample_note(requested_sample, result.available, "items", suite.name)
    if note:
        click.echo(note, err=True)
    summary = result.summary

    rundir = RunDir(run_dir)
    _print_summary(summary, rundir)
    if summary.unique and summary.answered == 0:
        sys.exit(1)
    finish_recording(
        recording,
        summary,
        retry_errors=retry_errors,
        show=lambda again: _print_summary(again, rundir),
        note=note,
    )


def sample_note(requested: int | None, available: int, unit: str, suite_name: str) -> str | None:
    """The line said on stderr when ``--sample`` asks for more than the suite holds (the whole suite is
    used), else None."""
    if requested is not None and requested > available:
        return (
            f"--sample {requested} is more than suite {suite_name!r} holds ({available} {unit}); "
            f"using all {available}"
        )
    return None


def withheld_line(n: int) -> str:
    """The line saying how many of this session's answers the provider's moderation gave."""
    return (
        f"  {n} answered by the provider's content moderation instead of the model (kept as answers, "
        "finish_reason content_filter; docs/models.md)"
    )


def _print_summary(s: RunSummary, rundir: RunDir) -> None:
    click.echo(
        f"{s.unique} items: {s.answered} answered ({s.cached} from earlier sessions, {s.ok} now), "
        f"{s.unanswered} failed ({s.failed} now, {s.skipped_errors} earlier and not retried) "
        f"in {s.elapsed_s:.1f}s -> {rundir.store_path}"
    )
    if s.blocked:
        click.echo(withheld_line(s.blocked))
    for cause, n in list(s.errors_by_cause.items())[:SHOWN_CAUSES]:
        click.echo(cause_line(n, cause))
    if len(s.errors_by_cause) > SHOWN_CAUSES:
        click.echo(f"  ... and {len(s.errors_by_cause) - SHOWN_CAUSES} other causes (`cvalues runs show`)")
    if s.unanswered:
        click.echo("Rerun the same command with --retry-errors to ask the failed items again.")
    if s.unique and s.unanswered * 2 > s.unique:
        click.echo(
            f"warning: most requests failed ({s.unanswered} of {s.unique} items); every failure and its "
            f"cause: `cvalues runs export {rundir.path} --status error --out FILE`"
        )


# --- runs -----------------------------------------------------------------------------------------------


@click.group()
def runs() -> None:
    """List, show and export run directories."""


@dataclass
class RunView:
    """What `runs list` / `runs show` know of one run directory, read without writing anything."""

    rundir: RunDir
    manifest: dict[str, Any]
    counts: dict[str, int] | None = None
    blocked: int = 0  # answers the provider's moderation gave (read with the causes)
    causes: dict[str, int] = field(default_factory=dict)
    identity: dict[str, Any] | None = None  # the store's: the truth
    problems: list[str] = field(default_factory=list)  # manifest.json disagreeing with the store

    @property
    def last_session(self) -> dict[str, Any]:
        sessions = self.manifest.get("sessions")
        last = sessions[-1] if isinstance(sessions, list) and sessions else {}
        return last if isinstance(last, dict) else {}

    @property
    def kind(self) -> str:
        """``generate``, or ``mc run`` with its modes (``mc run (generate, logprob)``)."""
        options = self.last_session.get("options") or {}
        command = options.get("command")
        modes = options.get("modes") or [m for m, _ in self.accuracy()]
        if command is None:
            command = "mc run" if modes else "generate"
        return f"{command} ({', '.join(modes)})" if command == "mc run" and modes else str(command)

    @property
    def status(self) -> str | None:
        """The last session's status; ``failed`` for one that ended with no answer at all."""
        status = self.last_session.get("status")
        counts = self.counts or {}
        if status == "finished" and counts.get("total") and not counts.get("ok"):
            return "failed"
        return status

    def accuracy(self) -> list[tuple[str, dict[str, Any]]]:
        """``[(mode, metrics)]`` from the run's metrics files (multi-choice runs), acc first."""
        out = []
        for path in sorted(self.rundir.path.glob("*-metrics.json")):
            prefix, _, mode = path.name[: -len("-metrics.json")].partition("-")
            try:
                metrics = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if prefix in ("mc", "options") and isinstance(metrics, dict):
                out.append((mode, metrics))
        return out

    def accuracy_text(self) -> str | None:
        parts = []
        for mode, m in self.accuracy():
            acc = m.get("acc", m.get("accuracy"))
            if acc is None:
                continue
            star = m.get("acc_star")
            text = f"{mode} acc {acc:.1%}" + (f", acc* {star:.1%}" if star is not None else "")
            parts.append(text)
        return "; ".join(parts) or None


def read_run(rundir: RunDir, *, causes: bool = False) -> RunView:
    from cvalues.runs import RunStore, read_manifest
    from cvalues.runs.manifest import ManifestError, manifest_disagreements
    from cvalues.runs.store import StoreError

    """A :class:`RunView` of ``rundir``; a manifest or store that cannot be read raises
    :class:`click.ClickException` naming the file (``runs list`` turns it into a 'broken' line)."""
    try:
        manifest = read_manifest(rundir.path)
    except FileNotFoundError:
        manifest = {}
    except (ManifestError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    view = RunView(rundir, manifest)
    if rundir.store_path.is_file():
        with run_errors():
            try:
                with RunStore(rundir.store_path, readonly=True) as store:
                    view.counts = store.counts()
                    view.identity = store.identity()
                    if causes:
                        view.causes = store.error_causes()
                        view.blocked = store.blocked_count()
            except StoreError as exc:
                if "no such table" not in str(exc):  # a store being created right now reads as empty
                    raise
    try:
        if view.identity is not None and manifest:
            view.problems = manifest_disagreements(manifest, view.identity)
        _check_shape(manifest)
    except (AttributeError, TypeError, KeyError) as exc:
        raise click.ClickException(
            f"{rundir.manifest_path}: not a manifest of this shape ({type(exc).__name__}: {exc}); "
            "move it away and rerun: it is rebuilt from answers.sqlite"
        ) from None
    return view


def _check_shape(manifest: dict[str, Any]) -> None:
    """Raise TypeError when the parts `runs` reads are not objects (a manifest edited by hand)."""
    for name in ("model", "suite", "identity", "environment", "counts"):
        if manifest.get(name) is not None and not isinstance(manifest[name], dict):
            raise TypeError(f"{name!r} is {type(manifest[name]).__name__}, not an object")


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
    """Run directories under a folder: kind, model, suite, counts, accuracy, last session.

    A directory whose files cannot be read is listed as one 'broken' line saying why."""
    from cvalues.runs import find_run_dirs

    rows, broken = [], []
    for rundir in find_run_dirs(run_dir_root):
        try:
            view = read_run(rundir)
        except click.ClickException as exc:
            broken.append({"run_dir": str(rundir.path), "broken": exc.message})
            continue
        manifest, identity = view.manifest, view.identity or {}
        counts = view.counts or manifest.get("counts") or {}
        rows.append(
            {
                "run_dir": str(rundir.path),
                "kind": view.kind,
                "model": (
                    (identity.get("model") or {}).get("spec") or (manifest.get("model") or {}).get("spec")
                ),
                "suite": identity.get("suite") or (manifest.get("suite") or {}).get("name"),
                "ok": counts.get("ok", 0),
                "failed": counts.get("error", 0),
                "accuracy": view.accuracy_text(),
                "last_session": view.status,
                "updated_at": manifest.get("updated_at"),
            }
        )
    if as_json:
        for row in [*rows, *broken]:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows and not broken:
        click.echo(f"no run directories under {run_dir_root}")
        return
    if rows:
        headers = [
            "run_dir",
            "kind",
            "model",
            "suite",
            "ok",
            "failed",
            "accuracy",
            "last_session",
            "updated_at",
        ]
        table = [[str(r[h]) if r[h] is not None else "-" for h in headers] for r in rows]
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
        click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)))
        for row in table:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    for b in broken:
        click.echo(f"{b['run_dir']}  broken: {b['broken']}")


@runs.command("show")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest with current counts as JSON.")
def show_run(run_dir: Path, as_json: bool) -> None:
    """What a run asked of which model, its kind and accuracy, its sessions, counts and failure causes.

    The store's identity is the truth: where manifest.json was edited and disagrees, both are shown."""
    from cvalues.runs import RunDir

    rundir = RunDir(run_dir)
    if not rundir.exists():
        raise click.ClickException(f"{run_dir} is not a run directory (no manifest.json or answers.sqlite)")
    view = read_run(rundir, causes=True)
    manifest, identity = view.manifest, view.identity or {}
    if as_json:
        out = {
            **manifest,
            "kind": view.kind,
            "status": view.status,
            "accuracy": dict(view.accuracy()),
            "store": {
                "counts": view.counts,
                "blocked": view.blocked,
                "error_causes": view.causes,
                "identity": view.identity,
            },
            "manifest_disagrees_with_store": view.problems,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    model = manifest.get("model") or {}
    settings = identity.get("settings", manifest.get("settings"))
    extra = identity.get("extra", manifest.get("extra"))
    click.echo(f"run dir:   {run_dir}")
    click.echo(f"kind:      {view.kind}")
    click.echo(f"model:     {(identity.get('model') or {}).get('spec') or model.get('spec', '-')}")
    click.echo(f"suite:     {identity.get('suite') or (manifest.get('suite') or {}).get('name', '-')}")
    if settings:
        click.echo(f"settings:  {json.dumps(settings, ensure_ascii=False)}")
    if extra:
        click.echo(f"extra:     {json.dumps(extra, ensure_ascii=False)}")
    for problem in view.problems:
        click.echo(f"warning:   manifest.json disagrees with answers.sqlite (shown above): {problem}")
    env = manifest.get("environment") or {}
    if env:
        click.echo(f"cvalues:   {env.get('cvalues')} on Python {env.get('python')}, {env.get('platform')}")
    counts = view.counts
    if counts is not None:
        click.echo(f"answers:   {counts['ok']} ok, {counts['error']} failed, {counts['total']} stored")
        if view.blocked:
            click.echo(withheld_line(view.blocked))
    accuracy = view.accuracy_text()
    if accuracy:
        click.echo(f"accuracy:  {accuracy}")
    if view.status:
        click.echo(f"status:    {view.status}")
    sessions = [s for s in manifest.get("sessions") or [] if isinstance(s, dict)]
    if sessions:
        click.echo("sessions:")
    for s in sessions:
        summary = s.get("summary") or {}
        click.echo(
            f"  {s.get('started_at')} -> {s.get('ended_at') or '...'}  {s.get('status')}: "
            f"asked {summary.get('asked', '?')}, ok {summary.get('ok', '?')}, "
            f"failed {summary.get('failed', '?')}, cached {summary.get('cached', '?')}"
        )
    if view.causes:
        click.echo("failure causes:")
        for cause, n in list(view.causes.items())[:10]:
            click.echo(cause_line(n, cause))


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
    """Write a run's answers as JSONL or CSV (UTF-8; CSV with a BOM for spreadsheet programs, and every
    cell a spreadsheet would run as a formula prefixed with ')."""
    from cvalues.runs import RunDir, RunStore

    rundir = RunDir(run_dir)
    if not rundir.store_path.is_file():
        raise click.ClickException(f"{run_dir} holds no answers ({rundir.store_path} is missing)")
    with run_errors(), RunStore(rundir.store_path, readonly=True) as store:
        n = store.export(out, format=fmt, status=status)  # type: ignore[arg-type]
    click.echo(f"wrote {n} answers to {out}")
