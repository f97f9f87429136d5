"""`--judge-extract SPEC` for `cvalues mc run` and `cvalues mc score`: a judge reads the Need_Check answers.

Kept apart from the mc commands so that they gain one option group and one call each; the library is
:mod:`cvalues.judge.extract`. Results: the predictions (or scored) file gains ``judge_read``,
``judge_pred``, ``judge_raw`` and ``judge_model`` per row (``pred`` untouched), and
``*-judge-extract-metrics.json`` holds acc/acc* with and without the judge's readings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cvalues.cli.model_options import load_model_from_options

OPTION_NAMES = ("judge_extract", "judge_extract_base_url", "judge_extract_api_key_env")


def judge_extract_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--judge-extract SPEC`` (+ its base URL and key variable); they reach ``func`` as one dict
    ``judge_extract`` (None when not given)."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        spec = kwargs.pop("judge_extract")
        base_url = kwargs.pop("judge_extract_base_url")
        key_env = kwargs.pop("judge_extract_api_key_env")
        options = None if spec is None else {"model_spec": spec, "base_url": base_url, "api_key_env": key_env}
        return func(judge_extract=options, **kwargs)

    options = [
        click.option(
            "--judge-extract",
            metavar="SPEC",
            default=None,
            help="A judge model that reads the answers the extractor left as Need_Check (which reply did it "
            "choose?); acc/acc* are reported with and without its readings.",
        ),
        click.option("--judge-extract-base-url", default=None, help="openai: the judge's server base URL."),
        click.option(
            "--judge-extract-api-key-env", default=None, help="openai: variable holding the judge's key."
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _read(
    options: dict[str, Any], items: list[Any], work_dir: Path, progress: bool, retry_errors: bool = False
) -> tuple[dict[str, Any], str]:
    from cvalues.judge.extract import read_need_check_async

    model = load_model_from_options(**options)

    async def go() -> dict[str, Any]:
        try:
            return await read_need_check_async(
                items, judge_model=model, work_dir=work_dir, progress=progress, retry_errors=retry_errors
            )
        finally:
            await model.aclose()

    import asyncio

    from cvalues.runs import ManifestMismatch, RunAborted, RunDirBusy

    try:
        return asyncio.run(go()), model.spec
    except (ManifestMismatch, RunDirBusy, RunAborted) as exc:
        raise click.ClickException(str(exc)) from exc


def _emit(result: dict[str, Any], metrics_path: Path, fmt: str) -> None:
    from cvalues.atomic import atomic_write_bytes
    from cvalues.judge.extract import render_side_by_side
    from cvalues.mc.session import json_bytes

    atomic_write_bytes(metrics_path, json_bytes(result))
    if fmt == "json":
        click.echo(f"judge-extract metrics (with and without the judge) in {metrics_path}", err=True)
    else:
        click.echo("\n" + render_side_by_side(result))
        click.echo(f"wrote {metrics_path}")


def extract_for_scored_rows(
    rows: list[Any], output: Path, options: dict[str, Any], *, fmt: str, bootstrap: int, progress: bool = True
) -> dict[str, Any]:
    """``mc score``: read the Need_Check rows of an official-format file (OfficialRow list, scored), add
    the judge fields to each row's ``extra``, rewrite ``output`` and write the side-by-side metrics."""
    from cvalues.judge.extract import ExtractInput, annotate_rows, side_by_side
    from cvalues.mc import official

    items = [
        ExtractInput(r.item_id, str(r.data.get("prompt") or ""), r.response)
        for r in rows
        if r.pred == "Need_Check"
    ]
    work_dir = output.with_name(output.name.removesuffix(".jsonl") + ".judge-extract")
    readings, spec = _read(options, items, work_dir, progress) if items else ({}, options["model_spec"])
    records = [{"id": r.item_id, "pred": r.pred} for r in rows]
    annotate_rows(records, readings, spec)
    for row, record in zip(rows, records, strict=True):
        row.extra.update({k: v for k, v in record.items() if k.startswith("judge_")})
    official.write_rows(output, rows, force=True)
    result = side_by_side([r.to_scored() for r in rows], records, resamples=bootstrap)
    _emit(result, output.with_name(output.name.removesuffix(".jsonl") + ".judge-extract-metrics.json"), fmt)
    return result


def extract_for_run_dir(
    run_dir: Path,
    options: dict[str, Any],
    *,
    fmt: str,
    bootstrap: int,
    progress: bool = True,
    retry_errors: bool = False,
) -> dict[str, Any] | None:
    """``mc run``: read the Need_Check rows of ``mc-generate-predictions.jsonl`` (prompts from the run's
    store), rewrite it with the judge fields and write ``mc-generate-judge-extract-metrics.json``."""
    from cvalues.atomic import atomic_write_bytes
    from cvalues.judge.extract import ExtractInput, annotate_rows, jsonl_rows, side_by_side
    from cvalues.mc.metrics import ScoredItem
    from cvalues.mc.session import jsonl_bytes
    from cvalues.runs import RunDir, RunStore

    predictions = Path(run_dir) / "mc-generate-predictions.jsonl"
    if not predictions.is_file():
        click.echo("--judge-extract reads generate-mode answers; this run has none", err=True)
        return None
    rows = jsonl_rows(predictions)
    need = {str(r["id"]) for r in rows if r.get("pred") == "Need_Check"}
    prompts: dict[str, str] = {}
    if need:
        with RunStore(RunDir(Path(run_dir)).store_path, readonly=True) as store:
            for answer in store.answers(kind="generate", status="ok"):
                if answer.item_id in need:
                    users = [m.content for m in answer.messages if m.role == "user"]
                    prompts[answer.item_id] = users[-1] if users else ""
    items = [
        ExtractInput(str(r["id"]), prompts.get(str(r["id"]), ""), r.get("response") or "")
        for r in rows
        if r.get("pred") == "Need_Check"
    ]
    readings, spec = (
        _read(options, items, Path(run_dir) / "judge-extract", progress, retry_errors)
        if items
        else ({}, options["model_spec"])
    )
    annotate_rows(rows, readings, spec)
    atomic_write_bytes(predictions, jsonl_bytes(rows))
    scored_rows = [r for r in rows if r.get("pred") is not None]
    scored = [
        ScoredItem(
            str(r["id"]), r.get("pair_id"), r["label"], r["pred"], r.get("category"), r.get("difficulty")
        )
        for r in scored_rows
    ]
    result = side_by_side(scored, scored_rows, resamples=bootstrap)
    _emit(result, Path(run_dir) / "mc-generate-judge-extract-metrics.json", fmt)
    return result
