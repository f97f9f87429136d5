"""Opening a run directory for writing: the one sequence every command that asks a model goes through.

Directory lock, then the store (its own lock on the database file, and the identity it carries:
the truth), then the manifest (the readable copy, checked against the store). Any failure on the way
leaves nothing half-open; the caller gets the manifest and the store, both closed on exit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cvalues.models.base import GenerationSettings, ModelBackend
from cvalues.runs.manifest import RunManifest, run_identity
from cvalues.runs.rundir import RunDir
from cvalues.runs.store import RunStore


@contextlib.contextmanager
def open_run(
    run_dir: str | os.PathLike[str],
    *,
    model: ModelBackend,
    settings: GenerationSettings,
    suite: Any = None,
    suite_name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[tuple[RunManifest, RunStore]]:
    """Hold ``run_dir`` for writing: ``(manifest, store)`` for one run identity.

    Raises :class:`~cvalues.runs.rundir.RunDirBusy` (another writer), ``ManifestMismatch`` (another
    identity, or a manifest edited by hand: each differing setting named with both values),
    :class:`~cvalues.runs.store.StoreError` (the store cannot be used) or ValueError (a manifest that
    is not a JSON object).
    """
    rundir = RunDir(Path(run_dir))
    identity = run_identity(model, settings, suite, suite_name, extra)
    with rundir.lock(), RunStore(rundir.store_path) as store:
        recorded = store.identity()
        if recorded is not None:
            store.bind_identity(identity)  # the truth: refuses another configuration
        manifest = RunManifest.open(
            rundir.path,
            model=model,
            settings=settings,
            suite=suite,
            suite_name=suite_name,
            extra=extra,
            store_identity=recorded,
        )
        if recorded is None:  # a new store, or one from before identities: recorded once all agree
            store.bind_identity(identity)
        yield manifest, store
