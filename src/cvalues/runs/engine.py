"""Resumable, concurrent execution of requests against a model, every answer stored as it arrives.

:func:`execute` skips what the store already holds, asks the rest with ``concurrency`` requests (or
batches, for backends with ``preferred_batch_size > 1``) in flight, commits each result the moment
it arrives, and returns a :class:`RunSummary`. Failures are results too: each is stored with its
cause and counted, never dropped; ``retry_errors=True`` asks stored failures again.

The backend retries transient HTTP errors itself; the engine records the final outcome per item.
Killing the process at any moment loses at most the requests in flight: a rerun asks exactly those.

Failing fast. Before asking, the backend's :meth:`~cvalues.models.base.ModelBackend.preflight` checks
that the model can be reached at all. A failure no other request can get past (``ModelError.fatal``: a
wrong key or model name, a server without log-probabilities) and :data:`UNREACHABLE_IN_A_ROW`
connection failures in a row with the same cause stop the run with :class:`RunAborted`. So does a
failure of the machine rather than of the model (too many open files, no memory, a full disk; or the
store's ``StoreError``). Such failures are not recorded against the items (they are not about the
items), so a rerun after the fix asks them as new; what was answered before the stop stays stored.
A session in which every request failed ends ``failed``, never ``finished``. While the progress bar
is shown, log records (the backend's retry messages) are written through it, so they never break its
line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import errno
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from cvalues.models.base import (
    BLOCKED_FINISH_REASON,
    Generation,
    GenerationSettings,
    ModelBackend,
    ModelError,
    ModelUnreachable,
    ProviderBlocked,
)
from cvalues.models.replay import ReplayBackend
from cvalues.redact import mask_text
from cvalues.runs.manifest import RunManifest
from cvalues.runs.request import Request, model_fingerprint
from cvalues.runs.store import Answer, RunStore, StoreError, utc_now
from cvalues.textcut import shorten

log = logging.getLogger(__name__)

#: Connection failures in a row, with one cause and no answer between them, that stop a run.
UNREACHABLE_IN_A_ROW = 5

#: OS errors that say the machine, not the model, failed: asking on would fail every item alike.
_RESOURCE_ERRNOS = {
    errno.EMFILE: "too many open files: raise the limit (`ulimit -n 4096`) or lower --concurrency",
    errno.ENFILE: "the system's table of open files is full: close other programs or lower --concurrency",
    errno.ENOSPC: "the disk is full: free some space",
    errno.ENOMEM: "out of memory: lower --concurrency or free memory",
}


class RunAborted(RuntimeError):
    """The run stopped early because no further request could succeed: a model error that no other
    request can get past (``cause``), or the machine running out of a resource (file descriptors, disk,
    memory). Answers stored before the stop are kept; the stop's cause is not stored per item, so a
    rerun asks those items again."""

    def __init__(self, message: str, *, cause: ModelError | None = None, summary: RunSummary | None = None):
        super().__init__(message)
        self.cause = cause
        self.summary = summary


def resource_failure(exc: BaseException | None) -> str | None:
    """What to do, when ``exc`` (or an exception it was raised from) is a resource failure."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            return _RESOURCE_ERRNOS[exc.errno]
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


#: Who asks the model: ``local`` (this process's event loop) or ``ray`` (a Ray Data batch inference
#: job, :mod:`cvalues.runs.ray_executor`). Set by ``--executor`` for one command; everything else
#: (what is pending, the manifest session, how answers are stored) is the same either way.
EXECUTOR: contextvars.ContextVar[str] = contextvars.ContextVar("cvalues_executor", default="local")
EXECUTORS = ("local", "ray")


@dataclass
class RunSummary:
    """Counts of one :func:`execute` call.

    ``total`` requests were given, ``unique`` distinct keys among them; ``cached`` were already
    answered and ``skipped_errors`` already failed (not asked again without ``retry_errors``);
    ``asked`` were sent, of which ``ok`` succeeded and ``failed`` failed (``errors_by_cause``:
    ``"ErrorType: message" -> count`` over this call's failures). ``blocked`` of the ``ok`` answers
    were given by the provider's content moderation in the model's place (``Answer.blocked``).
    ``aborted`` is the reason the run stopped early (see :class:`RunAborted`), else None.
    """

    total: int = 0
    unique: int = 0
    cached: int = 0
    skipped_errors: int = 0
    asked: int = 0
    ok: int = 0
    failed: int = 0
    blocked: int = 0
    errors_by_cause: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    interrupted: bool = False
    aborted: str | None = None

    @property
    def answered(self) -> int:
        """Distinct requests with an answer now (cached or new)."""
        return self.cached + self.ok

    @property
    def unanswered(self) -> int:
        """Distinct requests whose stored result is a failure (old or new)."""
        return self.skipped_errors + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "answered": self.answered, "unanswered": self.unanswered}


