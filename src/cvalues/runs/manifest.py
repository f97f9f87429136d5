"""The manifest of a run directory: what was asked of which model, with what, where, and how it went.

``RUN_DIR/manifest.json`` is written atomically (temporary file, fsync, rename) at the start and the
end of every session (one invocation of the engine on the directory), each time by read-modify-write
of the file on disk under the writer's lock (never from a copy read at start-up). It is the readable
copy of the run's identity: the store (``answers.sqlite``) carries the identity that is enforced, so a
deleted manifest is rebuilt, and one edited by hand is reported with the store's values. It has:

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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cvalues import __version__
from cvalues.atomic import atomic_open
from cvalues.models.base import GenerationSettings, ModelBackend
from cvalues.redact import mask_value
from cvalues.runs.request import canonical_json, model_fingerprint
from cvalues.runs.rundir import MANIFEST_NAME
from cvalues.runs.store import IdentityMismatch, identity_diff, utc_now

FORMAT = "cvalues-run/1"
#: the manifest of `cvalues judge combine`'s folder (a judge directory with no store of its own)
COMBINED_FORMAT = "cvalues-judge-combined/1"
#: what :func:`read_manifest` reads; another ``format`` (a newer cvalues's) is refused, naming it
READ_FORMATS = (FORMAT, COMBINED_FORMAT)
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


#: A run directory already holds answers for a different model, settings, suite or template (the
#: store's :class:`~cvalues.runs.store.IdentityMismatch`, one type for both guards).
ManifestMismatch = IdentityMismatch


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


class ManifestError(ValueError):
    """``manifest.json`` is not valid JSON, or not a JSON object."""


_REBUILD = "move it away and rerun: it is rebuilt from answers.sqlite, which holds the run's identity"


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``run_dir`` as a dict (raises FileNotFoundError when there is none, ValueError
    naming the file when it is not a JSON object)."""
    path = Path(run_dir) / MANIFEST_NAME
    if path.is_symlink() and not path.exists():
        raise ManifestError(f"{path}: a link to {os.readlink(path)}, which does not exist")
    try:
        # utf-8-sig: a manifest saved by an editor that puts a byte-order mark first is the same JSON
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {_REBUILD}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ManifestError(f"{path}: not a readable JSON file ({type(exc).__name__}); {_REBUILD}") from None
    except OSError as exc:  # a folder of that name, no permission, an I/O error
        raise ManifestError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a manifest (JSON {type(data).__name__}, not an object); {_REBUILD}")
    fmt = data.get("format", FORMAT)  # hand-made manifests may leave it out
    if fmt not in READ_FORMATS:
        raise ManifestError(
            f"{path}: field 'format' is {fmt!r}; this cvalues reads {' and '.join(map(repr, READ_FORMATS))} "
            "manifests (written by a newer cvalues? read it with that version)"
        )
    return data


