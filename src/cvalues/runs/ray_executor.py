"""``--executor ray``: a local model asked by a Ray Data batch inference job, answers stored as they come.

Why: a user who outgrows one machine should run the model on an existing distributed engine, not on
something of ours. The run engine (:func:`cvalues.runs.engine.execute_async`) still decides what is
pending (answered items are never sent), opens the manifest session and records every answer; only
the asking moves: the pending requests become a Ray dataset, ``map_batches`` sends them in batches
of the backend's ``batch_size`` to a pool of actors that each hold the model (one actor per GPU, or
per CPU slot where the cluster has no GPU), and each finished batch streams back to this process,
which commits it to the run store at once. A kill loses at most the batches in flight, exactly as a
local run: rerun the same command (with either executor) to ask only what is missing.

The job's results are read on a thread of their own and handed to the event loop, which alone writes
the store: Ctrl-C or SIGTERM stops the run at once (the engine marks the session interrupted), not
when the Ray job ends.

Ray is used as installed: ``ray.init()`` connects to the cluster in ``RAY_ADDRESS`` when set, or
starts a local one (an already initialised Ray is used as it is). ``--concurrency`` is the number of
actors (default: the cluster's GPUs, else 1). Backends must be rebuildable in another process: the
``hf:`` backend records its options (``load_options``) for that.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cvalues.models.base import ChatMessage, Generation, GenerationSettings, ModelBackend, ModelError
from cvalues.runs.request import Request
from cvalues.runs.store import utc_now

if TYPE_CHECKING:
    from cvalues.runs.engine import _Runner


class ModelActor:
    """A Ray actor holding one model; called with a batch of requests, returns one result per row.

    Each result is a JSON string: ``{"text", "finish_reason", "prompt_tokens", "completion_tokens"}``
    for a generation, ``{"logprobs": [...]}`` for candidate scores, ``{"error_type", "error",
    "retryable"}`` for a failure; with the batch's ``started_at`` and ``latency_s``.
    """

    def __init__(self, spec: str, options: dict[str, Any], settings: dict[str, Any]) -> None:
        from cvalues.models.registry import load_model

        self.model = load_model(spec, **options)
        self.settings = GenerationSettings(**settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        requests = [json.loads(text) for text in batch["request"]]
        started, t0 = utc_now(), time.perf_counter()
        results = asyncio.run(self._ask(requests))
        latency = time.perf_counter() - t0
        return {
            "key": batch["key"],
            "result": np.array([json.dumps(r, ensure_ascii=False) for r in results], dtype=object),
            "started_at": np.array([started] * len(results), dtype=object),
            "latency_s": np.full(len(results), latency),
        }

    async def _ask(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{}] * len(requests)
        messages = [tuple(ChatMessage(m["role"], m["content"]) for m in r["messages"]) for r in requests]
        gen = [i for i, r in enumerate(requests) if r["kind"] == "generate"]
        lp = [i for i, r in enumerate(requests) if r["kind"] == "logprobs"]
        if gen:
            for i, g in zip(gen, await self._generate([messages[i] for i in gen]), strict=True):
                out[i] = _encode(g)
        if lp:
            items = [(messages[i], requests[i]["candidates"]) for i in lp]
            for i, values in zip(lp, await self._logprobs(items), strict=True):
                out[i] = _encode(values)
        return out

    async def _generate(self, batch: list[tuple[ChatMessage, ...]]) -> list[Generation | Exception]:
        try:
            return list(await self.model.generate_batch(batch, self.settings))
        except Exception as exc:
            return [exc] * len(batch)

    async def _logprobs(self, items: list[tuple[Any, Any]]) -> list[list[float] | Exception]:
        try:
            return list(await self.model.candidate_logprobs_batch(items))
        except Exception as exc:
            return [exc] * len(items)


def _encode(result: Generation | list[float] | BaseException) -> dict[str, Any]:
    if isinstance(result, Generation):
        return {
            "text": result.text,
            "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        }
    if isinstance(result, BaseException):
        return {
            "error_type": type(result).__name__,
            "error": str(result),
            "retryable": bool(getattr(result, "retryable", False)),
            "fatal": bool(getattr(result, "fatal", False)),  # fail-fast holds under Ray too
        }
    return {"logprobs": [float(v) for v in result]}


def _decode(data: dict[str, Any]) -> Generation | list[float] | BaseException:
    """The actor's result as the engine records it (a failure keeps its type name and message)."""
    if "logprobs" in data:
        return list(data["logprobs"])
    if "error_type" in data:
        return _error_type(data["error_type"])(
            data["error"], retryable=data["retryable"], fatal=data.get("fatal", False)
        )
    return Generation(
        text=data["text"],
        finish_reason=data["finish_reason"],
        prompt_tokens=data["prompt_tokens"],
        completion_tokens=data["completion_tokens"],
    )


