"""Find a pinned file on disk, in order: explicit path, mirror, user cache, else download it.

Every file found is checked against its pin; a mismatch is an error naming the file and both sums (a
stale cache entry is discarded and fetched again instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cvalues.data.checksums import file_digests, mismatch
from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.sources import SOURCES, SourceFile, get_source

log = logging.getLogger(__name__)

Origin = Literal["explicit", "mirror", "cache", "download", "user"]


@dataclass(frozen=True, slots=True)
class ResolvedFile:
    """A file a suite reads, with its checksums for the run manifest.

    ``source_id`` is the pinned id, or ``user:<name>`` for an unpinned user file; ``verified`` says the
    bytes matched a pin (always False for unpinned user files).
    """

    source_id: str
    path: Path
    sha256: str
    git_blob: str
    size: int
    origin: Origin
    verified: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "source_id": self.source_id,
            "path": str(self.path),
            "sha256": self.sha256,
            "git_blob": self.git_blob,
            "size": self.size,
            "origin": self.origin,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class Location:
    """Where a pinned file would resolve from without downloading (for ``cvalues data list``)."""

    source: SourceFile
    path: Path | None
    origin: Origin | None  # None: not on disk
    problem: str | None  # checksum mismatch, if any


def _resolved(source: SourceFile, path: Path, origin: Origin) -> ResolvedFile:
    sha, blob = file_digests(path)
    return ResolvedFile(source.source_id, path, sha, blob, path.stat().st_size, origin, True)


def cache_file(source: SourceFile, config: DataConfig) -> Path:
    return config.cache_dir / source.cache_path


def mirror_file(source: SourceFile, config: DataConfig) -> Path | None:
    return config.mirror / source.mirror_path if config.mirror else None


def locate(source_id: str, config: DataConfig, explicit: Path | None = None) -> Location:
    """Where ``source_id`` resolves on disk (no download), and whether it matches its pin."""
    source = get_source(source_id)
    explicit = explicit or config.paths.get(source_id)
    candidates: list[tuple[Path | None, Origin]] = [
        (explicit, "explicit"),
        (mirror_file(source, config), "mirror"),
        (cache_file(source, config), "cache"),
    ]
    for path, origin in candidates:
        if path is None:
            continue
        if origin == "explicit" and not path.is_file():
            return Location(source, path, None, f"file given for {source_id} does not exist: {path}")
        if path.is_file():
            return Location(source, path, origin, mismatch(source, path))
    return Location(source, None, None, None)


def manual_instructions(source: SourceFile, config: DataConfig) -> str:
    """How to get a file by hand: its URL and where to put it."""
    where = f"put it at {cache_file(source, config)}"
    if config.mirror:
        where += f" or {mirror_file(source, config)}"
    mirror = "" if config.mirror else ", or point --data-mirror DIR at a folder laid out as OWNER/REPO/PATH"
    return (
        f"download {source.url(config.base_url)} by hand and {where}, "
        f"or pass its path explicitly (--source-file {source.source_id}=FILE){mirror}"
    )


def resolve(source_id: str, config: DataConfig, explicit: Path | None = None) -> ResolvedFile:
    """Return a verified local copy of pinned file ``source_id``, downloading it if needed."""
    source = get_source(source_id)
    explicit = explicit or config.paths.get(source_id)
    if explicit is not None:
        if not explicit.is_file():
            raise DataError(f"file given for {source_id} does not exist", path=explicit)
        problem = mismatch(source, explicit)
        if problem:
            raise DataError(
                f"{problem}; this is not the pinned upstream file (an edited or re-saved copy, or a file "
                "of your own in its layout, is read unpinned when given as the suite itself: --suite FILE)",
                path=explicit,
            )
        return _resolved(source, explicit, "explicit")
    mirrored = mirror_file(source, config)
    if mirrored is not None and mirrored.is_file():
        problem = mismatch(source, mirrored)
        if problem:
            raise DataError(f"{problem}; the mirror copy differs from the pin", path=mirrored)
        return _resolved(source, mirrored, "mirror")
    cached = cache_file(source, config)
    if cached.is_file():
        problem = mismatch(source, cached)
        if problem is None:
            return _resolved(source, cached, "cache")
        if config.offline:
            raise DataError(
                f"{problem}; delete the cache entry and {manual_instructions(source, config)}", path=cached
            )
        log.warning("%s: %s; downloading it again", cached, problem)
        cached.unlink()
    if config.offline:
        raise DataError(
            f"{source.source_id} is not available offline: {manual_instructions(source, config)}",
            path=source.mirror_path,
        )
    from cvalues.data.download import download  # httpx only when a file is fetched (fast start-up)

    download(source, cached, config)
    return _resolved(source, cached, "download")


def user_file(path: Path | str, label: str | None = None) -> ResolvedFile:
    """Describe a file the user supplies; its checksums go to the manifest. If its bytes equal a pinned
    upstream file (MultiJail.csv from the mirror, say) it is recorded under that source id as verified."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError("file does not exist", path=path)
    sha, blob = file_digests(path)
    size = path.stat().st_size
    for source in SOURCES.values():
        if (source.sha256 and source.sha256 == sha) or (source.git_blob and source.git_blob == blob):
            return ResolvedFile(source.source_id, path, sha, blob, size, "user", True)
    return ResolvedFile(f"user:{label or path.name}", path, sha, blob, size, "user", False)
