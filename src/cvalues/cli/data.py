"""`cvalues data ...` commands (placeholder until the data layer lands)."""

import click


@click.group()
def data() -> None:
    """List, show, verify and export the benchmark's datasets."""
