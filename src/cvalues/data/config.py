"""Where data files come from: mirror, cache, upstream address, offline switch, explicit paths.

Read from the environment once (``DataConfig.from_env``) and passed down explicitly, so the library and
its tests never depend on hidden global state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().casefold() in _TRUE


@dataclass
class DataConfig:
    """How to resolve pinned data files.

    ``mirror`` is a folder laid out as ``OWNER/REPO/PATH``; ``cache_dir`` holds verified downloads as
    ``OWNER/REPO/COMMIT/PATH``; ``base_url`` is the raw-file address files are fetched from
    (``{base_url}/{OWNER}/{REPO}/{COMMIT}/{PATH}``); ``offline`` forbids downloads; ``paths`` maps a
    source id (see :data:`cvalues.data.sources.SOURCES`) to a file the user supplies, checked first.
    """

    mirror: Path | None = None
    cache_dir: Path = field(default_factory=lambda: Path("~/.cache/cvalues").expanduser())
    base_url: str = DEFAULT_BASE_URL
    offline: bool = False
    paths: dict[str, Path] = field(default_factory=dict)
    #: Show a tqdm progress bar while downloading.
    progress: bool = True
    #: Attempts per download (a dropped connection resumes with an HTTP Range request).
    download_attempts: int = 5
    #: Seconds to wait before the first retry (doubles each time, capped at 30 s).
    retry_wait: float = 1.0
    #: Network timeout per read, seconds.
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.mirror = Path(self.mirror).expanduser() if self.mirror else None
        self.cache_dir = Path(self.cache_dir).expanduser()
        self.base_url = self.base_url.rstrip("/")
        self.paths = {k: Path(v).expanduser() for k, v in self.paths.items()}

    @classmethod
    def from_env(cls, **overrides: Any) -> DataConfig:
        """Build from ``CVALUES_DATA_MIRROR``, ``CVALUES_CACHE_DIR``, ``CVALUES_OFFLINE`` and
        ``CVALUES_UPSTREAM_BASE_URL``; keyword overrides that are not None win."""
        values: dict[str, Any] = {
            "mirror": os.environ.get("CVALUES_DATA_MIRROR") or None,
            "cache_dir": os.environ.get("CVALUES_CACHE_DIR") or "~/.cache/cvalues",
            "base_url": os.environ.get("CVALUES_UPSTREAM_BASE_URL") or DEFAULT_BASE_URL,
            "offline": _env_flag("CVALUES_OFFLINE"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
