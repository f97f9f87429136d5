"""A rerun that would change nothing prints what the full rerun prints, from a stamp in the run directory.

Why: rerunning a finished ``mc run`` or ``generate`` asks nothing, yet it reads the suite's files, builds
every request key, opens the store and scores every answer again (in generate mode it reads every answer
with the extractor): about a second to print the same numbers. So when such a command completes, it
writes ``RUN_DIR/rerun-stamp.json``: everything its output depends on, each part a cheap check, and what
a rerun that asks nothing prints. A later invocation that finds every part equal prints that and exits
without importing the run machinery. The parts:

* the invocation: the command's words and arguments exactly as given, the working directory, a digest
  of the environment variables cvalues and the model libraries read (``CVALUES_*``, ``HF_*``,
  ``OPENAI_*`` ..., and any variable an argument names), the Python executable and version, the code
  (the cvalues version and the size and modification time of every file of the cvalues package that
  runs, so an edited editable install never reuses results) and the modification time of the
  site-packages folders (a library installed or upgraded);
* the inputs: the suite's data files (path, size, modification time; their pinned checksums are kept
  for the record), every file an argument names (``--suite-file``, ``replay:FILE``, ``ID=FILE`` ...)
  and, for an ``hf:`` model, the size and modification time of every file of its folder;
* the outputs: every file of the run directory (name, size, modification time) except its lock, so a
  deleted or edited output, or answers added by another command, are seen.

The arguments are compared as given, not as parsed: parsing ``mc run`` needs its command, whose import
is a good part of what the shortcut saves, and the same arguments with the same code and environment
parse to the same options. So every option, present or future (output paths, formats, metrics
options), is in the stamp without a list to keep up; another spelling of the same options only misses
the shortcut. Anything that differs, a missing stamp and one that cannot be read all mean the normal
path runs (and stamps again): the shortcut never decides anything else. The stamp is written only
after the outputs are complete, atomically, under the run directory's lock, when this process's
session is the directory's last and nothing it read or ran changed while it ran.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cvalues import __version__
from cvalues.atomic import atomic_write_bytes
from cvalues.runs.request import canonical_json
from cvalues.runs.rundir import LOCK_NAME, MANIFEST_NAME, RunDir, RunDirBusy

log = logging.getLogger(__name__)

STAMP_NAME = "rerun-stamp.json"
FORMAT = "cvalues-rerun-stamp/1"
#: ``0`` (or false/no/off) turns the shortcut off: every rerun takes the full path and none is stamped.
SWITCH_ENV = "CVALUES_RERUN_SHORTCUT"
#: Environment variables read by cvalues and the model libraries: part of the invocation (as a digest).
ENV_PREFIXES: tuple[str, ...] = ("CVALUES_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "OPENAI_")
ENV_NAMES: tuple[str, ...] = ("CUDA_VISIBLE_DEVICES", "RAY_ADDRESS")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}

S = TypeVar("S")


def enabled() -> bool:
    """Whether the shortcut is on (it is unless :data:`SWITCH_ENV` says otherwise)."""
    return os.environ.get(SWITCH_ENV, "").strip().casefold() not in _OFF


def run_dir_argument(args: Sequence[str]) -> Path | None:
    """The value of the last ``--run-dir`` in ``args`` (as click takes it), or None.

    A plain scan, not a parse: a wrong guess (a value that only looks like the option) finds no stamp
    recorded for these exact arguments, so it can only miss the shortcut, never take a wrong one.
    """
    found: str | None = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--run-dir" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--run-dir="):
            found = arg.partition("=")[2]
    return Path(found) if found else None


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _stat(path: str | os.PathLike[str]) -> list[int] | None:
    """``[size, mtime_ns]`` of a file (links followed), None when there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns]


