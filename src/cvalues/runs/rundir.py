"""The layout of a run directory, its single-writer lock, and finding run directories.

One run directory holds one run: one model, one suite, one set of settings (and template, for
multi-choice scoring), asked over one or more sessions. It contains ``answers.sqlite`` (the
:class:`~cvalues.runs.store.RunStore`) and ``manifest.json`` (the
:class:`~cvalues.runs.manifest.RunManifest`). A second process writing the same directory is refused
by an advisory lock (``.lock``) rather than left to ask the same questions twice.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

STORE_NAME = "answers.sqlite"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".lock"


class RunDirBusy(RuntimeError):
    """Another process is writing this run directory."""


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory."""

    path: Path

    @property
    def store_path(self) -> Path:
        return self.path / STORE_NAME

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    def exists(self) -> bool:
        """True when the directory holds a run (a manifest or a store)."""
        return self.manifest_path.is_file() or self.store_path.is_file()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's writer lock (POSIX ``flock``; a no-op where unavailable)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fh: IO[str] = open(self.path / LOCK_NAME, "a+", encoding="utf-8")
        try:
            try:
                import fcntl
            except ImportError:  # Windows: no advisory lock
                fcntl = None  # type: ignore[assignment]
            if fcntl is not None:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RunDirBusy(
                        f"{self.path}: another cvalues process is writing this run directory; "
                        "wait for it to finish or use another --run-dir"
                    ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield
        finally:
            fh.close()


def find_run_dirs(root: str | os.PathLike[str], *, max_depth: int = 4) -> list[RunDir]:
    """Run directories under ``root`` (``root`` itself included), sorted by path.

    Symbolic links to folders are followed (runs kept on another disk and linked in are runs like any
    other); a folder reached twice, by a link or a link loop, is visited once, under its first path.
    Depth counts the folders below ``root`` as written, not where links lead.
    """
    root = Path(root)
    found: list[RunDir] = []
    if not root.is_dir():
        return found
    visited: set[str] = set()
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        run = RunDir(Path(dirpath))
        if run.exists():
            found.append(run)
            dirnames[:] = []
            continue
        if len(Path(dirpath).relative_to(root).parts) >= max_depth:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found, key=lambda r: str(r.path))
