"""``hf:`` with ``replicas=N``: N copies of the model, each in a process of its own (data parallelism).

Why processes: ``model.generate`` is Python-bound, so two model threads in one process are slower
than one (the GIL), while N processes with the cores split between them are faster: on 2 cores, two
single-thread processes generated 200 prompts in 1.1-1.4 s against 1.5-2.4 s for one process with
two threads, and scored 1,300 log-prob items in 5.2-5.5 s against 6.9-7.1 s (docs/scale.md). On a
machine with several GPUs it is the usual data parallelism: replica ``i`` on ``cuda:i``.

How it works:

* This process never imports torch or transformers. It sends each batch (the conversations and the
  settings, pickled through a pipe) to the replica with the fewest batches in flight and hands the
  results back. Each replica builds its own :class:`~cvalues.models.hf.HFBackend` with the same
  options and runs every batch on its main thread, where a forward is fastest, with
  :meth:`~cvalues.models.hf.HFBackend.generate_batch_sync` and
  :meth:`~cvalues.models.hf.HFBackend.score_batch_sync`: the same code on the same batches as one
  process, hence the same answers.
* Placement. CPU: the torch threads (``threads``, default torch's own choice in a replica: the
  physical cores) are split, ``threads // N`` each and at least 1. CUDA (``device`` ``cuda``, or
  ``auto`` on a CUDA machine): replica ``i`` on ``cuda:i``; more replicas than visible devices is an
  error (``CUDA_VISIBLE_DEVICES`` chooses which). A numbered device (``cuda:1``) or MPS cannot be
  shared out and is refused.
* Fail fast: the constructor returns once every replica has loaded. A replica that cannot load
  raises its error here (the same ``ValueError`` as a one-process backend: a missing folder, a bad
  checkpoint) and every replica already started is stopped.
* A replica that dies (killed, out of host memory): its batches in flight fail with a fatal
  :class:`~cvalues.models.base.ModelError` naming it and how it ended, so the run engine stops at
  once and records nothing against the items (rerun to resume); later batches go to the replicas
  still alive, and fail the same way when none is left.
* Shutdown: :meth:`ReplicatedBackend.aclose` stops every replica (an idle one exits when told, a
  busy one is terminated: nobody waits for its batch any more). Replicas ignore SIGINT (a terminal's
  Ctrl-C reaches the whole process group; this process decides and closes them), exit when this
  process's end of their pipe closes, and check every second that this process is still their
  parent, so a parent killed outright (SIGKILL) leaves no replica behind for more than a second.
  They are daemonic processes, so a parent that exits without :meth:`~ReplicatedBackend.aclose`
  terminates them too.

Replicas start with ``multiprocessing``'s ``spawn`` (a fresh interpreter: CUDA cannot be forked): a
script that builds one must keep its top-level code under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cvalues.models.base import (
    BatchedBackend,
    ChatMessage,
    Generation,
    GenerationSettings,
    ModelError,
)
from cvalues.models.hf import check_model_folder

if TYPE_CHECKING:
    from cvalues.models.hf import HFBackend

log = logging.getLogger(__name__)

#: Seconds between a replica's checks that its parent is alive.
PARENT_CHECK_S = 1.0
#: Seconds :meth:`ReplicatedBackend.aclose` gives a replica to exit before terminating it.
CLOSE_GRACE_S = 5.0
#: Devices that name one device, which N replicas cannot share out.
_ONE_DEVICE = re.compile(r"^(cuda:\d+|mps(:\d+)?)$")


# -- the replica process ---------------------------------------------------------------------------


def _serve(conn: Any, path: str, options: dict[str, Any], index: int, count: int, parent: int) -> None:
    """A replica's main: load, say so, then answer batches until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), name="cvalues-replica-parent", daemon=True).start()
    try:
        backend = _load_replica(path, options, index, count)
    except BaseException as exc:  # the parent raises it: the same error as a one-process backend
        _reply(conn, ("failed", _picklable(exc)))
    else:
        if _reply(conn, ("loaded", backend.describe())):
            _answer(conn, backend)
    # Exit handlers (multiprocessing's semaphores of tqdm's lock) but not the interpreter's teardown,
    # which takes seconds with torch loaded and has nothing left to write.
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _answer(conn: Any, backend: HFBackend) -> None:
    """Answer batches on this (main) thread until the parent says stop or is gone."""
    operations = {"generate": backend.generate_batch_sync, "score": backend.score_batch_sync}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent closed its end, or died
            return
        if message is None:
            return
        call_id, operation, args = message
        try:
            reply = (call_id, True, operations[operation](*args))
        except Exception as exc:  # the backend answers failures per item; anything else fails the batch
            reply = (call_id, False, _picklable(exc))
        if not _reply(conn, reply):
            return


