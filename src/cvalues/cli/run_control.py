"""How a command that asks a model ends: on a signal, on a resource failure, or with its work done.

Ctrl-C (SIGINT) and SIGTERM (``docker stop``, systemd, ``timeout``) are handled alike: the run stops
asking, keeps every answer that arrived, marks its session ``interrupted``, prints how many answers are
saved and the command that resumes, and exits 130 (SIGINT) or 143 (SIGTERM), as a shell expects.
A failure of the machine rather than of the model (disk full, too few file descriptors, a read-only
run directory, a corrupted store or manifest, another writer) ends the command with one line that
names the file and says what to do, never a traceback; the engine has already marked the session
ended and kept what was answered.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

# The run machinery (cvalues.runs) is imported by the functions below, not at start-up.

T = TypeVar("T")
#: The signals that stop a run, in the order their handlers are installed.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def run_errors() -> Iterator[None]:
    """Turn failures a person must fix about a run directory into a one-line ClickException."""
    from cvalues.runs.engine import RunAborted
    from cvalues.runs.manifest import ManifestError
    from cvalues.runs.rundir import RunDirBusy
    from cvalues.runs.store import IdentityMismatch, StoreError, store_error

    try:
        yield
    except (RunDirBusy, IdentityMismatch, StoreError, ManifestError, RunAborted) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        if exc.filename is None:
            raise
        raise click.ClickException(str(store_error(Path(exc.filename), exc))) from None


def run_until_signal(make: Callable[[], Coroutine[Any, Any, T]], run_dir: Path) -> T:
    """``asyncio.run(make())`` with SIGINT and SIGTERM stopping it cleanly (see the module docstring).

    On a signal this prints the saved answers and the resume command to stderr and exits 128 + the
    signal number; resource failures become :func:`run_errors`' one line.
    """
    import asyncio

    seen: list[int] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed = []

        def stop(signum: int) -> None:
            seen.append(signum)
            if task is not None:
                task.cancel()

        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, stop, signum)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread; Windows
                pass
        try:
            return await make()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    try:
        with run_errors():
            return asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        signum = seen[0] if seen else int(signal.SIGINT)
        report_interrupt(run_dir, signum)
        sys.exit(128 + signum)


def report_interrupt(run_dir: Path, signum: int) -> None:
    """Say on stderr what a stopped run kept and how to resume it."""
    from cvalues.runs.rundir import RunDir
    from cvalues.runs.store import RunStore, StoreError

    rundir = RunDir(Path(run_dir))
    saved = "no answers saved"
    if rundir.store_path.is_file():
        try:
            with RunStore(rundir.store_path, readonly=True) as store:
                counts = store.counts()
            saved = f"{counts['ok']} answers saved ({counts['error']} failures recorded)"
        except (StoreError, OSError) as exc:
            saved = f"answers kept in the store (cannot count them: {exc})"
    name = signal.Signals(signum).name
    click.echo(
        f"\ninterrupted by {name}: {saved} in {rundir.store_path}; the session is marked interrupted.\n"
        f"Resume with: {resume_command()}",
        err=True,
    )


def resume_command() -> str:
    """The command line that was run, to run again (a rerun resumes); a password in a URL is masked."""
    from cvalues.redact import mask_text

    return mask_text(shlex.join(["cvalues", *sys.argv[1:]]))
