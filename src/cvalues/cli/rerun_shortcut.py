"""The rerun shortcut on the command line (:mod:`cvalues.runs.rerun`): look before parsing, stamp at the end.

A command that offers it (``generate``: :class:`ShortcutCommand`; ``mc run``: its group,
:class:`ShortcutGroup`, so that the command's module is not even imported) hands its words and raw
arguments to :func:`offer` before parsing them. When the run directory's stamp matches, the stored output
is printed and the command exits 0; otherwise the invocation is kept in the click context, and the
command, once its outputs are complete, calls :func:`start_recording` / :func:`finish_recording` to
stamp the directory for the next rerun.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cvalues.cli.lazy import LazyGroup

if TYPE_CHECKING:
    from cvalues.runs.rerun import Recording

log = logging.getLogger(__name__)
S = TypeVar("S")
#: Where :func:`offer` leaves the invocation for the command (``ctx.meta`` is shared by nested contexts).
META_KEY = "cvalues.rerun.invocation"


def command_words(ctx: click.Context) -> list[str]:
    """The names of the commands from below the root to ``ctx`` (``["mc"]``, ``["generate"]``)."""
    words: list[str] = []
    while ctx.parent is not None:
        words.append(ctx.info_name or "")
        ctx = ctx.parent
    return words[::-1]


def offer(ctx: click.Context, words: list[str], args: list[str]) -> None:
    """Print the stamped output and exit 0 when nothing changed since the last complete run."""
    from cvalues.runs import rerun

    if ctx.resilient_parsing or not rerun.enabled():
        return
    invocation = rerun.Invocation.of(words, args)
    if invocation is None:
        return
    found = rerun.check(invocation)
    if isinstance(found, rerun.Stamp):
        if found.stderr:
            click.echo(found.stderr, err=True, nl=False)
        click.echo(found.stdout, nl=False)
        ctx.exit(0)
    log.debug("rerun shortcut not taken for %s: %s", invocation.run_dir, found)
    ctx.meta[META_KEY] = invocation


class ShortcutCommand(click.Command):
    """A command whose invocations are looked up in their run directory's stamp before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        offer(ctx, command_words(ctx), list(args))
        return super().parse_args(ctx, args)


class ShortcutGroup(LazyGroup):
    """A :class:`LazyGroup` whose ``shortcut_commands`` are looked up before their module is imported."""

    def __init__(self, *args: Any, shortcut_commands: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shortcut_commands = tuple(shortcut_commands)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.shortcut_commands:
            offer(ctx, [*command_words(ctx), args[0]], list(args[1:]))
        return super().resolve_command(ctx, args)


def start_recording(suite: Any, model_kwargs: dict[str, Any]) -> Recording | None:
    """Note what this run reads (call once the suite is loaded, before asking); None when it cannot be
    stamped: not offered, or an ``hf:`` model whose folder is not known without loading it (a hub id
    online may resolve to a newer revision)."""
    ctx = click.get_current_context(silent=True)
    invocation = ctx.meta.get(META_KEY) if ctx is not None else None
    if invocation is None:
        return None
    from cvalues.runs import rerun
    from cvalues.runs.deferred import model_folder

    spec = str(model_kwargs.get("model_spec") or "")
    try:
        folder: Path | None = None
        if spec.startswith("hf:"):
            options = {k: v for k, v in model_kwargs.items() if k != "model_spec"}
            folder = model_folder(spec, options)
            if folder is None:
                return None
        files = suite.describe().get("files") or []
        return rerun.Recording.start(invocation, files, rerun.model_folders(folder))
    except (OSError, ValueError) as exc:  # the run goes on; only its rerun takes the full path
        log.debug("no rerun stamp: %s", exc)
        return None


def finish_recording(
    recording: Recording | None,
    summary: S,
    *,
    retry_errors: bool,
    show: Callable[[S], None],
    note: str | None = None,
) -> None:
    """Stamp the run directory (best effort; see :meth:`Recording.finish`) with what a rerun that asks
    nothing prints: ``show(summary as such a rerun reports it)`` on stdout, then ``note`` on stderr.
    Nothing is stamped when such a rerun would ask something (see :func:`rerun_summary`)."""
    if recording is None:
        return
    from cvalues.runs.rerun import rerun_summary

    again = rerun_summary(summary, retry_errors=retry_errors)
    if again is None:
        return
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):  # click.echo writes to the sys.stdout of the moment
        show(again)
    recording.finish(stdout=buffer.getvalue(), stderr=f"{note}\n" if note else "")