def environment_digest(command: Sequence[str]) -> str:
    """A digest of the variables in :data:`ENV_PREFIXES`/:data:`ENV_NAMES` and of any variable named by an
    argument (``--api-key-env NAME``); values are never written out (they may be keys)."""
    named = {arg for arg in command if _ENV_NAME.fullmatch(arg)}
    chosen = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(ENV_PREFIXES) or name in ENV_NAMES or name in named
    }
    chosen.update({name: None for name in named if name not in os.environ})  # unset is a value too
    if "--offline" in command or os.environ.get("CVALUES_OFFLINE", "").strip().casefold() in _ON:
        # what the Hugging Face libraries see once cvalues runs offline (cvalues.models.hub.go_offline)
        chosen.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return _digest(chosen)


def code_signature() -> dict[str, Any]:
    """The cvalues version and a digest of (path, size, mtime) of every file of the package that runs."""
    import cvalues

    root = str(Path(cvalues.__file__).resolve().parent)
    entries: list[tuple[str, int, int]] = []
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as it:
            for entry in it:
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                else:
                    st = entry.stat()
                    entries.append((entry.path[len(root) :], st.st_size, st.st_mtime_ns))
    return {"version": __version__, "package": root, "files": _digest(sorted(entries))}


def library_folders() -> list[list[Any]]:
    """(path, mtime) of the site-packages folders on ``sys.path``: installing, upgrading or removing a
    library adds or removes entries there, which changes the folder's modification time."""
    out: list[list[Any]] = []
    for entry in sys.path:
        if Path(entry).name in ("site-packages", "dist-packages"):
            found = _stat(entry)
            if found is not None:
                out.append([entry, found[1]])
    return out


def invocation_identity(command: Sequence[str]) -> dict[str, Any]:
    """The invocation part of a stamp (see the module docstring), in its JSON form."""
    identity = {
        "command": list(command),
        "cwd": os.getcwd(),
        "environment": environment_digest(command),
        "python": [sys.executable, sys.version],
        "code": code_signature(),
        "libraries": library_folders(),
    }
    return json.loads(json.dumps(identity))


@dataclass(frozen=True)
class Invocation:
    """One command line that may be a rerun: its run directory and its identity, taken when it starts."""

    run_dir: Path
    identity: dict[str, Any]

    @classmethod
    def of(cls, words: Sequence[str], args: Sequence[str]) -> Invocation | None:
        """``words`` (``["mc", "run"]``) and the arguments after them; None without ``--run-dir``, and
        when the invocation cannot be told apart from another (the code cannot be listed: a zipped
        install; the working directory is gone)."""
        run_dir = run_dir_argument(args)
        if run_dir is None:
            return None
        try:
            return cls(run_dir, invocation_identity([*words, *args]))
        except OSError as exc:
            log.debug("no rerun shortcut: %s", exc)
            return None

    @property
    def command(self) -> list[str]:
        return list(self.identity["command"])

    @property
    def stamp_path(self) -> Path:
        return self.run_dir / STAMP_NAME


def model_folders(folder: Path | None) -> list[Path]:
    """The folders whose files identify a local model: its folder, and for a Hugging Face hub snapshot
    the repository's ``refs`` (which revision a hub id names)."""
    if folder is None:
        return []
    out = [folder]
    if folder.parent.name == "snapshots" and (folder.parent.parent / "refs").is_dir():
        out.append(folder.parent.parent / "refs")
    return out


def folder_digest(folder: Path) -> str:
    """A digest of (relative path, size, mtime) of every file under ``folder`` (see
    :func:`cvalues.runs.deferred.folder_signature`, the same listing the deferred model is keyed by)."""
    from cvalues.runs.deferred import folder_signature

    return _digest([str(folder.resolve()), folder_signature(folder)])


