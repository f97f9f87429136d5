"""The preflight of a single command (`generate`, `mc run`): the suite's data files and the model's
weights checked together before any work, with one list of what is missing (see
:mod:`cvalues.pipeline.preflight`)."""

from __future__ import annotations

from typing import Any

import click

_DATA_OPTIONS = ("data_mirror", "cache_dir", "offline", "source_file")


def check_before_work(model_kwargs: dict[str, Any], suite_kwargs: dict[str, Any]) -> None:
    """Raise a :class:`click.ClickException` listing everything missing (nothing is downloaded here)."""
    from cvalues.cli.data import data_config_from_options
    from cvalues.pipeline.preflight import format_missing, preflight

    config = data_config_from_options(**{k: suite_kwargs[k] for k in _DATA_OPTIONS if k in suite_kwargs})
    file = suite_kwargs.get("suite_file")
    suites = [(suite_kwargs["suite"], {"file": file} if file else {})] if suite_kwargs.get("suite") else []
    spec = model_kwargs["model_spec"]
    missing = preflight(suites, [(spec, {"api_key_env": model_kwargs.get("api_key_env")}, "model")], config)
    if missing:
        raise click.ClickException(format_missing(missing))
