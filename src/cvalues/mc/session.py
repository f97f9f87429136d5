"""What every scored run shares: asking under the run directory's lock, writing its files, logprob picks.

Both the two-reply test (:mod:`cvalues.mc.runner`) and the option questions (:mod:`cvalues.mc.options`)
ask through the run engine and then score from the store. :func:`scored_session` holds the run
directory for that whole time (lock, manifest identity, store, one engine session);
:func:`write_mode_files` writes one mode's predictions, failures and metrics; :func:`pick_by_logprob`
is the one rule by which log-probabilities become a pick.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.atomic import atomic_write_bytes
from cvalues.models.base import GenerationSettings, ModelBackend
from cvalues.runs import Request, RunDir, RunManifest, RunStore, RunSummary, execute_async
from cvalues.runs.session import open_run


@dataclass
class ScoredSession:
    """An open run directory after asking: its manifest, its store, and what the engine did."""

    run_dir: RunDir
    manifest: RunManifest
    store: RunStore
    summary: RunSummary


@asynccontextmanager
async def scored_session(
    model: ModelBackend,
    suite: Any,
    run_dir: Path,
    requests: Sequence[Request],
    *,
    settings: GenerationSettings,
    extra: Mapping[str, Any],
    concurrency: int | None,
    retry_errors: bool,
    progress: bool,
    session_options: Mapping[str, Any],
) -> AsyncIterator[ScoredSession]:
    """Ask what ``run_dir`` does not hold yet, then yield the session for scoring and writing.

    The directory's writer lock is held until the block ends, so the files written inside it belong
    to this session. ``extra`` joins the run identity (the template: a changed template is refused).
    """
    rundir = RunDir(Path(run_dir))
    with open_run(
        rundir.path, model=model, settings=settings, suite=suite, suite_name=suite.name, extra=extra
    ) as (manifest, store):
        summary = await execute_async(
            model,
            requests,
            store=store,
            settings=settings,
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=progress,
            manifest=manifest,
            session_options=session_options,
        )
        yield ScoredSession(rundir, manifest, store, summary)


def jsonl_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_mode_files(
    run_dir: Path,
    prefix: str,
    mode: str,
    *,
    scored: Sequence[Mapping[str, Any]],
    failed: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any],
) -> list[Path]:
    """Write ``<prefix>-<mode>-predictions.jsonl`` (scored items), ``-errors.jsonl`` (failed requests:
    when there are any, or to bring an earlier one up to date) and ``-metrics.json``, atomically."""
    base = Path(run_dir)
    predictions = base / f"{prefix}-{mode}-predictions.jsonl"
    errors = base / f"{prefix}-{mode}-errors.jsonl"
    metrics_path = base / f"{prefix}-{mode}-metrics.json"
    atomic_write_bytes(predictions, jsonl_bytes(scored))
    written = [predictions]
    if failed or errors.exists():
        atomic_write_bytes(errors, jsonl_bytes(failed))
        written.append(errors)
    atomic_write_bytes(metrics_path, json_bytes(metrics))
    written.append(metrics_path)
    return written


def pick_by_logprob(scores: Mapping[str, float], bounded: Mapping[str, bool]) -> tuple[str, str]:
    """(pred, rule) from each label's log-probability; ``bounded[label]`` marks a value that is only an
    upper bound (the server did not list that candidate among its top alternatives).

    The most likely label wins (``logprob:argmax``). A bound is never trusted to win: a bounded leader,
    or a tie among bounded values only, is ``Need_Check`` (``logprob:bound``); an exact value tied with
    a bound wins, since the bounded one can only be lower. A tie of exact values is ``Other``
    (``logprob:tie``). A NaN or +inf (a numerical failure, e.g. fp16 overflow) is ``Need_Check``
    (``logprob:nan``): NaN compares false with everything and would otherwise always pick the first.
    """
    if not scores:
        raise ValueError("no candidates to pick from")
    if any(math.isnan(v) or v == math.inf for v in scores.values()):
        return "Need_Check", "logprob:nan"
    top = max(scores.values())
    exact_leaders = [label for label, v in scores.items() if v == top and not bounded.get(label, False)]
    if not exact_leaders:
        return "Need_Check", "logprob:bound"
    if len(exact_leaders) > 1:
        return "Other", "logprob:tie"
    return exact_leaders[0], "logprob:argmax"