@dataclass(frozen=True)
class Inputs:
    """What a run read: files (path -> ``[size, mtime_ns]``, None when absent), the pinned checksums of
    the suite's files (for the record) and folders (path -> :func:`folder_digest`)."""

    files: dict[str, list[int] | None]
    checksums: dict[str, str]
    folders: dict[str, str]

    @classmethod
    def collect(
        cls,
        command: Sequence[str],
        suite_files: Iterable[Mapping[str, Any]] = (),
        folders: Iterable[Path] = (),
    ) -> Inputs:
        """The files named by ``command``'s arguments, the suite's files (``suite.describe()["files"]``)
        and the ``folders`` of a local model, as they are now."""
        paths: dict[str, None] = {}
        checksums: dict[str, str] = {}
        for arg in command:
            for candidate in _named_paths(arg):
                path = os.path.abspath(os.path.expanduser(candidate))
                if _is_file(path):
                    paths[path] = None
        for entry in suite_files:
            if entry.get("path"):
                path_ = os.path.abspath(Path(str(entry["path"])).expanduser())
                paths[path_] = None
                if entry.get("sha256"):
                    checksums[path_] = str(entry["sha256"])
        return cls(
            files={path: _stat(path) for path in sorted(paths)},
            checksums=checksums,
            folders={str(folder.resolve()): folder_digest(folder) for folder in folders},
        )

    def changed(self) -> str | None:
        """What differs from now (a file's size or time, a folder's files), or None."""
        for path, recorded in self.files.items():
            if _stat(path) != recorded:
                return f"input {path} changed"
        for folder, digest in self.folders.items():
            if folder_digest(Path(folder)) != digest:
                return f"the files of {folder} changed"
        return None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_file(path: str) -> bool:
    """Whether ``path`` is a file; an argument that cannot be a path at all (too long, a NUL) is not."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _named_paths(arg: str) -> list[str]:
    """What an argument may name as a file: itself, what follows ``KEY=`` and what follows ``scheme:``."""
    if not arg or arg.startswith("-"):
        return []
    out = [arg]
    if "=" in arg:
        out.append(arg.partition("=")[2])
    scheme, sep, rest = arg.partition(":")
    if sep and scheme.isidentifier() and not rest.startswith("//"):
        out.append(rest)
    return [p for p in out if p]


def run_dir_listing(run_dir: Path) -> list[list[Any]]:
    """``[relative path, size, mtime_ns]`` of every file in ``run_dir`` but its lock, the stamp and the
    stamp's temporary file."""
    out: list[list[Any]] = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, run_dir)
            if rel in (LOCK_NAME, STAMP_NAME) or rel.startswith(f".{STAMP_NAME}."):
                continue
            found = _stat(path)
            if found is not None:
                out.append([rel.replace(os.sep, "/"), *found])
    return out


