"""A click group whose heavy subcommands are imported only when asked for.

Building a command's options can need the library (``mc run``'s ``--mode`` and ``--template``
choices come from the run machinery, which compiles the answer extractor's patterns). A group lists
such commands by name and module, so that ``cvalues --help`` and every other command start without
importing them; ``cvalues mc --help`` and ``cvalues mc run`` import them as before.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """A group with ``lazy_commands``: name -> ``"package.module:attribute"`` of a click command."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is not None and cmd_name not in self.commands:
            module_name, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)
