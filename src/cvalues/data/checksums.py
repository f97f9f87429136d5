"""Streaming file checksums: sha256 and the git blob id (``git hash-object``).

A pinned text file checked out by git on Windows (``core.autocrlf=true``) has CRLF line ends while
git still names it by the blob of its LF text; such a copy is the pinned file, so a pin also matches
the file's bytes with every CRLF turned into LF (what ``git hash-object`` hashes on that machine).
"""

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


def lf_digests(path: Path) -> tuple[str, str] | None:
    """(sha256, git blob sha1) of the file with every CRLF read as LF, streamed in two passes (the
    blob header needs the length first); None when the file has no CRLF."""
    crlf = 0
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            chunk = carry + chunk
            crlf += chunk.count(b"\r\n")
            carry = b"\r" if chunk.endswith(b"\r") else b""
    if not crlf:
        return None
    sha = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % (path.stat().st_size - crlf))
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            if carry:
                chunk = chunk[:-1]
            chunk = chunk.replace(b"\r\n", b"\n")
            sha.update(chunk)
            blob.update(chunk)
    sha.update(carry)
    blob.update(carry)
    return sha.hexdigest(), blob.hexdigest()


def _matches(source: SourceFile, sha: str, blob: str) -> bool:
    if source.sha256 is not None:
        return sha == source.sha256
    return source.git_blob is None or blob == source.git_blob


def mismatch(source: SourceFile, path: Path) -> str | None:
    """None when ``path`` matches the pin of ``source`` (as is, or read with LF line ends), else a
    sentence giving both sums."""
    sha, blob = file_digests(path)
    if _matches(source, sha, blob):
        return None
    as_lf = lf_digests(path)
    if as_lf is not None and _matches(source, *as_lf):
        return None
    crlf = " (also compared with its CRLF line ends read as LF)" if as_lf is not None else ""
    if source.sha256 is not None:
        return f"checksum mismatch for {source.mirror_path}: expected sha256 {source.sha256}, got {sha}{crlf}"
    return (
        f"checksum mismatch for {source.mirror_path}: expected git blob {source.git_blob}, got {blob}{crlf}"
    )
