"""`cvalues run`: the main job, every model through every CValues stage into one folder (thin over
:mod:`cvalues.pipeline`)."""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path
from typing import Any

import click

from cvalues.cli.data import data_errors, data_options


def register(cli: click.Group) -> None:
    """Add ``run`` to the root command."""
    cli.add_command(run)


@click.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML file naming models, suites, judges, out (see docs/run.md, examples/two-models.yaml).",
)
@click.option(
    "--model",
    "model_specs",
    multiple=True,
    metavar="SPEC",
    help="Instead of --config: evaluate this model (repeatable) with the built-in suites and judge.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (overrides the config's `out`); rerun with the same folder to resume.",
)
@click.option("--base-url", default=None, help="With --model openai:NAME: the server's base URL.")
@click.option("--api-key-env", default=None, help="With --model openai:NAME: variable holding the API key.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Requests in flight per stage.")
@click.option(
    "--judge-model",
    default=None,
    metavar="SPEC",
    help="With --model: the safety judge [default hf:Qwen/Qwen3Guard-Gen-0.6B].",
)
@click.option("--no-judge", is_flag=True, help="Skip the judge stages.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="With --model: longest answer in tokens [default 512].",
)
@data_options
@click.option("--retry-errors", is_flag=True, help="Ask again the requests whose stored result is a failure.")
@click.option("--no-progress", is_flag=True, help="No progress bars (one line per model x stage remains).")
@click.option("--dry-run", is_flag=True, help="Check what is missing and show the plan; ask nothing.")
def run(
    config_path: Path | None,
    model_specs: tuple[str, ...],
    out: Path | None,
    base_url: str | None,
    api_key_env: str | None,
    concurrency: int | None,
    judge_model: str | None,
    no_judge: bool,
    max_tokens: int | None,
    retry_errors: bool,
    no_progress: bool,
    dry_run: bool,
    **data_kwargs: Any,
) -> None:
    """Evaluate models on the CValues suites: multi-choice safety and responsibility, open answers to
    the safety and responsibility prompts, the judge, human labels when an annotation store is named,
    then the report, all under one output folder.

    Every stage resumes: rerunning the command asks nothing already answered, and a config with one
    more model asks only that model. Before any work, everything missing (data files, model weights)
    is listed at once with how to get it.
    """
    from cvalues.pipeline.config import ConfigError, load_config

    if bool(config_path) == bool(model_specs):
        raise click.UsageError("give either --config FILE or --model SPEC (repeatable)")
    try:
        if config_path is not None:
            if base_url or api_key_env or judge_model or max_tokens:
                raise click.UsageError("--base-url, --api-key-env, --judge-model and --max-tokens go with "
                                       "--model; with --config put them in the file")  # fmt: skip
            config = load_config(config_path)
            if concurrency is not None:
                config = config.model_copy(update={"concurrency": concurrency})
        else:
            config = _config_from_specs(
                model_specs, base_url, api_key_env, concurrency, judge_model, max_tokens
            )
    except ConfigError as exc:
        raise click.ClickException(f"the configuration cannot be run:\n{exc}") from exc
    if no_judge:
        config = config.model_copy(update={"judge": {}})
    out = out or config.out
    if out is None:
        where = f"{config_path}: out: " if config_path is not None else ""
        raise click.UsageError(f"{where}no output folder: set `out:` in the config or pass --out DIR")
    config = config.model_copy(update={"out": out})
    _run(
        config,
        out,
        data_kwargs,
        retry_errors=retry_errors,
        no_progress=no_progress,
        dry_run=dry_run,
        config_path=config_path,
    )