def run_identity(
    model: ModelBackend,
    settings: GenerationSettings,
    suite: Any = None,
    suite_name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What makes a run's answers comparable (see the module docstring), with its ``sha256``."""
    suite_name = suite_name or (getattr(suite, "name", None) if suite is not None else None)
    identity = {
        "model": json.loads(model_fingerprint(model)),
        "settings": settings.to_dict(),
        "suite": suite_name,
        "suite_files": suite_checksums(suite) if suite is not None else {},
        "extra": _jsonable(dict(extra or {})),
    }
    identity["sha256"] = _identity_sha(identity)
    return identity


def _identity_sha(identity: Mapping[str, Any]) -> str:
    body = {k: v for k, v in identity.items() if k != "sha256"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def manifest_disagreements(data: Mapping[str, Any], truth: Mapping[str, Any]) -> list[str]:
    """Where a manifest's readable copies of the identity (its ``identity`` block and the top-level
    ``settings``, ``model.spec``, ``suite.name`` and ``extra``) differ from ``truth`` (the store's
    identity), as ``"settings.temperature: store 0.0, manifest 0.7"``."""
    copy = data.get("identity") if isinstance(data.get("identity"), dict) else {}
    readable = {
        **{k: v for k, v in truth.items() if k != "sha256"},
        "settings": data.get("settings", truth.get("settings")),
        "suite": (data.get("suite") or {}).get("name", truth.get("suite")),
        "extra": data.get("extra", truth.get("extra")),
    }
    readable["model"] = {**(truth.get("model") or {}), "spec": (data.get("model") or {}).get("spec")}
    out: list[str] = []
    for view in (copy, readable):
        for line in identity_diff(truth, view, labels=("store", "manifest")):
            if line not in out:
                out.append(line)
    return out


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
        store_identity: Mapping[str, Any] | None = None,
    ) -> RunManifest:
        """Load ``run_dir``'s manifest or create it; refuse a directory made for another identity.

        ``suite`` is a data-layer Suite (its ``describe()`` and ``files`` are recorded) or None;
        ``extra`` holds what the caller adds to the identity (template name and hash, ...);
        ``store_identity`` is the identity the store carries (the truth a hand-edited manifest is
        checked against). Raises :class:`ManifestMismatch` naming each setting that differs.
        """
        path = Path(run_dir) / MANIFEST_NAME
        suite_name = suite_name or (getattr(suite, "name", None) if suite is not None else None)
        describe = _jsonable(suite.describe()) if suite is not None and hasattr(suite, "describe") else None
        identity = run_identity(model, settings, suite, suite_name, extra)
        if path.exists():
            data = read_manifest(run_dir)
            old = data.get("identity") if isinstance(data.get("identity"), dict) else {}
            truth = store_identity
            if truth is None and old.get("sha256") == _identity_sha(old):
                truth = old  # no identity in the store (an older one): the manifest's own, if intact
            edited = manifest_disagreements(data, truth) if truth is not None else []
            if edited:
                raise ManifestMismatch(
                    f"{path} was edited: it no longer matches the identity recorded in the run "
                    f"({'; '.join(edited)}). Restore those values, or {_REBUILD}.",
                    edited,
                )
            if old.get("sha256") != identity["sha256"]:
                diffs = identity_diff(old, identity)
                raise ManifestMismatch(
                    f"{path}: this run directory holds answers of another configuration: "
                    f"{'; '.join(diffs) or 'identity format'}. Use a new --run-dir for a new "
                    "configuration (or rerun with the settings it was made with).",
                    diffs,
                )
            manifest = cls(path=path, data=data)
            manifest._update(
                lambda d: d.update(
                    model={"spec": model.spec, "describe": _jsonable(mask_value(model.describe()))},
                    environment=environment_info(),
                )
            )
            return manifest
        data = {
            "format": FORMAT,
            "created_at": utc_now(),
            "identity": identity,
            "model": {"spec": model.spec, "describe": _jsonable(mask_value(model.describe()))},
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

    def _update(self, change: Callable[[dict[str, Any]], Any]) -> None:
        """Read the manifest on disk, apply ``change`` and write it back (atomically). The copy in
        memory is only the fallback when the file is gone or unreadable (then it is rebuilt)."""
        try:
            data = read_manifest(self.path.parent)
        except (FileNotFoundError, ValueError):
            data = self.data
        change(data)
        self.data = data
        self.write()

    def write(self) -> None:
        """Rewrite ``manifest.json`` atomically."""
        self.data["updated_at"] = utc_now()
        write_json_atomic(self.path, self.data)

    def begin_session(self, options: Mapping[str, Any] | None = None) -> None:
        """Record the start of an invocation (``options``: limit, sample, concurrency, argv, ...)."""
        self._session = {
            "id": uuid.uuid4().hex,
            "started_at": utc_now(),
            "ended_at": None,
            "status": "running",
            "pid": os.getpid(),
            "options": _jsonable(mask_value(dict(options or {}))),
            "summary": None,
        }
        session = dict(self._session)

        def change(data: dict[str, Any]) -> None:
            sessions = _sessions(data)
            for earlier in sessions:
                if earlier.get("status") == "running":  # its process died without a word (kill -9)
                    earlier["status"] = "killed"
            sessions.append(session)

        self._update(change)

    def update_session(self, **fields: Any) -> None:
        """Add fields to the current session's record (written at the session's end)."""
        if self._session is None:
            raise RuntimeError("no session begun")
        self._session.update(_jsonable(fields))

    def end_session(self, status: str, summary: Mapping[str, Any] | None, counts: Mapping[str, int]) -> None:
        """Record the end of the invocation: status, the engine's summary and the store's totals."""
        if self._session is None:
            raise RuntimeError("no session begun")
        self._session.update(ended_at=utc_now(), status=status, summary=_jsonable(dict(summary or {})))
        session = dict(self._session)

        def change(data: dict[str, Any]) -> None:
            sessions = _sessions(data)
            mine = [i for i, s in enumerate(sessions) if s.get("id") == session["id"]]
            if mine:
                sessions[mine[-1]] = session
            else:  # the file was replaced meanwhile: keep this session's record anyway
                sessions.append(session)
            data["counts"] = dict(counts)

        self._update(change)
        self._session = None

    @property
    def session(self) -> dict[str, Any] | None:
        """The current session's record (None outside a session)."""
        return self._session


def _sessions(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's session records, made a list of objects again if a hand edit broke it."""
    sessions = data.get("sessions")
    if not isinstance(sessions, list):
        sessions = data["sessions"] = []
    sessions[:] = [s for s in sessions if isinstance(s, dict)]
    return sessions
