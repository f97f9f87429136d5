"""The manifest of a run directory: what was asked of which model, with what, where, and how it went.

``RUN_DIR/manifest.json`` is written atomically (temporary file, fsync, rename) at the start and the
end of every session (one invocation of the engine on the directory). It has:

* ``identity``: what makes the answers comparable: the model fingerprint, decoding settings, suite
  name and file checksums, and the caller's ``extra`` (e.g. template name and hash). A directory keeps
  one identity: resuming with a different one is refused (:class:`ManifestMismatch`), because a report
  over the directory would otherwise mix answers of two configurations.
* ``model`` (spec and ``model.describe()``), ``settings``, ``suite`` (name and ``suite.describe()``),
  ``extra``; ``environment`` (cvalues, Python, platform, versions of key libraries);
* ``sessions``: for each invocation its start and end time, status (``running``, ``finished``,
  ``interrupted``, ``failed``; ``killed`` when a later session found it still ``running``), options
  (limit, sample, concurrency, ...) and counts; and ``counts``, the store's totals at the last update.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cvalues import __version__
from cvalues.atomic import atomic_open
from cvalues.models.base import GenerationSettings, ModelBackend
from cvalues.runs.request import canonical_json, model_fingerprint
from cvalues.runs.rundir import MANIFEST_NAME
from cvalues.runs.store import utc_now

FORMAT = "cvalues-run/1"
#: Libraries whose versions are recorded (those importable are listed).
KEY_LIBRARIES: tuple[str, ...] = (
    "aiohttp",
    "httpx",
    "tenacity",
    "click",
    "tqdm",
    "numpy",
    "scipy",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "openpyxl",
)


class ManifestMismatch(RuntimeError):
    """A run directory already holds answers for a different model, settings, suite or template."""


def environment_info() -> dict[str, Any]:
    """cvalues version, Python, platform and installed versions of :data:`KEY_LIBRARIES`."""
    libraries = {}
    for name in KEY_LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cvalues": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "libraries": libraries,
    }


def _jsonable(value: Any) -> Any:
    """Best-effort JSON form of describe() output (paths, tuples, dataclasses, sets)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def suite_checksums(suite: Any) -> dict[str, str]:
    """``{file name or id: sha256}`` for the files a suite reads (``suite.files``), best effort.

    Items may be paths (hashed here) or objects/dicts with a ``sha256`` (or a ``path`` to hash) and a
    name (``source_id``, ``id``, ``source``, ``name`` or ``path``); a mapping is read as ``{name: item}``.
    """
    files = getattr(suite, "files", None) or ()
    named = list(files.items()) if isinstance(files, Mapping) else [(None, f) for f in files]
    out: dict[str, str] = {}
    for i, (name, item) in enumerate(named):
        if isinstance(item, (str, os.PathLike)):
            path: Any = Path(item)
            digest = None
        else:

            def get(attr: str, _item: Any = item) -> Any:
                return _item.get(attr) if isinstance(_item, Mapping) else getattr(_item, attr, None)

            name = name or next(
                (get(a) for a in ("source_id", "id", "source", "name", "path") if get(a) is not None), None
            )
            path, digest = get("path"), get("sha256")
        if digest is None and path is not None and Path(path).is_file():
            digest = _sha256_file(Path(path))
        if name is None:
            name = Path(path).name if path is not None else f"file{i}"
        if digest is not None:
            out[str(name)] = str(digest)
    return out


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON (indented, Chinese unescaped) to ``path`` atomically."""
    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``run_dir`` as a dict (raises FileNotFoundError when there is none)."""
    path = Path(run_dir) / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


@dataclass
class RunManifest:
    """The manifest of one run directory, kept in memory and rewritten atomically on each change.

    Build with :meth:`open`; the engine calls :meth:`begin_session` and :meth:`end_session`.
    """

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    _session: dict[str, Any] | None = None

    @classmethod
    def open(
        cls,
        run_dir: str | os.PathLike[str],
        *,
        model: ModelBackend,
        settings: GenerationSettings,
        suite: Any = None,
        suite_name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> RunManifest:
        """Load ``run_dir``'s manifest or create it; refuse a directory made for another identity.

        ``suite`` is a data-layer Suite (its ``describe()`` and ``files`` are recorded) or None;
        ``extra`` holds what the caller adds to the identity (template name and hash, ...).
        """
        path = Path(run_dir) / MANIFEST_NAME
        suite_name = suite_name or (getattr(suite, "name", None) if suite is not None else None)
        describe = _jsonable(suite.describe()) if suite is not None and hasattr(suite, "describe") else None
        identity = {
            "model": json.loads(model_fingerprint(model)),
            "settings": settings.to_dict(),
            "suite": suite_name,
            "suite_files": suite_checksums(suite) if suite is not None else {},
            "extra": _jsonable(dict(extra or {})),
        }
        identity["sha256"] = hashlib.sha256(canonical_json(identity).encode("utf-8")).hexdigest()
        if path.exists():
            data = read_manifest(run_dir)
            old = data.get("identity", {})
            if old.get("sha256") != identity["sha256"]:
                diffs = [k for k in identity if k != "sha256" and old.get(k) != identity[k]]
                raise ManifestMismatch(
                    f"{path}: this run directory holds answers of another configuration "
                    f"(differs in: {', '.join(diffs) or 'format'}; was {_summary(old)}, now "
                    f"{_summary(identity)}). Use a new --run-dir for a new configuration."
                )
            data["model"] = {"spec": model.spec, "describe": _jsonable(model.describe())}
            data["environment"] = environment_info()
        else:
            data = {
                "format": FORMAT,
                "created_at": utc_now(),
                "identity": identity,
                "model": {"spec": model.spec, "describe": _jsonable(model.describe())},
                "settings": settings.to_dict(),
                "suite": {"name": suite_name, "describe": describe},
                "extra": identity["extra"],
                "environment": environment_info(),
                "sessions": [],
                "counts": {},
            }
            manifest = cls(path=path, data=data)
            manifest.write()  # the identity exists before any answer does
            return manifest
        return cls(path=path, data=data)

    def write(self) -> None:
        """Rewrite ``manifest.json`` atomically."""
        self.data["updated_at"] = utc_now()
        write_json_atomic(self.path, self.data)

    def begin_session(self, options: Mapping[str, Any] | None = None) -> None:
        """Record the start of an invocation (``options``: limit, sample, concurrency, argv, ...)."""
        for earlier in self.data.get("sessions", []):
            if earlier.get("status") == "running":  # its process died without a word (kill -9, power)
                earlier["status"] = "killed"
        self._session = {
            "started_at": utc_now(),
            "ended_at": None,
            "status": "running",
            "pid": os.getpid(),
            "options": _jsonable(dict(options or {})),
            "summary": None,
        }
        self.data.setdefault("sessions", []).append(self._session)
        self.write()

    def update_session(self, **fields: Any) -> None:
        """Add fields to the current session's record (kept in memory until the next write)."""
        if self._session is None:
            raise RuntimeError("no session begun")
        self._session.update(_jsonable(fields))

    def end_session(self, status: str, summary: Mapping[str, Any] | None, counts: Mapping[str, int]) -> None:
        """Record the end of the invocation: status, the engine's summary and the store's totals."""
        if self._session is None:
            raise RuntimeError("no session begun")
        self._session.update(ended_at=utc_now(), status=status, summary=_jsonable(dict(summary or {})))
        self.data["counts"] = dict(counts)
        self.write()
        self._session = None


def _summary(identity: Mapping[str, Any]) -> str:
    model = identity.get("model") or {}
    return f"model {model.get('spec')!r}, suite {identity.get('suite')!r}"
