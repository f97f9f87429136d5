"""Human evaluation: a web app where annotators label safety answers and experts score responsibility.

``Store`` (models, store) holds a project in SQLite or PostgreSQL; ``sources`` reads generation runs
and answer files; ``app`` serves the pages; ``agreement``, ``scores`` and ``export`` turn labels into
figures and files (contract C, docs/annotate.md). Importing this package loads no web or database
library: :func:`export_labels` and the rest import them when called.
"""

from __future__ import annotations

import os
from typing import Any


def export_labels(db_url: str, out_path: str | os.PathLike[str], fmt: str = "jsonl") -> int:
    """Write a store's labels as ``jsonl`` / ``csv`` (contract C) or ``label-studio`` JSON; returns lines."""
    from cvalues.annotate.export import export_labels as _export

    return _export(db_url, out_path, fmt)


def create_app(db: Any, **kwargs: Any) -> Any:
    """The FastAPI app over a store (see :func:`cvalues.annotate.app.create_app`)."""
    from cvalues.annotate.app import create_app as _create

    return _create(db, **kwargs)


__all__ = ["create_app", "export_labels"]