def execute(
    model: ModelBackend,
    requests: Iterable[Request],
    *,
    store: RunStore,
    settings: GenerationSettings,
    concurrency: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    manifest: RunManifest | None = None,
    session_options: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Synchronous :func:`execute_async` (runs its own event loop; use the async form inside one)."""
    return asyncio.run(
        execute_async(
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
    )


async def execute_async(
    model: ModelBackend,
    requests: Iterable[Request],
    *,
    store: RunStore,
    settings: GenerationSettings,
    concurrency: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    manifest: RunManifest | None = None,
    session_options: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Ask ``model`` every request not yet answered in ``store``; see the module docstring.

    ``concurrency`` (default ``model.default_concurrency``) is the number of requests (or batches)
    in flight. ``manifest``, when given, records this session's start, options and end.
    """
    t0 = time.perf_counter()
    asked_concurrency = concurrency  # Ray sizes its actor pool from what the user asked, not the default
    concurrency = concurrency or model.default_concurrency or 1
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    fingerprint = model_fingerprint(model)
    summary = RunSummary()
    pending: dict[str, Request] = {}
    for request in requests:
        summary.total += 1
        pending.setdefault(request.key(fingerprint, settings), request)
    summary.unique = len(pending)
    for key, status in store.statuses(pending).items():
        if status == "ok":
            summary.cached += 1
            del pending[key]
        elif not retry_errors:
            summary.skipped_errors += 1
            del pending[key]
    todo = list(pending.items())

    if manifest is not None:
        manifest.begin_session(
            {
                **dict(session_options or {}),
                "concurrency": concurrency,
                "retry_errors": retry_errors,
                "requests": summary.total,
            }
        )
    causes: collections.Counter[str] = collections.Counter()
    status = "failed"
    bar: tqdm | None = None
    runner: _Runner | None = None
    try:
        if todo:  # before the bar, so that a run that cannot start says so in one line
            await _preflight(model)
        bar = tqdm(
            total=len(todo),
            unit="request",
            desc=model.spec,
            disable=not progress,
            smoothing=0.05,
            dynamic_ncols=True,
        )
        runner = _Runner(model, settings, store, fingerprint, summary, causes, bar)
        batch_size = max(1, int(model.preferred_batch_size or 1))
        if batch_size > 1:  # batches of similar length waste less on padding; longest first
            todo.sort(key=lambda kv: (kv[1].kind, -sum(len(m.content) for m in kv[1].messages)))
        with logging_redirect_tqdm(tqdm_class=tqdm) if progress else contextlib.nullcontext():
            if EXECUTOR.get() == "ray" and todo:  # the same plan and records, asked by a Ray Data job
                from cvalues.runs.ray_executor import run_on_ray

                await run_on_ray(model, todo, runner, actors=asked_concurrency, progress=progress)
            else:
                units = _units(todo, batch_size)
                workers = [
                    asyncio.create_task(runner.work(units)) for _ in range(min(concurrency, len(todo)))
                ]
                try:
                    await asyncio.gather(*workers)
                except BaseException:
                    for w in workers:
                        w.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                    raise
            runner.flush()
        # a session where every request failed did not finish its work: never shown as finished
        status = "failed" if summary.unique and summary.answered == 0 else "finished"
    except RunAborted as exc:
        status = "aborted"
        summary.aborted = str(exc)
        exc.summary = summary
        await model.aclose()  # frees its connections (a backend reopens them when asked again)
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        status = "interrupted"
        summary.interrupted = True
        if runner is not None:
            runner.flush()  # connection failures held back so far are failures of their items after all
        raise
    finally:
        if bar is not None:
            bar.close()
        summary.errors_by_cause = dict(causes.most_common())
        summary.elapsed_s = round(time.perf_counter() - t0, 3)
        if manifest is not None:
            try:
                manifest.end_session(status, summary.to_dict(), store.counts())
            except (OSError, ValueError, StoreError) as exc:  # e.g. the disk is full: keep the first error
                log.error("could not record the end of the session in %s: %s", manifest.path, exc)
    return summary


async def _preflight(model: ModelBackend) -> None:
    try:
        await model.preflight()
    except ModelError as exc:
        if not exc.fatal:
            raise
        raise RunAborted(" ".join(str(exc).split()), cause=exc) from exc


def _units(todo: Sequence[tuple[str, Request]], batch_size: int) -> Iterator[list[tuple[str, Request]]]:
    """Work units in order: one request each, or up to ``batch_size`` consecutive requests of one kind."""
    batch: list[tuple[str, Request]] = []
    for key, request in todo:
        if batch_size == 1:
            yield [(key, request)]
            continue
        if batch and batch[0][1].kind != request.kind:
            yield batch
            batch = []
        batch.append((key, request))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Runner:
    """Asks and records; one instance per execute() call, shared by its worker coroutines."""

    def __init__(
        self,
        model: ModelBackend,
        settings: GenerationSettings,
        store: RunStore,
        fingerprint: str,
        summary: RunSummary,
        causes: collections.Counter[str],
        bar: tqdm,
    ):
        self.model, self.settings, self.store = model, settings, store
        self.summary, self.causes, self.bar = summary, causes, bar
        self.settings_dict = settings.to_dict()
        self._logged_unexpected = False
        #: Connection failures in a row with one cause, held back until an answer or another cause.
        self._unreachable: list[Answer] = []

    async def work(self, units: Iterator[list[tuple[str, Request]]]) -> None:
        # One shared iterator: next() never awaits, so workers never take the same unit.
        for unit in units:
            if len(unit) == 1 or isinstance(self.model, ReplayBackend):
                for key, request in unit:
                    await self._one(key, request)
            else:
                await self._batch(unit)

    async def _one(self, key: str, request: Request) -> None:
        started, t0 = utc_now(), time.perf_counter()
        try:
            if request.kind == "logprobs":
                values = await self.model.candidate_logprobs(request.messages, request.candidates)
                result: Generation | list[float] | BaseException = self._check_logprobs(request, values)
            else:
                result = await self._generate(request)
        except Exception as exc:
            result = exc
        self.record([(key, request, result)], started, time.perf_counter() - t0)

    async def _generate(self, request: Request) -> Generation:
        """``generate``; a replay backend is asked by item id first (its preferred way, see
        :mod:`cvalues.models.replay`), then by prompt text when its file has prompts."""
        if isinstance(self.model, ReplayBackend):
            try:
                return self.model.lookup(request.item_id)
            except ModelError:
                if self.model.needs_item_id:
                    raise
        return await self.model.generate(request.messages, self.settings)

    async def _batch(self, unit: list[tuple[str, Request]]) -> None:
        started, t0 = utc_now(), time.perf_counter()
        try:
            if unit[0][1].kind == "logprobs":
                method = "candidate_logprobs_batch"
                scored = await self.model.candidate_logprobs_batch(
                    [(r.messages, r.candidates) for _, r in unit]
                )
                results: list[Any] = [
                    v if isinstance(v, BaseException) else self._check_logprobs(r, v)
                    for (_, r), v in zip(unit, scored, strict=False)
                ]
            else:
                method = "generate_batch"
                results = list(await self.model.generate_batch([r.messages for _, r in unit], self.settings))
            if len(results) != len(unit):
                raise ModelError(
                    f"{type(self.model).__name__}.{method} returned {len(results)} results "
                    f"for {len(unit)} requests"
                )
        except Exception as exc:
            results = [exc] * len(unit)
        latency = time.perf_counter() - t0
        self.record([(k, r, res) for (k, r), res in zip(unit, results, strict=True)], started, latency)

    @staticmethod
    def _check_logprobs(request: Request, values: Sequence[float]) -> list[float] | ModelError:
        values = list(values)
        if len(values) != len(request.candidates):
            return ModelError(
                f"candidate_logprobs returned {len(values)} values for {len(request.candidates)} candidates"
            )
        return values

    def record(self, results: list[tuple[str, Request, Any]], started: str, latency: float) -> None:
        """Store a unit's results (the local workers and the Ray executor both hand them here)."""
        for _, _, result in results:
            advice = resource_failure(result) if isinstance(result, BaseException) else None
            if advice is not None:
                cause = mask_text(" ".join(str(result).split()))[:300]
                raise RunAborted(
                    f"{self.model.spec}: {cause}; {advice}, then rerun the same command to resume"
                ) from result
        finished = utc_now()
        fatal = next((r for _, _, r in results if isinstance(r, ModelError) and r.fatal), None)
        results = [t for t in results if not (isinstance(t[2], ModelError) and t[2].fatal)]
        answers = []
        for key, request, result in results:
            common = {
                "key": key,
                "item_id": request.item_id,
                "kind": request.kind,
                "model": self.model.spec,
                "messages": request.messages,
                "candidates": request.candidates,
                "settings": self.settings_dict if request.kind == "generate" else None,
                "meta": request.meta,
                "started_at": started,
                "finished_at": finished,
                "latency_s": round(latency, 6),
            }
            if isinstance(result, Generation):
                answer = Answer(
                    **common,
                    status="ok",
                    text=result.text,
                    finish_reason=result.finish_reason,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    blocked=result.raw.get("blocked") if result.blocked else None,
                )
            elif isinstance(result, list):
                answer = Answer(**common, status="ok", logprobs=result)
            elif isinstance(result, ProviderBlocked):
                # the provider's moderation answered a scoring request: an answer (no scores), as a
                # blocked generation is (its reply withheld), not a failure to ask again
                answer = Answer(
                    **common, status="ok", finish_reason=BLOCKED_FINISH_REASON, blocked=result.block
                )
            else:
                if not isinstance(result, BaseException):
                    result = TypeError(f"backend returned {type(result).__name__}, expected Generation")
                if not isinstance(result, ModelError) and not self._logged_unexpected:
                    self._logged_unexpected = True
                    log.error(
                        "unexpected %s from %s (recorded per item)",
                        type(result).__name__,
                        self.model.spec,
                        exc_info=result,
                    )
                message = shorten(mask_text(str(result)), 2000)  # masked before the cut
                answer = Answer(
                    **common,
                    status="error",
                    error_type=type(result).__name__,
                    error=message,
                    retryable=bool(getattr(result, "retryable", False)),
                )
            answers.append(answer)
        self._hold_unreachable(answers, results)
        if fatal is not None:
            raise RunAborted(f"stopped at the first answer: {' '.join(str(fatal).split())}", cause=fatal)

    def _hold_unreachable(self, answers: list[Answer], results: list[tuple[str, Request, Any]]) -> None:
        """Store ``answers``, except connection failures that may be the start of a run of them: those
        wait until an answer or another cause arrives, and stop the run when they reach the limit."""
        ready: list[Answer] = []
        for answer, (_, _, result) in zip(answers, results, strict=True):
            if not isinstance(result, ModelUnreachable):
                ready += self._unreachable
                self._unreachable = []
                ready.append(answer)
                continue
            if self._unreachable and self._unreachable[0].cause != answer.cause:
                ready += self._unreachable
                self._unreachable = []
            self._unreachable.append(answer)
            if len(self._unreachable) >= UNREACHABLE_IN_A_ROW:
                self._store(ready)
                raise RunAborted(
                    f"{len(self._unreachable)} requests in a row could not reach the server: "
                    + " ".join(str(result).split()),
                    cause=result,
                )
        self._store(ready)

    def flush(self) -> None:
        """Store the connection failures held back (they turned out not to be a run of them)."""
        held, self._unreachable = self._unreachable, []
        if held:
            self._store(held)

    def _store(self, answers: list[Answer]) -> None:
        if not answers:
            return
        self.store.put_many(answers)
        failed = 0
        for answer in answers:
            if answer.ok:
                self.summary.ok += 1
                self.summary.blocked += answer.blocked is not None
            else:
                failed += 1
                self.causes[answer.cause or "unknown"] += 1
        self.summary.asked += len(answers)
        self.summary.failed += failed
        if failed:
            self.bar.set_postfix(failed=self.summary.failed, refresh=False)
        self.bar.update(len(answers))
