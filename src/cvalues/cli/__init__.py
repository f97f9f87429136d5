"""The ``cvalues`` command: argument parsing only; every command calls the library.

Each concern registers its own click group from a module of this package, so the command line grows
one file per layer (``data``, ``runs``, ``mc``) without a central file everyone edits.
"""

from __future__ import annotations

import click

from cvalues import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="cvalues")
def cli() -> None:
    """Measure the values of Chinese LLMs, from safety to responsibility (CValues)."""


def _register() -> None:
    # Imported here so that a broken optional layer names itself instead of breaking `--help`.
    from cvalues.cli import data as data_cli

    cli.add_command(data_cli.data)
    for module_name in ("runs", "mc", "judge", "annotate", "run", "report"):
        try:
            module = __import__(f"cvalues.cli.{module_name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"cvalues.cli.{module_name}":
                raise
            continue
        module.register(cli)


_register()


def main() -> None:
    """Console entry point."""
    cli(prog_name="cvalues")
