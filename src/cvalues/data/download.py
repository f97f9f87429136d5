"""Fetch one pinned file over HTTP into the cache: resumable, retried, verified, atomic.

Bytes go to ``<cache file>.part``; a dropped connection is retried (tenacity) and resumed with an HTTP
Range request; only a complete file whose checksum matches the pin is renamed into place, so a partial
or corrupt download never becomes a cache entry. A connection that cannot be opened at all (a name no
DNS resolves, a refused port, no network) is not retried: waiting cannot fix it, so the error says at
once how to use a local copy instead (``--data-mirror``, ``--source-file``, ``--offline``).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import tenacity
from tqdm import tqdm

from cvalues.data.checksums import mismatch
from cvalues.data.config import DataConfig
from cvalues.data.errors import DataError
from cvalues.data.sources import SourceFile


class IncompleteDownload(Exception):
    """The server closed the connection before the whole file arrived (retried)."""


_RETRYABLE = (httpx.TransportError, IncompleteDownload)


def _retryable(exc: BaseException) -> bool:
    """Dropped or slow transfers are worth another attempt; a connection never opened is not."""
    return isinstance(exc, _RETRYABLE) and not isinstance(exc, httpx.ConnectError)


def _unreachable(url: str, exc: httpx.ConnectError, source: SourceFile, dest: Path) -> DataError:
    cause = " ".join(str(exc).split()) or type(exc).__name__
    return DataError(
        f"cannot download {url}: cannot connect ({cause}). Without network, use a local copy: "
        f"--data-mirror DIR (a folder laid out as OWNER/REPO/PATH, also $CVALUES_DATA_MIRROR), "
        f"--source-file {source.source_id}=FILE, or put the file at {dest}; "
        "--offline (or CVALUES_OFFLINE=1) never tries to download",
        path=source.mirror_path,
    )


def _fetch_into(client: httpx.Client, url: str, part: Path, source: SourceFile, progress: bool) -> None:
    """One attempt: append what is missing to ``part``."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and have:
            return  # nothing left to fetch: the part file is complete (verified by the caller)
        if response.status_code == 404:
            raise DataError(f"not found upstream (HTTP 404): {url}", path=source.mirror_path)
        if response.status_code >= 500:
            raise httpx.TransportError(f"HTTP {response.status_code} from {url}")
        if response.status_code not in (200, 206):
            raise DataError(
                f"download failed: HTTP {response.status_code} from {url}", path=source.mirror_path
            )
        mode = "ab"
        if response.status_code == 200 or not have:
            have, mode = 0, "wb"  # server ignored the Range: start again
        total = source.size
        with (
            part.open(mode) as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=Path(source.path).name,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for chunk in response.iter_bytes():
                out.write(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    if source.size is not None and part.stat().st_size < source.size:
        raise IncompleteDownload(f"{url}: got {part.stat().st_size} of {source.size} bytes")


def download(source: SourceFile, dest: Path, config: DataConfig) -> Path:
    """Download ``source`` at its pinned commit to ``dest`` (atomically), verifying its checksum."""
    url = source.url(config.base_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if source.size is not None and part.exists() and part.stat().st_size > source.size:
        part.unlink()  # longer than the real file: cannot be a prefix of it
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_retryable),
        stop=tenacity.stop_after_attempt(max(1, config.download_attempts)),
        wait=tenacity.wait_exponential(multiplier=config.retry_wait, max=30)
        if config.retry_wait > 0
        else tenacity.wait_none(),
        reraise=True,
    )
    timeout = httpx.Timeout(config.timeout, connect=min(config.timeout, 30.0))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            retrying(_fetch_into, client, url, part, source, config.progress)
    except httpx.ConnectError as exc:
        raise _unreachable(url, exc, source, dest) from exc
    except _RETRYABLE as exc:
        raise DataError(
            f"download of {url} failed after {config.download_attempts} attempts ({exc}); "
            f"run the command again to resume, or fetch the file by hand and put it at {dest}",
            path=source.mirror_path,
        ) from exc
    problem = mismatch(source, part)
    if problem is not None:
        part.unlink(missing_ok=True)
        raise DataError(f"{problem} (downloaded from {url}; the download was discarded)", path=dest)
    os.replace(part, dest)
    return dest
