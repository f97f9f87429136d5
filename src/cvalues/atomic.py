"""Write a file so that readers see the old content or the new, never half of it.

Every file cvalues writes (exports, manifests, scored files, review sheets) goes through
:func:`atomic_open`: the content is written to a temporary file in the same folder, flushed to disk,
and renamed over the target only when the ``with`` block ends without an error. A failure half-way
(a malformed input line, a full disk, Ctrl-C) leaves the target as it was and no temporary behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
    overwrite: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success fsync it and rename it to ``path``.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes). With ``overwrite=False`` an existing ``path`` is a
    :class:`FileExistsError` raised before anything is written.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _default_mode())  # mkstemp makes 0600; a written file gets the usual mode
        text_args = {"encoding": encoding, "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_mode() -> int:
    """0666 less the process umask: the mode ``open()`` would have given a new file."""
    try:  # Linux tells the umask without changing it (os.umask would, for a moment, process-wide)
        with open("/proc/self/status", encoding="ascii") as fh:
            umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb", overwrite=overwrite) as fh:
        fh.write(data)


def atomic_write_many(files: Mapping[str | os.PathLike[str], bytes]) -> None:
    """Replace several files together: every one is written to a temporary file beside its target and
    flushed to disk before any is renamed, so a failure while writing (a full disk, a folder where a
    file goes) leaves every target as it was, and no temporary or new empty folder behind."""
    staged: list[tuple[str, Path]] = []
    created: list[Path] = []
    try:
        for path, data in files.items():
            target = Path(path)
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a folder is where this file goes", str(target))
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            os.fchmod(fd, _default_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
