"""The console entry point: a rerun that would change nothing is answered before the command line is built.

Building the command line (click and every command group) is most of what such a rerun costs; the
check needs only the arguments as given (:mod:`cvalues.runs.rerun`, docs/runs.md). The stamp holds the
command's words, so trying the first one or two arguments as the words can only find the stamp that
the same command line wrote: the commands that stamp (``mc run``, ``generate``) offer the same check
again once parsed, for ``cvalues.cli`` used as a library.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """``cvalues``: the stamped output of an unchanged rerun, else the command line."""
    from cvalues import heap

    heap.own_process()
    args = sys.argv[1:]
    if _is_rerun_candidate(args):
        from cvalues.runs import rerun

        run_dir = rerun.run_dir_argument(args)
        if rerun.enabled() and run_dir is not None and (run_dir / rerun.STAMP_NAME).is_file():
            for split in (2, 1):  # the identity (a walk over the package's files) only where a stamp is
                invocation = rerun.Invocation.of(args[:split], args[split:])
                found = rerun.check(invocation) if invocation is not None else None
                if isinstance(found, rerun.Stamp):
                    import click

                    if found.stderr:
                        click.echo(found.stderr, err=True, nl=False)
                    click.echo(found.stdout, nl=False)
                    sys.exit(0)
    from cvalues.cli import main as cli_main

    cli_main()


def _is_rerun_candidate(args: list[str]) -> bool:
    """A command line that names a run directory, outside shell completion (which only parses)."""
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return False
    return len(args) >= 2 and any(a == "--run-dir" or a.startswith("--run-dir=") for a in args)