@functools.cache
def _error_type(name: str) -> type[ModelError]:
    """A :class:`ModelError` named as the actor's exception was, so the store shows the same cause."""
    return ModelError if name == "ModelError" else type(name, (ModelError,), {})


def _request_json(request: Request) -> str:
    return json.dumps(
        {
            "kind": request.kind,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "candidates": list(request.candidates),
        },
        ensure_ascii=False,
    )


async def run_on_ray(
    model: ModelBackend,
    todo: Sequence[tuple[str, Request]],
    runner: _Runner,
    *,
    actors: int | None = None,
    progress: bool = True,
) -> None:
    """Ask ``todo`` (key, request) through a Ray Data job and record each batch as it completes.

    Cancelling the coroutine (a signal) stops the reading thread after the batch it waits for; the
    batches in flight are not recorded."""
    from cvalues.models.replicas import ReplicatedBackend

    if isinstance(model, ReplicatedBackend):  # its processes would hold the model for nothing
        raise ValueError(
            f"{model.spec} with replicas={len(model.replicas)}: the ray executor runs its own pool of model "
            "copies (one actor per GPU or CPU slot); load the model without replicas"
        )
    import ray

    options = getattr(model, "load_options", None)
    if options is None:
        raise ValueError(
            f"the ray executor runs local models (hf:...); {model.spec} is asked from this process "
            "(for a served model use openai: with a high --concurrency, see docs/scale.md)"
        )
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    gpus = int(ray.cluster_resources().get("GPU", 0))
    size = actors if actors and actors > 1 else max(1, gpus)
    by_key = dict(todo)
    dataset = ray.data.from_items([{"key": key, "request": _request_json(r)} for key, r in todo])
    answered = dataset.map_batches(
        ModelActor,
        fn_constructor_kwargs={"spec": model.spec, "options": options, "settings": runner.settings_dict},
        batch_size=max(1, int(model.preferred_batch_size or 1)),
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=size),
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1,
    )
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def hand_over(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(batches.put_nowait, item)
        except RuntimeError:  # the loop has closed: the run was stopped
            stop.set()

    def read() -> None:
        results = iter(answered.iter_batches(batch_size=None, batch_format="numpy"))
        try:
            for batch in results:
                if stop.is_set():
                    return
                hand_over(batch)
        except BaseException as exc:  # the job failed: raised in the event loop, where the run ends
            hand_over(exc)
        else:
            hand_over(done)
        finally:
            close = getattr(results, "close", None)
            if close is not None:  # a stopped run ends the job's execution here, not at exit
                close()

    reader = threading.Thread(target=read, name="cvalues-ray-results", daemon=True)
    reader.start()
    try:
        while (batch := await batches.get()) is not done:
            if isinstance(batch, BaseException):
                raise batch
            _record(batch, by_key, runner)
    finally:
        stop.set()


def _record(batch: dict[str, Any], by_key: dict[str, Request], runner: _Runner) -> None:
    """Record one finished batch of the job (rows grouped by the actor call that answered them)."""
    groups: dict[tuple[str, float], list[tuple[str, Request, Any]]] = {}
    for key, result, started, latency in zip(
        batch["key"], batch["result"], batch["started_at"], batch["latency_s"], strict=True
    ):
        entry = (str(key), by_key[str(key)], _decode(json.loads(result)))
        groups.setdefault((str(started), float(latency)), []).append(entry)
    for (started, latency), rows in groups.items():
        runner.record(rows, started, latency)
