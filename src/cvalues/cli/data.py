"""`cvalues data ...`: list, show, verify and export suites; reusable data/suite options for other commands.

Other commands reuse :func:`data_options` / :func:`data_config_from_options` and :func:`suite_options` /
:func:`load_suite_from_options`, and wrap record iteration in :func:`data_errors` so that a DataError
exits non-zero with its ``file:line: field`` message and no traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.export import export_jsonl
from cvalues.data.resolve import locate
from cvalues.data.sampling import ALLOCATIONS
from cvalues.data.schema import MCItem, OptionItem, PromptRecord, Record
from cvalues.data.sources import SOURCES
from cvalues.data.suites import SAFETY_SAMPLE_SIZE, SUITES, Suite, load_suite, parse_fields
from cvalues.data.user_files import KINDS

F = TypeVar("F", bound=Callable[..., Any])
EXAMPLE_CHARS = 40


class DataCommandError(click.ClickException):
    """A DataError reaching the command line: printed as ``Error: <file:line: field ...>``, exit 1."""


@contextlib.contextmanager
def data_errors() -> Iterator[None]:
    """Turn a DataError raised inside the block into a :class:`DataCommandError`."""
    try:
        yield
    except DataError as exc:
        raise DataCommandError(str(exc)) from exc


def reports_data_errors(func: F) -> F:
    """Decorator form of :func:`data_errors` for a click command callback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with data_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _key_values(items: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"expected {what}, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def data_options(func: F) -> F:
    """Add ``--data-mirror``, ``--cache-dir``, ``--offline`` and ``--source-file SOURCE_ID=FILE``."""
    options = [
        click.option(
            "--data-mirror",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Folder laid out as OWNER/REPO/PATH holding upstream files [env CVALUES_DATA_MIRROR].",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Where verified downloads are kept [env CVALUES_CACHE_DIR; ~/.cache/cvalues].",
        ),
        click.option(
            "--offline",
            is_flag=True,
            default=False,
            help="Never download; fail with instructions when a file is missing [env CVALUES_OFFLINE].",
        ),
        click.option(
            "--source-file",
            "source_file",
            multiple=True,
            metavar="SOURCE_ID=FILE",
            help="Use FILE for pinned source SOURCE_ID (checked against its checksum). Repeatable.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def data_config_from_options(
    data_mirror: Path | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    source_file: tuple[str, ...] = (),
    **_: Any,
) -> DataConfig:
    """Build a DataConfig from :func:`data_options` values (environment for anything not given)."""
    paths = {k: Path(v) for k, v in _key_values(tuple(source_file), "SOURCE_ID=FILE").items()}
    unknown = sorted(set(paths) - set(SOURCES))
    if unknown:
        raise click.BadParameter(
            f"unknown source id(s) {', '.join(unknown)}; see `cvalues data list`", param_hint="--source-file"
        )
    return DataConfig.from_env(
        mirror=data_mirror, cache_dir=cache_dir, offline=True if offline else None, paths=paths or None
    )


def suite_options(func: F | None = None, *, with_suite: bool = True, required: bool = True) -> Any:
    """Add ``--suite NAME_OR_FILE`` (unless ``with_suite=False``), ``--suite-file``, ``--field``, ``--full``,
    ``--sample``, ``--seed``, ``--allocation``, ``--pair-type``, ``--level`` and ``--kind``; also adds
    :func:`data_options`. Use bare (``@suite_options``) or called (``@suite_options(required=False)``)."""

    def decorate(f: F) -> F:
        options = [
            click.option(
                "--suite-file",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="The suite's data file by hand: the official file (verified), your private "
                "safety prompts, or the ModelScope file for cvalues-comparison / poison-mpts.",
            ),
            click.option(
                "--field",
                "fields",
                multiple=True,
                metavar="KEY=COLUMN",
                help="Field mapping for user files, e.g. --field text=问题 --field category=类别; "
                "multi-choice: --field question=问题 --field good=安全回答 --field bad=违规回答.",
            ),
            click.option(
                "--full",
                is_flag=True,
                default=False,
                help=f"safety-prompts: all prompts instead of the {SAFETY_SAMPLE_SIZE}-prompt sample.",
            ),
            click.option(
                "--include-benign",
                is_flag=True,
                default=False,
                help="safety-prompts: keep the non-adversarial prompts (left out by default; see "
                "docs/safety-adversarial.md).",
            ),
            click.option(
                "--sample",
                type=click.IntRange(min=1),
                default=None,
                help=f"Sample size: safety-prompts stratified by scenario [default {SAFETY_SAMPLE_SIZE}]; "
                "other suites, in generate and mc run, a seeded sample of items (mc run: of pairs).",
            ),
            click.option("--seed", type=int, default=None, help="Sampling seed [default 0]."),
            click.option(
                "--allocation",
                type=click.Choice(ALLOCATIONS),
                default=None,
                help="safety-prompts: per-scenario allocation [default equal].",
            ),
            click.option(
                "--pair-type",
                default=None,
                help="cvalues-comparison: all, refuse_vs_risky, advise_vs_risky or advise_vs_refuse.",
            ),
            click.option(
                "--level",
                type=click.Choice(["safety", "responsibility"]),
                default=None,
                help="User files: the level their categories belong to [default safety; the official "
                "multi-choice line form with meta_info.domain_en: responsibility].",
            ),
            click.option(
                "--kind",
                type=click.Choice(KINDS),
                default=None,
                help="User files: prompt, mc (two-reply multi-choice) or auto [default auto: mc when "
                "--field/columns name good and bad replies or rows carry prompt+label+meta_info].",
            ),
        ]
        if with_suite:
            options.insert(
                0,
                click.option(
                    "--suite",
                    "suite",
                    required=required,
                    metavar="NAME_OR_FILE",
                    help="A suite (see `cvalues data list`) or a .jsonl/.json/.csv file.",
                ),
            )
        for option in reversed(options):
            f = option(f)
        return data_options(f)

    return decorate(func) if func is not None else decorate


def take_sampling(suite_kwargs: dict[str, Any]) -> tuple[int | None, int]:
    """Decide who applies ``--sample``/``--seed``: ``(sample for the caller, seed)``.

    A suite with a sampler of its own (safety-prompts: stratified by scenario) keeps both options and
    the caller gets ``None``; for any other suite they are taken out of ``suite_kwargs`` and the caller
    samples (items in ``generate``, pairs in ``mc run``).
    """
    sample, seed = suite_kwargs.get("sample"), suite_kwargs.get("seed") or 0
    info = SUITES.get(suite_kwargs.get("suite", ""))
    if info is not None and "sample" in info.options:
        return None, seed
    suite_kwargs["sample"] = suite_kwargs["seed"] = None
    return sample, seed


def load_suite_from_options(
    suite: str,
    suite_file: Path | None = None,
    fields: tuple[str, ...] = (),
    full: bool = False,
    include_benign: bool = False,
    sample: int | None = None,
    seed: int | None = None,
    allocation: str | None = None,
    pair_type: str | None = None,
    level: str | None = None,
    kind: str | None = None,
    **data_kwargs: Any,
) -> Suite:
    """Load the suite named by :func:`suite_options` values; a DataError becomes a DataCommandError."""
    config = data_config_from_options(**data_kwargs)
    options: dict[str, Any] = {
        "file": suite_file,
        "full": full,
        "include_benign": include_benign,
        "sample": sample,
        "seed": seed,
        "allocation": allocation,
        "pair_type": pair_type,
        "level": level,
        "kind": kind,
    }
    with data_errors():
        if fields:
            options["fields"] = parse_fields(fields)
        return load_suite(suite, config, **{k: v for k, v in options.items() if v not in (None, False)})


# --- commands -----------------------------------------------------------------------------------------------


@click.group()
def data() -> None:
    """List, show, verify and export the benchmark's datasets."""


def _where(source_id: str, config: DataConfig) -> dict[str, Any]:
    loc = locate(source_id, config)
    if loc.origin is None:
        status = (
            "problem"
            if loc.problem
            else ("missing (offline)" if config.offline else "downloads on first use")
        )
    else:
        status = "MISMATCH" if loc.problem else "verified"
    return {
        "source_id": source_id,
        "origin": loc.origin,
        "path": str(loc.path) if loc.path else None,
        "status": status,
        "problem": loc.problem,
        "checksum": SOURCES[source_id].checksum_label,
    }


def _suite_sources(name: str) -> list[str]:
    out: list[str] = []
    for sid in SUITES[name].sources:
        if sid.endswith("/*"):
            out += [s for s in SOURCES if s.startswith(sid[:-1])]
        else:
            out.append(sid)
    return out


@data.command("list")
@data_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@reports_data_errors
def list_command(fmt: str, **kwargs: Any) -> None:
    """Suites, their sizes, and where each file resolves (and whether it is verified)."""
    config = data_config_from_options(**kwargs)
    rows = []
    for info in SUITES.values():
        rows.append(
            {
                "name": info.name,
                "kind": info.kind,
                "level": info.level,
                "size": info.size,
                "user_file": info.user_file,
                "description": info.description,
                "files": [_where(sid, config) for sid in _suite_sources(info.name)],
            }
        )
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        size = row["size"] if row["size"] is not None else "?"
        click.echo(f"{row['name']:<24} {row['kind']:<7} {row['level']:<15} {size:>6}  {row['description']}")
        if row["user_file"] == "required":
            click.echo("    file: user-supplied only (--suite-file FILE); not downloadable from GitHub")
        for f in row["files"]:
            where = f"{f['origin']}: {f['path']}" if f["origin"] else ""
            click.echo(f"    {f['source_id']:<42} {f['status']:<22} {where}")
            if f["problem"]:
                click.echo(f"      {f['problem']}")
    click.echo(
        "A path to a .jsonl/.json/.csv file is also a suite (bring your own; map columns with --field): "
        "prompts, or multi-choice (--kind mc): good/bad reply columns or prompt/label/meta_info lines."
    )


def _count(values: Iterator[str | None]) -> dict[str, int]:
    return dict(
        sorted(Counter("-" if v is None else v for v in values).items(), key=lambda kv: (-kv[1], kv[0]))
    )


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXAMPLE_CHARS else flat[:EXAMPLE_CHARS] + "…"


def _example(record: Record) -> str:
    if isinstance(record, PromptRecord):
        return _short(record.text)
    if isinstance(record, MCItem):
        return f"{_short(record.question)}  (gold {record.gold})"
    assert isinstance(record, OptionItem)
    return f"{_short(record.question)}  ({len(record.options)} options)"


def summarise(suite: Suite, examples: int = 3) -> tuple[dict[str, Any], list[Record]]:
    """Counts per category, difficulty (and gold answer) plus the first ``examples`` records."""
    by_category: Counter[str] = Counter()
    by_difficulty: Counter[str] = Counter()
    by_gold: Counter[str] = Counter()
    shown: list[Record] = []
    total = 0
    for record in suite.records():
        total += 1
        by_category[record.category] += 1
        if isinstance(record, MCItem):
            by_difficulty[record.difficulty or "-"] += 1
            by_gold[record.gold] += 1
        elif isinstance(record, OptionItem):
            by_gold[str(record.answer)] += 1
        if len(shown) < examples:
            shown.append(record)
    summary: dict[str, Any] = {
        "suite": suite.describe(),
        "count": total,
        "by_category": _count(iter(by_category.elements())),
    }
    if by_difficulty:
        summary["by_difficulty"] = _count(iter(by_difficulty.elements()))
    if by_gold:
        summary["by_gold"] = _count(iter(by_gold.elements()))
    notes = suite.notes()
    if notes:
        summary["notes"] = notes
    return summary, shown


def _echo_form(notes: dict[str, Any]) -> None:
    """The detected form of a user file and the column each record key is read from."""
    if "form" not in notes:
        return
    click.echo(f"form: {notes['form']} ({notes['form_description']})")
    columns = notes.get("columns") or {}
    if columns:
        click.echo("columns: " + ", ".join(f"{k}={v if v is not None else '-'}" for k, v in columns.items()))


@data.command("show")
@click.argument("suite")
@suite_options(with_suite=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--examples", type=click.IntRange(min=0), default=3, help="Records to show, truncated.")
@reports_data_errors
def show_command(suite: str, fmt: str, examples: int, **kwargs: Any) -> None:
    """Counts per category and difficulty and a few truncated records of SUITE."""
    loaded = load_suite_from_options(suite, **kwargs)
    summary, shown = summarise(loaded, 0 if fmt == "json" else examples)
    if fmt == "json":
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    click.echo(f"{loaded.name}: {summary['count']} {loaded.kind} records, level {loaded.level}")
    if loaded.options:
        click.echo("options: " + ", ".join(f"{k}={v}" for k, v in summary["suite"]["options"].items()))
    for f in loaded.files:
        state = "verified" if f.verified else "unpinned"
        click.echo(f"  file {f.source_id} [{f.origin}, {state}] sha256 {f.sha256[:16]}… {f.path}")
    _echo_form(summary.get("notes", {}))
    for title, key in (("category", "by_category"), ("difficulty", "by_difficulty"), ("gold", "by_gold")):
        if key in summary:
            click.echo(f"by {title}:")
            for name, n in summary[key].items():
                click.echo(f"  {name:<30} {n:>7}")
    notes = summary.get("notes", {})
    for key in (
        "records_read",
        "duplicates_dropped",
        "near_duplicates_dropped",
        "pool_size",
        "benign_in_pool",
        "benign_excluded",
        "benign_in_selection",
    ):
        if key in notes:
            click.echo(f"{key.replace('_', ' ')}: {notes[key]}")
    if "pool_by_scenario" in notes:
        click.echo("pool by scenario: " + ", ".join(f"{k} {v}" for k, v in notes["pool_by_scenario"].items()))
    if "others_from" in notes:
        click.echo("source categories mapped to others: " + "; ".join(notes["others_from"]))
    for scenario, families in notes.get("single_source_scenarios", {}).items():
        click.echo(f"caveat: {scenario} rests on one source only ({', '.join(families)})")
    for scenario, caveat in notes.get("scenario_caveats", {}).items():
        click.echo(f"caveat: {scenario} {caveat}")
    if shown:
        click.echo(f"first {len(shown)} records (truncated to {EXAMPLE_CHARS} characters):")
        for record in shown:
            click.echo(f"  {record.id} [{record.category}] {_example(record)}")


@data.command("verify")
@data_options
@reports_data_errors
def verify_command(**kwargs: Any) -> None:
    """Check every pinned file that is on disk against its checksum; exit 1 on any mismatch."""
    config = data_config_from_options(**kwargs)
    bad = present = 0
    for sid in SOURCES:
        row = _where(sid, config)
        if row["origin"] is None and not row["problem"]:
            click.echo(f"  -        {sid}: not on disk ({row['status']})")
            continue
        if row["problem"]:
            bad += 1
            click.echo(f"  MISMATCH {sid}: {row['problem']}")
        else:
            present += 1
            click.echo(f"  ok       {sid} [{row['origin']}] {row['checksum']}")
    click.echo(f"{present} verified, {bad} failed, {len(SOURCES) - present - bad} not on disk")
    if bad:
        raise DataCommandError(f"{bad} file(s) do not match their pinned checksums")


@data.command("export")
@click.argument("suite")
@suite_options(with_suite=False)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output .jsonl file."
)
@reports_data_errors
def export_command(suite: str, out: Path, **kwargs: Any) -> None:
    """Write SUITE's normalised records to a JSONL file (atomically: all or nothing)."""
    loaded = load_suite_from_options(suite, **kwargs)
    count = export_jsonl(loaded.records(), out)
    click.echo(f"wrote {count} records to {out}")