@dataclass(frozen=True)
class Stamp:
    """A stamp as read back: what it was made from, and what a rerun prints (stdout, then stderr)."""

    identity: dict[str, Any]
    inputs: Inputs
    outputs: list[list[Any]]
    stdout: str
    stderr: str

    @classmethod
    def from_json(cls, data: Any) -> Stamp:
        """Raises KeyError, TypeError or ValueError for anything that is not a stamp of this format."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a stamp of this format")
        inputs = data["inputs"]
        stamp = cls(
            identity=data["identity"],
            inputs=Inputs(files=inputs["files"], checksums=inputs["checksums"], folders=inputs["folders"]),
            outputs=data["outputs"],
            stdout=data["stdout"],
            stderr=data["stderr"],
        )
        types = (
            (stamp.identity, dict),
            (stamp.inputs.files, dict),
            (stamp.inputs.checksums, dict),
            (stamp.inputs.folders, dict),
            (stamp.outputs, list),
            (stamp.stdout, str),
            (stamp.stderr, str),
        )
        if not all(isinstance(value, kind) for value, kind in types):
            raise TypeError("a field of the stamp has the wrong type")
        return stamp


def check(invocation: Invocation) -> Stamp | str:
    """The stamp of ``invocation``'s run directory when every part of it is as it is now, else why not.

    Never raises for what it finds on disk: a missing, unreadable or malformed stamp is a reason.
    """
    path = invocation.stamp_path
    try:
        stamp = Stamp.from_json(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return "no stamp"
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return f"{path} is not a readable stamp ({type(exc).__name__}); ignored"
    if stamp.identity != invocation.identity:
        keys = sorted(set(stamp.identity) | set(invocation.identity))
        differing = [k for k in keys if stamp.identity.get(k) != invocation.identity.get(k)]
        return f"the invocation differs ({', '.join(differing)})"
    try:
        changed = stamp.inputs.changed()
    except (OSError, TypeError, ValueError) as exc:
        return f"the inputs cannot be checked ({exc})"
    if changed is not None:
        return changed
    try:
        with RunDir(invocation.run_dir).lock():  # a writer at work: the full path says so
            if run_dir_listing(invocation.run_dir) != stamp.outputs:
                return "the run directory changed"
    except (RunDirBusy, OSError) as exc:
        return f"the run directory cannot be held ({exc})"
    return stamp


def rerun_summary(summary: S, *, retry_errors: bool) -> S | None:
    """What a rerun that asks nothing reports after a session that ended with ``summary`` (a
    :class:`~cvalues.runs.engine.RunSummary`): everything stored, nothing asked. None when a rerun would
    ask something (stored failures with ``retry_errors``) or the session did not end its work."""
    s: Any = summary
    if s.interrupted or s.aborted or (retry_errors and s.unanswered):
        return None
    return dataclasses.replace(
        s,
        cached=s.answered,
        skipped_errors=s.unanswered,
        asked=0,
        ok=0,
        failed=0,
        errors_by_cause={},
        elapsed_s=0.0,
    )


@dataclass
class Recording:
    """A full run that may be stamped: its invocation and the inputs as they were when it started."""

    invocation: Invocation
    inputs: Inputs

    @classmethod
    def start(
        cls, invocation: Invocation, suite_files: Iterable[Mapping[str, Any]], folders: Iterable[Path]
    ) -> Recording:
        return cls(invocation, Inputs.collect(invocation.command, suite_files, folders))

    def finish(self, *, stdout: str, stderr: str = "") -> str | None:
        """Write the stamp (after the outputs are complete); None when written, else why not.

        Not written when the code, environment or an input changed while the command ran, when
        another session wrote the run directory after this process's, or when it cannot be written
        (a failure here costs the next rerun the full path, nothing else).
        """
        run_dir = self.invocation.run_dir
        try:
            # what ran is what was there at the start (the environment is as the process started it:
            # loading a model sets variables of its own)
            now = {"code": code_signature(), "libraries": library_folders()}
            if json.loads(json.dumps(now)) != {k: self.invocation.identity[k] for k in now}:
                return "the code or the installed libraries changed while the command ran"
            changed = self.inputs.changed()
            if changed is not None:
                return f"{changed} while the command ran"
            with RunDir(run_dir).lock():
                if not _last_session_is_mine(run_dir / MANIFEST_NAME):
                    return "another session wrote the run directory after this one"
                stamp = {
                    "format": FORMAT,
                    "identity": self.invocation.identity,
                    "inputs": self.inputs.to_json(),
                    "outputs": run_dir_listing(run_dir),
                    "stdout": stdout,
                    "stderr": stderr,
                }
                data = json.dumps(stamp, ensure_ascii=False, indent=1) + "\n"
                atomic_write_bytes(self.invocation.stamp_path, data.encode("utf-8"))
        except (RunDirBusy, OSError, ValueError) as exc:
            log.debug("no rerun stamp for %s: %s", run_dir, exc)
            return str(exc)
        return None


def _last_session_is_mine(manifest_path: Path) -> bool:
    """Whether the manifest's last session is this process's, and finished."""
    try:
        data = json.loads(manifest_path.read_bytes())
        last = data["sessions"][-1]
        return bool(last.get("pid") == os.getpid() and last.get("status") == "finished")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False
