"""Before any work: is every data file and every model's weights there? One list of what is missing.

A run that fails on its third suite, or on a judge model after an hour of generation, wastes the hour;
a missing file found one at a time wastes several tries. :func:`preflight` looks at everything a job
needs at once, without downloading, loading or hashing anything, and returns every gap with what to do
about it (``hf download REPO``, ``--data-mirror``, ``--source-file``). Offline (``CVALUES_OFFLINE=1``
or ``--offline``) a file or a hub model that is not on disk is a gap; online it is fetched on first use,
unless the host it would come from cannot be reached at all (a machine without network that nobody
told to stay offline): one connection is tried per host, and then every such file and model is a gap
of the same list, instead of the job stopping at the first download that fails.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvalues.data.config import DataConfig
from cvalues.data.resolve import cache_file, manual_instructions, mirror_file
from cvalues.data.sources import get_source
from cvalues.data.suites import SUITES, USER_FILE_SUFFIXES, suite_source_ids
from cvalues.models.hub import go_offline, hf_weights_status, offline_requested


@dataclass(frozen=True)
class Missing:
    """One thing a job needs that is not there: ``what`` (data file ID of suite S, model M), ``problem``
    (why it cannot be used) and ``how`` (what a person does about it). ``path`` is a file path as the
    person wrote it (a suite file, a replay file, an annotation store) when that is what is missing, so
    a caller can say where it was written (``where``: ``FILE:LINE: field`` of a config)."""

    what: str
    problem: str
    how: str
    path: str | None = None
    where: str | None = None

    def render(self) -> str:
        named = f" (named at {self.where})" if self.where else ""
        return f"- {self.what}: {self.problem}{named}\n    -> {self.how}"


class PreflightError(RuntimeError):
    """Things a job needs are missing; ``str()`` is the whole list with what to do."""

    def __init__(self, missing: list[Missing]) -> None:
        self.missing = missing
        super().__init__(format_missing(missing))


def format_missing(missing: list[Missing]) -> str:
    """The one list a person reads: a heading, then each gap and what to do about it."""
    noun = "thing is" if len(missing) == 1 else "things are"
    return f"{len(missing)} {noun} missing; nothing was asked yet:\n" + "\n".join(m.render() for m in missing)


def _data_file_gap(source_id: str, suite: str, config: DataConfig) -> Missing | None:
    """Is pinned file ``source_id`` on disk (explicit path, mirror, cache), or may it be downloaded?"""
    explicit = config.paths.get(source_id)
    what = f"data file {source_id} (suite {suite})"
    if explicit is not None:
        if explicit.is_file():
            return None
        return Missing(what, f"the file given for it does not exist: {explicit}", "check --source-file")
    source = get_source(source_id)
    mirrored = mirror_file(source, config)
    if (mirrored is not None and mirrored.is_file()) or cache_file(source, config).is_file():
        return None
    if not config.offline:
        return None  # downloaded and verified on first use
    return Missing(what, "not on disk and cvalues is offline", manual_instructions(source, config))


def check_suite(name: str, options: Mapping[str, Any], config: DataConfig) -> list[Missing]:
    """Gaps of one suite: its pinned files, or the user file it is given (``options["file"]``)."""
    file = options.get("file")
    info = SUITES.get(name)
    if info is None:  # a user's own file as the suite (an unknown name is load_suite's to explain)
        path = Path(name).expanduser()
        if path.is_file() or path.suffix.casefold() not in USER_FILE_SUFFIXES:
            return []
        return [
            Missing(f"suite file {name}", "does not exist", "check the path (a .jsonl/.json/.csv file)", name)
        ]
    if file is not None:
        path = Path(file).expanduser()
        if path.is_file():
            return []
        return [
            Missing(
                f"data file of suite {name}", f"{path} does not exist", "check the `file` path", str(file)
            )
        ]
    if info.user_file == "required":
        return [
            Missing(
                f"data file of suite {name}",
                "this suite is only published on ModelScope, not downloadable from GitHub",
                "download it from ModelScope and give its path (`file:` in the config, or --suite-file)",
            )
        ]
    return [gap for sid in suite_source_ids(name) if (gap := _data_file_gap(sid, name, config)) is not None]


def check_model(
    spec: str, options: Mapping[str, Any] | None = None, *, offline: bool, role: str = "model"
) -> list[Missing]:
    """Gaps of one model: ``hf:`` weights (a missing folder; offline, a hub id not cached), a
    ``replay:`` file, an ``openai:`` key variable named explicitly but unset."""
    from cvalues.models.registry import parse_spec

    options = dict(options or {})
    what = f"{role} {spec}"
    try:
        scheme, target = parse_spec(spec)
    except ValueError as exc:
        return [Missing(what, str(exc), "fix the model spec")]
    if scheme == "hf":
        status = hf_weights_status(target, offline=offline, revision=options.get("revision"))
        if status.state == "missing":
            return [Missing(what, status.problem or "weights not found", status.how or "")]
        return []
    if scheme == "replay":
        path = Path(target).expanduser()
        if not path.is_file():
            return [
                Missing(what, f"replay file {path} does not exist", "check the path after replay:", target)
            ]
        return []
    key_env = options.get("api_key_env")
    if key_env and not os.environ.get(key_env):
        return [
            Missing(
                what,
                f"environment variable {key_env} (api_key_env) is not set",
                f"export {key_env}=YOUR_KEY, or leave api_key_env out for a server that needs no key",
            )
        ]
    return []


def check_annotation_store(url: str) -> list[Missing]:
    """An SQLite annotation store must exist (a mistyped path would otherwise export nothing); a
    server URL (PostgreSQL) is checked when it is read."""
    path: str | None = None
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
    elif "://" not in url:
        path = url
    if path is None or Path(path).expanduser().is_file():
        return []
    return [
        Missing(
            f"annotation store {url}",
            f"{path} does not exist",
            f"check `annotations` in the config, or create the store: cvalues annotate init --db {url}",
            url,
        )
    ]


def preflight(
    suites: Iterable[tuple[str, Mapping[str, Any]]],
    models: Iterable[tuple[str, Mapping[str, Any], str]],
    data_config: DataConfig,
) -> list[Missing]:
    """Every gap of a job: ``suites`` as ``(name, load options)``, ``models`` as ``(spec, backend options,
    role)``. Offline (the data config's switch or the environment), the Hugging Face libraries are put
    offline too, so a later load fails at once instead of retrying a download."""
    offline = data_config.offline or offline_requested()
    if offline:
        go_offline()
    suites, models = list(suites), list(models)
    missing = _gaps(suites, models, data_config, offline=offline)
    if offline or _proxied():
        return missing
    # what would be fetched online: reachable hosts fetch it on first use, unreachable ones cannot
    offline_config = dataclasses.replace(data_config, offline=True)
    known = {m.what for m in missing}
    to_fetch = [m for m in _gaps(suites, models, offline_config, offline=True) if m.what not in known]
    causes: dict[str, str | None] = {}
    for gap in to_fetch:
        url = data_config.base_url if gap.what.startswith("data file") else _hub_endpoint()
        if url not in causes:
            causes[url] = unreachable(url)
        if causes[url] is not None:
            host = urllib.parse.urlsplit(url).netloc
            missing.append(
                Missing(gap.what, f"not on disk, and {host} cannot be reached ({causes[url]})", gap.how)
            )
    return missing


def _gaps(
    suites: list[tuple[str, Mapping[str, Any]]],
    models: list[tuple[str, Mapping[str, Any], str]],
    data_config: DataConfig,
    *,
    offline: bool,
) -> list[Missing]:
    missing: list[Missing] = []
    for name, options in suites:
        missing += check_suite(name, options, data_config)
    seen: set[str] = set()
    for spec, options, role in models:
        if spec in seen:
            continue
        seen.add(spec)
        missing += check_model(spec, options, offline=offline, role=role)
    return missing


#: Seconds to wait for one connection to a host files would be fetched from.
PROBE_TIMEOUT = 5.0


def unreachable(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why no connection to ``url``'s host can be opened (its name does not resolve, it refuses, no
    answer within ``timeout``), or None when one opens."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return None  # not a URL this can check: the download will say what is wrong
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"the name {parts.hostname} does not resolve: no network or no DNS"
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return str(exc.strerror or exc)


def _proxied() -> bool:
    """Downloads go through a proxy: a direct connection says nothing about them."""
    names = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    return any(os.environ.get(n) or os.environ.get(n.lower()) for n in names)


def _hub_endpoint() -> str:
    """Where the Hugging Face libraries download from (``HF_ENDPOINT``, default huggingface.co)."""
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
