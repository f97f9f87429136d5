"""Asking models durably: requests and their keys, the answer store, the manifest, the engine.

``Request`` (what to ask, keyed by everything that changes the answer) -> ``execute`` (ask what is
not yet answered, concurrently, committing each answer as it arrives) -> ``RunStore`` (SQLite, one
row per key) beside a ``RunManifest`` (what, with what, where, how it went) in one run directory.
"""

from cvalues.runs.engine import RunAborted, RunSummary, execute, execute_async
from cvalues.runs.manifest import ManifestMismatch, RunManifest, environment_info, read_manifest
from cvalues.runs.request import Request, chat_messages, model_fingerprint, select
from cvalues.runs.rundir import RunDir, RunDirBusy, find_run_dirs
from cvalues.runs.store import Answer, RunStore

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