def _load_replica(path: str, options: dict[str, Any], index: int, count: int) -> HFBackend:
    """Replica ``index`` of ``count``: its device (``cuda:index``) or its share of the CPU threads."""
    import torch

    from cvalues.models.hf import HFBackend, resolve_device

    device = resolve_device(options.get("device") or "auto")
    own = dict(options)
    if device == "cuda":
        visible = torch.cuda.device_count()
        if count > visible:
            raise ValueError(
                f"replicas={count} needs {count} CUDA devices, {visible} visible "
                "(CUDA_VISIBLE_DEVICES chooses which)"
            )
        own["device"] = f"cuda:{index}"
    elif device == "cpu":
        own["device"] = "cpu"
        own["threads"] = max(1, int(options.get("threads") or torch.get_num_threads()) // count)
    elif count > 1:
        raise ValueError(f"replicas={count} run on cpu or cuda devices, not {device}")
    if own.get("threads"):
        torch.set_num_threads(own["threads"])  # before the model loads and runs, on this main thread
    if index > 0:  # one set of loading bars on the terminal, not N interleaved
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    backend = HFBackend(path, **own)
    torch.set_num_threads(backend.threads)
    return backend


def _watch_parent(parent: int) -> None:
    """End this replica once its parent is gone (re-parented: the parent was killed outright)."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _reply(conn: Any, message: Any) -> bool:
    """Send ``message``; False when the parent is gone."""
    try:
        conn.send(message)
    except (OSError, ValueError):
        return False
    return True


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the trip to the parent, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


# -- the parent's side -------------------------------------------------------------------------------


@dataclass(eq=False)
class Replica:
    """One model process: where it runs and what it is doing (read-only for callers)."""

    index: int
    process: Any  # multiprocessing's SpawnProcess
    conn: Any
    #: Filled once it has loaded: the replica's own ``HFBackend.describe()``.
    facts: dict[str, Any] = field(default_factory=dict)
    #: Batches sent and not yet answered.
    in_flight: int = 0
    #: Batches answered.
    answered: int = 0
    #: Why it is gone, once it is (None while it runs).
    failure: str | None = None
    pending: dict[int, concurrent.futures.Future[Any]] = field(default_factory=dict)
    sender: ThreadPoolExecutor | None = None
    reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def device(self) -> str | None:
        return self.facts.get("device")

    @property
    def threads(self) -> int | None:
        return self.facts.get("threads")


def _ended(process: Any) -> str:
    """How a process ended, in words."""
    code = process.exitcode
    if code is None:
        return "its pipe closed while it still runs"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ReplicatedBackend(BatchedBackend):
    """``hf:PATH`` as ``replicas`` processes, each holding the model (see the module docstring).

    ``options`` are :class:`~cvalues.models.hf.HFBackend`'s (``device``, ``dtype``, ``batch_size``,
    ``revision``, ``trust_remote_code``, ``threads``); ``threads`` is the total, split between the
    replicas on CPU. Built by ``load_model("hf:...", replicas=N)`` for ``N > 1``.
    """

    def __init__(self, path: str, *, replicas: int, spec: str | None = None, **options: Any) -> None:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"replicas must be a whole number >= 1, got {replicas!r}")
        device = str(options.get("device") or "auto")
        if replicas > 1 and _ONE_DEVICE.match(device):
            raise ValueError(
                f"replicas={replicas} put replica i on cuda:i: give device cuda (or auto) and choose the "
                f"GPUs with CUDA_VISIBLE_DEVICES, or device cpu; not {device}"
            )
        check_model_folder(path)  # a missing folder fails here, before any process starts
        self.spec = spec or f"hf:{path}"
        self.path = path
        self.options = dict(options)
        self.replicas: list[Replica] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        context = multiprocessing.get_context("spawn")
        try:
            for index in range(replicas):
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=_serve,
                    args=(child_end, path, self.options, index, replicas, os.getpid()),
                    name=f"cvalues-replica-{index}",
                    daemon=True,
                )
                process.start()
                child_end.close()  # so that the replica's death is an EOF here
                self.replicas.append(Replica(index, process, parent_end))
            self._await_loaded()
        except BaseException:
            self.close()
            raise
        for replica in self.replicas:
            replica.sender = ThreadPoolExecutor(1, thread_name_prefix=f"cvalues-replica-{replica.index}-send")
            replica.reader = threading.Thread(
                target=self._read, args=(replica,), name=f"cvalues-replica-{replica.index}-read", daemon=True
            )
            replica.reader.start()
        first = self.replicas[0].facts
        self.preferred_batch_size = int(first.get("batch_size") or 1)
        #: Every replica has a batch queued while it computes one.
        self.default_concurrency = 2 * replicas
        log.info(
            "%s: %d replicas loaded (%s)",
            self.spec,
            replicas,
            ", ".join(f"{r.device} x{r.threads} threads, pid {r.pid}" for r in self.replicas),
        )

    def _await_loaded(self) -> None:
        """Wait until every replica has loaded; raise the first failure as it arrives."""
        waiting = {replica.conn: replica for replica in self.replicas}
        while waiting:
            for conn in multiprocessing.connection.wait(list(waiting)):
                replica = waiting.pop(conn)  # type: ignore[call-overload]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    replica.process.join(CLOSE_GRACE_S)
                    raise ValueError(
                        f"cannot load hf model {self.path!r}: replica {replica.index} (pid {replica.pid}) "
                        f"ended while loading ({_ended(replica.process)})"
                    ) from None
                if kind == "failed":
                    raise payload
                replica.facts = payload

    # -- asking ------------------------------------------------------------------------------------

    async def generate_batch(
        self, batch: Sequence[Sequence[ChatMessage]], settings: GenerationSettings
    ) -> list[Generation | ModelError]:
        if not batch:
            return []
        return list(await self._call("generate", [tuple(m) for m in batch], settings))

    async def candidate_logprobs_batch(
        self, items: Sequence[tuple[Sequence[ChatMessage], Sequence[str]]]
    ) -> list[list[float] | ModelError]:
        if not items:
            return []
        return list(await self._call("score", [(tuple(c), list(k)) for c, k in items]))

    async def _call(self, operation: str, *args: Any) -> Any:
        """Send one batch to the least busy replica and wait for its answer."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise ModelError(f"{self.spec}: the replicas have been closed", fatal=True)
            alive = [r for r in self.replicas if r.failure is None]
            if not alive:
                raise ModelError(self.replicas[-1].failure or "no replica left", fatal=True)
            replica = min(alive, key=lambda r: (r.in_flight, r.index))
            call_id = next(self._ids)
            replica.pending[call_id] = future
            replica.in_flight += 1
            assert replica.sender is not None
            replica.sender.submit(self._send, replica, call_id, (call_id, operation, args))
        return await asyncio.wrap_future(future)

    def _send(self, replica: Replica, call_id: int, message: Any) -> None:
        """On the replica's sending thread: a large batch waits here, not in the event loop."""
        try:
            replica.conn.send(message)
        except (OSError, ValueError):  # the replica is gone: its reader fails what it had
            pass
        except Exception as exc:  # e.g. something in the batch that cannot be pickled
            with self._lock:
                future = replica.pending.pop(call_id, None)
                replica.in_flight -= 1
            _settle(future, False, ModelError(f"cannot send the batch to replica {replica.index}: {exc}"))

    def _read(self, replica: Replica) -> None:
        """On the replica's reading thread: hand each answer to its caller; on EOF, fail the rest."""
        while True:
            try:
                call_id, ok, payload = replica.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # an answer that cannot be read: the pipe is out of step from here on
                log.exception("replica %d sent an unreadable answer; stopping it", replica.index)
                replica.process.kill()
                break
            with self._lock:
                future = replica.pending.pop(call_id, None)
                replica.in_flight -= 1
                replica.answered += 1
            _settle(future, ok, payload)
        self._gone(replica)

    def _gone(self, replica: Replica) -> None:
        """The replica's pipe closed: fail its batches in flight with a fatal error, unless closing."""
        replica.process.join(CLOSE_GRACE_S)
        with self._lock:
            closing = self._closed
            failure = (
                f"{self.spec}: the model replicas were closed"
                if closing
                else f"{self.spec}: replica {replica.index} (pid {replica.pid}, {replica.device}) ended "
                f"unexpectedly ({_ended(replica.process)}); its batches were not answered. A replica "
                "that is killed has often run out of memory: try fewer replicas or a smaller batch size, "
                "then rerun the same command to resume"
            )
            replica.failure = failure
            pending, replica.pending = replica.pending, {}
            replica.in_flight = 0
        if not pending and not closing:  # nobody else hears of it: its batches go to the others
            log.warning("%s", failure)
        for future in pending.values():
            _settle(future, False, ModelError(failure, fatal=True))
        replica.conn.close()

    # -- facts and shutdown ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        facts = dict(self.replicas[0].facts)
        devices = list(dict.fromkeys(str(r.device) for r in self.replicas))
        facts.update(
            spec=self.spec,
            device=",".join(devices),
            threads=sum(int(r.threads or 0) for r in self.replicas),
            replicas=len(self.replicas),
            replica_placement=[{"device": r.device, "threads": r.threads} for r in self.replicas],
        )
        return facts

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop every replica (see the module docstring); safe to call more than once."""
        with self._lock:
            self._closed = True
            busy = {r.index for r in self.replicas if r.in_flight}
        for replica in self.replicas:
            if not replica.process.is_alive():
                continue
            if replica.index in busy or replica.sender is None:  # busy, or still loading
                replica.process.terminate()
            else:
                replica.sender.submit(_reply, replica.conn, None)
        deadline = time.monotonic() + CLOSE_GRACE_S
        for replica in self.replicas:
            replica.process.join(max(0.0, deadline - time.monotonic()))
            if replica.process.is_alive():
                replica.process.terminate()
                replica.process.join(1.0)
            if replica.process.is_alive():
                replica.process.kill()
                replica.process.join()
            if replica.sender is not None:
                replica.sender.shutdown(wait=False, cancel_futures=True)
            if replica.reader is not None:
                replica.reader.join(CLOSE_GRACE_S)
            else:
                replica.conn.close()


def _settle(future: concurrent.futures.Future[Any] | None, ok: bool, payload: Any) -> None:
    """Give ``future`` its result or exception, unless its caller stopped waiting (cancelled)."""
    if future is None or not future.set_running_or_notify_cancel():
        return
    if ok:
        future.set_result(payload)
    else:
        future.set_exception(payload)
