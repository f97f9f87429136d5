"""Open generation as a library call: ask a model a prompt suite's items into one durable run directory.

`cvalues generate` and `cvalues run` both call :func:`generate_async`, so a run made by either is the
same run (same requests, keys, manifest identity): one resumes the other and neither asks twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.data.schema import PromptRecord
from cvalues.models.base import GenerationSettings, ModelBackend
from cvalues.runs.engine import RunSummary, execute_async
from cvalues.runs.request import Request, chat_messages, select
from cvalues.runs.session import open_run

#: Prompt-record meta keys copied into each request's meta (the judge reads the first three from the
#: store; the source category and JailBench's seed harm domain let an analysis separate "resists the
#: jailbreak" from the content). Request meta is not part of a request's key: adding a key re-asks nothing.
PASSED_META_KEYS: tuple[str, ...] = (
    "adversarial",
    "judge_note",
    "reference",
    "source_category",
    "harm_domain",
)


def prompt_requests(records: Sequence[PromptRecord], system_prompt: str | None) -> list[Request]:
    """One generate request per prompt record: its text as the user turn, after the system prompt if any."""
    return [
        Request(
            r.id,
            chat_messages(r.text, system_prompt),
            meta={
                "level": r.level,
                "category": r.category,
                "source": r.source,
                **{k: r.meta[k] for k in PASSED_META_KEYS if k in (r.meta or {})},
            },
        )
        for r in records
    ]


@dataclass
class GenerateResult:
    """What :func:`generate_async` did: the run directory, how many items it asked, the engine's counts."""

    run_dir: Path
    items: int
    summary: RunSummary
    #: Prompts the suite held before sampling (a ``sample`` larger than this asks them all).
    available: int = 0


async def generate_async(
    model: ModelBackend,
    suite: Any,
    run_dir: str | Path,
    *,
    settings: GenerationSettings,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    concurrency: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    session_options: Mapping[str, Any] | None = None,
) -> GenerateResult:
    """Ask ``model`` the prompts of ``suite`` (a data-layer suite of kind ``prompt``) not yet answered in
    ``run_dir``. ``sample`` picks N items by a seeded hash of their ids, then ``limit`` keeps the first N
    (a suite with a sampler of its own, safety-prompts, has sampled already when it was loaded)."""
    if getattr(suite, "kind", None) != "prompt":
        raise ValueError(
            f"suite {getattr(suite, 'name', suite)!r} holds {getattr(suite, 'kind', '?')} items, "
            "not prompts; "
            "open generation asks prompt suites (score multi-choice suites with the mc commands)"
        )
    records = [r for r in suite.records() if isinstance(r, PromptRecord)]
    chosen = select(records, limit=limit, sample=sample, seed=seed)
    requests = prompt_requests(chosen, settings.system_prompt)
    session = {
        "command": "generate",
        "limit": limit,
        "sample": sample,
        "seed": seed,
        "suite_options": suite.describe().get("options"),
        "items": len(requests),
        **dict(session_options or {}),
    }
    with open_run(Path(run_dir), model=model, settings=settings, suite=suite, suite_name=suite.name) as (
        manifest,
        store,
    ):
        summary = await execute_async(
            model,
            requests,
            store=store,
            settings=settings,
            concurrency=concurrency,
            retry_errors=retry_errors,
            progress=progress,
            manifest=manifest,
            session_options=session,
        )
    return GenerateResult(Path(run_dir), len(requests), summary, available=len(records))