def _config_from_specs(
    specs: tuple[str, ...],
    base_url: str | None,
    api_key_env: str | None,
    concurrency: int | None,
    judge_model: str | None,
    max_tokens: int | None,
) -> Any:
    from cvalues.pipeline.config import default_config, default_rubric

    overrides: dict[str, Any] = {
        "model_options": {"base_url": base_url, "api_key_env": api_key_env},
        "concurrency": concurrency,
    }
    overrides["model_options"] = {k: v for k, v in overrides["model_options"].items() if v}
    if max_tokens:
        overrides["model_options"]["settings"] = {"max_tokens": max_tokens}
    if judge_model:
        overrides["judge"] = {
            "safety": {"spec": judge_model, "rubric": default_rubric("safety", judge_model)}
        }
    return default_config(list(specs), **overrides)


def _data_config(config: Any, data_kwargs: dict[str, Any]) -> Any:
    """Command-line data options win over the config's ``data`` section, which wins over the environment."""
    from cvalues.cli.data import data_config_from_options

    section = config.data
    cli = data_config_from_options(**data_kwargs)
    if not data_kwargs.get("data_mirror") and section.mirror:
        cli.mirror = Path(section.mirror).expanduser()
    if not data_kwargs.get("cache_dir") and section.cache_dir:
        cli.cache_dir = Path(section.cache_dir).expanduser()
    cli.offline = cli.offline or section.offline
    cli.paths = {**{k: Path(v).expanduser() for k, v in section.source_files.items()}, **cli.paths}
    return cli


def _run(
    config: Any,
    out: Path,
    data_kwargs: dict[str, Any],
    *,
    retry_errors: bool,
    no_progress: bool,
    dry_run: bool,
    config_path: Path | None = None,
) -> None:
    from cvalues.pipeline.preflight import PreflightError, format_missing
    from cvalues.pipeline.stages import Pipeline

    def missing_error(missing: list[Any]) -> click.ClickException:
        """The preflight's list, each missing path with the config line that names it."""
        if config_path is not None:
            from cvalues.pipeline.config import locate_values

            where = locate_values(config_path, [m.path for m in missing if m.path])
            missing = [dataclasses.replace(m, where=where.get(m.path or "")) for m in missing]
        return click.ClickException(format_missing(missing))

    def echo(line: str) -> None:
        click.echo(line, err=True)

    pipeline = Pipeline(
        config,
        out=out,
        data_config=_data_config(config, data_kwargs),
        retry_errors=retry_errors,
        progress_bars=not no_progress and sys.stderr.isatty(),
        echo=echo,
    )
    if dry_run:
        missing = pipeline.preflight()
        if missing:
            raise missing_error(missing)
        with data_errors():
            pipeline.load_suites()
        names = [m.name for m in config.models]
        click.echo(f"nothing missing; {len(names)} model(s) x stages, into {out}:")
        for stage in pipeline.stages():
            what = stage.suite or f"judge of {stage.judged}"
            click.echo(f"  {stage.name:<24} {what}")
        click.echo("models: " + ", ".join(f"{m.name} ({m.spec})" for m in config.models))
        return
    stopped_by: list[int] = []

    def stop(signum: int, _frame: Any) -> None:  # SIGTERM (docker stop, timeout) ends a run like Ctrl-C
        stopped_by.append(signum)
        raise KeyboardInterrupt

    try:
        previous: Any = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding caller): its own handling stays
        previous = None
    try:
        with data_errors():
            result = pipeline.run()
    except PreflightError as exc:
        raise missing_error(exc.missing) from exc
    except KeyboardInterrupt:
        from cvalues.cli.run_control import resume_command
        from cvalues.pipeline.stages import stored_answers

        signum = stopped_by[0] if stopped_by else int(signal.SIGINT)
        click.echo(
            f"\ninterrupted by {signal.Signals(signum).name}: {stored_answers(out)} answers are stored "
            f"under {out}; resume with: {resume_command()}",
            err=True,
        )
        sys.exit(128 + signum)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo(result.table())
    for note in result.notes:
        click.echo(note)
    failed = [o for o in result.outcomes if not o.ok]
    for o in failed:
        click.echo(f"{o.model} {o.stage}: {o.status}: {o.detail}", err=True)
    if failed:
        sys.exit(1)
