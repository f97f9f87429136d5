"""Asking models durably: requests and their keys, the answer store, the manifest, the engine.

``Request`` (what to ask, keyed by everything that changes the answer) -> ``execute`` (ask what is
not yet answered, concurrently, committing each answer as it arrives) -> ``RunStore`` (SQLite, one
row per key) beside a ``RunManifest`` (what, with what, where, how it went) in one run directory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cvalues.runs.engine import RunAborted, RunSummary, execute, execute_async
    from cvalues.runs.manifest import ManifestMismatch, RunManifest, environment_info, read_manifest
    from cvalues.runs.request import Request, chat_messages, model_fingerprint, select
    from cvalues.runs.rundir import RunDir, RunDirBusy, find_run_dirs
    from cvalues.runs.store import Answer, RunStore

# Each name is imported from its module when first used, so that reading a run directory (``runs list``)
# does not import the engine (asyncio, tqdm) and start-up stays light.
_MODULE_OF = {
    **dict.fromkeys(("RunAborted", "RunSummary", "execute", "execute_async"), "engine"),
    **dict.fromkeys(("ManifestMismatch", "RunManifest", "environment_info", "read_manifest"), "manifest"),
    **dict.fromkeys(("Request", "chat_messages", "model_fingerprint", "select"), "request"),
    **dict.fromkeys(("RunDir", "RunDirBusy", "find_run_dirs"), "rundir"),
    **dict.fromkeys(("Answer", "RunStore"), "store"),
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Answer",
    "ManifestMismatch",
    "Request",
    "RunAborted",
    "RunDir",
    "RunDirBusy",
    "RunManifest",
    "RunStore",
    "RunSummary",
    "chat_messages",
    "environment_info",
    "execute",
    "execute_async",
    "find_run_dirs",
    "model_fingerprint",
    "read_manifest",
    "select",
]
