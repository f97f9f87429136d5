"""Streaming file checksums: sha256 and the git blob id (``git hash-object``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cvalues.data.sources import SourceFile

_CHUNK = 1 << 20
_memo: dict[tuple[str, int, int], tuple[str, str]] = {}


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, read once in chunks; memoised on (path, size, mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _memo:
        return _memo[key]
    sha = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % st.st_size)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            blob.update(chunk)
    result = (sha.hexdigest(), blob.hexdigest())
    _memo[key] = result
    return result


def sha256_file(path: Path) -> str:
    return file_digests(path)[0]


def git_blob_file(path: Path) -> str:
    """The git blob id of a file: ``sha1(b"blob <size>\\0" + content)``."""
    return file_digests(path)[1]


def mismatch(source: SourceFile, path: Path) -> str | None:
    """None when ``path`` matches the pin of ``source``, else a sentence giving both sums."""
    sha, blob = file_digests(path)
    if source.sha256 is not None:
        if sha != source.sha256:
            return f"checksum mismatch for {source.mirror_path}: expected sha256 {source.sha256}, got {sha}"
        return None
    if source.git_blob is not None and blob != source.git_blob:
        return f"checksum mismatch for {source.mirror_path}: expected git blob {source.git_blob}, got {blob}"
    return None
