"""The durable answer store of a run: one SQLite file, one row per request key.

Why SQLite: every answer is committed the moment it arrives (one small transaction), readers never
see a half-written row, and a process killed with SIGKILL loses only the requests it had in flight.
The database runs in WAL mode; ``synchronous=NORMAL`` (the default here) keeps every committed answer
through a crash of the process, ``synchronous="FULL"`` also through a power cut, at the price of
one fsync per answer.

The ``request`` column is JSON: the messages, candidates, settings and meta of the request, and for
an answer the provider's content moderation gave in the model's place, that block (``blocked``).

A row is never overwritten once it holds an ``ok`` answer; an ``error`` row is replaced when the key
is asked again (``attempts`` counts how often the engine asked it).

The store carries its run's identity (model, settings, suite, template: table ``run_identity``),
written by the first writer and checked each time a writer opens it with one, so answers of two
configurations never mix even when ``manifest.json`` (a readable copy) is deleted or edited. A writer
holds an exclusive lock on the database file itself (``flock``, which SQLite's own locks do not
use) for as long as it is open: a second writer is refused even when the directory's ``.lock`` file
was deleted. Readers (``readonly=True``) take no lock and create no file: a store closed cleanly is
opened ``immutable``, one with a write-ahead log ``mode=ro``.

SQLite failures (disk full, a read-only folder, too few file descriptors, a corrupted or truncated
file) surface as :class:`StoreError`: one line naming the file and what to do.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cvalues.atomic import atomic_open
from cvalues.models.base import BLOCKED_FINISH_REASON, CandidateLogprob, ChatMessage
from cvalues.runs.rundir import RunDirBusy
from cvalues.spreadsheet import csv_cell

Status = Literal["ok", "error"]
SCHEMA_VERSION = 1
EXPORT_FORMATS: tuple[str, ...] = ("jsonl", "csv")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key               TEXT PRIMARY KEY,
    item_id           TEXT NOT NULL,
    kind              TEXT NOT NULL,
    model             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    text              TEXT,
    logprobs          TEXT,
    finish_reason     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    error_type        TEXT,
    error             TEXT,
    retryable         INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 1,
    latency_s         REAL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    request           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_item ON answers (item_id);
CREATE INDEX IF NOT EXISTS answers_status ON answers (status);
CREATE TABLE IF NOT EXISTS store_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_identity (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sha256     TEXT NOT NULL,
    identity   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

_COLUMNS = (
    "key",
    "item_id",
    "kind",
    "model",
    "status",
    "text",
    "logprobs",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "error_type",
    "error",
    "retryable",
    "attempts",
    "latency_s",
    "started_at",
    "finished_at",
    "request",
)

_UPSERT = f"""
INSERT INTO answers ({", ".join(_COLUMNS)}) VALUES ({", ".join("?" for _ in _COLUMNS)})
ON CONFLICT (key) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("key", "attempts"))},
    attempts = answers.attempts + excluded.attempts
WHERE answers.status != 'ok'
"""


class StoreError(sqlite3.OperationalError):
    """The store file cannot be opened, read or written (disk full, read-only, corrupted, ...).

    A ``sqlite3.OperationalError``, so callers that already catch those (a store being created by
    another process has no tables yet) keep working; its message names the file and what to do."""


class IdentityMismatch(RuntimeError):
    """A run store (or its manifest) holds answers of a different model, settings, suite or template.

    ``differences`` lists each setting that differs as ``"path: was X, now Y"``.
    """

    def __init__(self, message: str, differences: Sequence[str] = ()):
        super().__init__(message)
        self.differences = list(differences)


def identity_diff(
    old: Any, new: Any, path: str = "", *, labels: tuple[str, str] = ("was", "now")
) -> list[str]:
    """Each leaf where two identities differ, as ``"settings.temperature: was 0.0, now 0.7"``."""
    was, now = labels
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if key == "sha256" and not path:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub}: {was} absent, {now} {_short(new[key])}")
            elif key not in new:
                out.append(f"{sub}: {was} {_short(old[key])}, {now} absent")
            else:
                out.extend(identity_diff(old[key], new[key], sub, labels=labels))
        return out
    if old != new:
        return [f"{path or 'identity'}: {was} {_short(old)}, {now} {_short(new)}"]
    return []


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: What to do about a SQLite failure, by a phrase of its message.
_ADVICE: tuple[tuple[str, str], ...] = (
    ("disk is full", "the disk is full: free some space and rerun the same command to resume"),
    ("readonly database", "the run directory is read-only: rerun with a writable --run-dir"),
    ("read-only", "the run directory is read-only: rerun with a writable --run-dir"),
    (
        "unable to open",
        "cannot open it (a read-only folder, or too few file descriptors: raise `ulimit -n`); "
        "fix that and rerun the same command",
    ),
    (
        "not a database",
        "the file is not a SQLite database (corrupted or overwritten): move it away and rerun to "
        "start afresh, or restore it from a backup",
    ),
    (
        "malformed",
        "the file is corrupted or truncated: move it away and rerun to start afresh, or restore it "
        "from a backup (`sqlite3 FILE .recover` may save its answers)",
    ),
    ("disk i/o error", "the disk reported an I/O error: check the disk and rerun"),
)


def store_error(path: Path, exc: BaseException) -> StoreError:
    """A :class:`StoreError` naming ``path`` and what to do about ``exc`` (a sqlite3 or OS error)."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        by_errno = {
            errno.ENOSPC: "disk is full",
            errno.EDQUOT: "disk is full",
            errno.EROFS: "read-only",
            errno.EACCES: "read-only",
            errno.EPERM: "read-only",
            errno.EMFILE: "unable to open",
            errno.ENFILE: "unable to open",
        }
        low = by_errno.get(exc.errno, low)
    advice = next((a for phrase, a in _ADVICE if phrase in low), "see the cause and rerun the same command")
    return StoreError(f"{path}: {text}; {advice}")


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds, the one timestamp form of runs."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Answer:
    """One stored result.

    ``status == "ok"``: ``text`` (generate) or ``logprobs`` (one float per candidate, in the order
    of ``candidates``) holds the answer. ``status == "error"``: ``error_type`` (the exception class)
    and ``error`` (its message) say why; ``retryable`` whether asking again may help.
    ``settings`` is the decoding settings of a generate request (None for logprobs).
    ``blocked``: the provider's content moderation answered in the model's place (``{"stage", "code",
    "message"}``, :mod:`cvalues.models.moderation`); then ``finish_reason`` is ``content_filter``,
    ``text`` what reached the user (often nothing) and ``logprobs`` None.
    """

    key: str
    item_id: str
    kind: str
    model: str
    status: Status
    messages: tuple[ChatMessage, ...]
    started_at: str
    finished_at: str
    text: str | None = None
    logprobs: list[float] | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error_type: str | None = None
    error: str | None = None
    retryable: bool | None = None
    attempts: int = 1
    latency_s: float | None = None
    candidates: tuple[str, ...] = ()
    settings: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    blocked: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def withheld(self) -> bool:
        """The provider's content moderation answered and no text reached the user (a reply it only
        cut keeps its text, and is read as it reads)."""
        return self.finish_reason == BLOCKED_FINISH_REASON and not (self.text or "").strip()

    @property
    def cause(self) -> str | None:
        """``ErrorType: message`` for an error, None for an answer."""
        if self.status == "ok":
            return None
        return f"{self.error_type}: {self.error}" if self.error else str(self.error_type)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (messages as ``{"role", "content"}``; logprob caveats kept, see store)."""
        out = asdict(self)
        out["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        out["candidates"] = list(self.candidates)
        out["logprobs"] = _encode_logprobs(self.logprobs)
        return out


def _encode_logprobs(values: Sequence[float] | None) -> list[Any] | None:
    """Floats stay floats; a value carrying caveats (``CandidateLogprob``) becomes a small dict."""
    if values is None:
        return None
    out: list[Any] = []
    for v in values:
        upper, prefix = bool(getattr(v, "upper_bound", False)), getattr(v, "given_prefix", "") or ""
        if upper or prefix:
            out.append({"logprob": float(v), "upper_bound": upper, "given_prefix": prefix})
        else:
            out.append(float(v))
    return out


def _decode_logprobs(raw: str | None) -> list[float] | None:
    if raw is None:
        return None
    values = json.loads(raw)
    out: list[float] = []
    for v in values:
        if isinstance(v, dict):
            out.append(
                CandidateLogprob(
                    float(v["logprob"]),
                    upper_bound=bool(v.get("upper_bound")),
                    given_prefix=v.get("given_prefix") or "",
                )
            )
        else:
            out.append(float(v))
    return out


class RunStore:
    """The answers of one run directory (``answers.sqlite``), safe against kill -9 at any moment.

    One process writes at a time (the run engine); any number may read. Use as a context manager or
    call :meth:`close`. Thread-safe: calls are serialised by a lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        readonly: bool = False,
        identity: Mapping[str, Any] | None = None,
    ):
        """Open (a writer creates) the store at ``path``.

        ``identity`` (a writer's): the run's identity as a JSON-ready dict with a ``sha256``; the
        first writer records it, later ones must match it (:class:`IdentityMismatch` names each
        setting that differs). Raises :class:`RunDirBusy` when another writer holds the store and
        :class:`StoreError` when the file cannot be used.
        """
        self.path = Path(path)
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.readonly = readonly
        self._flock: Any = None
        try:
            if readonly:
                self._db = self._open_readonly()
            else:
                self._db = self._open_writer(synchronous)
                if identity is not None:
                    self._bind_identity(dict(identity))
            self._db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            self._abandon()
            raise store_error(self.path, exc) from None
        except BaseException:
            self._abandon()
            raise
        self._lock = threading.Lock()

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise FileNotFoundError(f"no run store at {self.path}")
        wal = self.path.with_name(self.path.name + "-wal")
        # No write-ahead log: closed cleanly, nothing to recover, so read it as an immutable file (no
        # lock, no -shm/-wal created: read-only media work). A log: a writer is open or was killed;
        # its committed answers are in the log, which only mode=ro reads.
        flag = "mode=ro" if wal.exists() else "immutable=1"
        uri = f"{self.path.resolve().as_uri()}?{flag}"
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a corrupted header fails here
        except BaseException:
            db.close()
            raise
        return db

    def _open_writer(self, synchronous: str) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise store_error(self.path, exc) from None
        self._flock = fd
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock (the directory lock still applies)
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunDirBusy(
                    f"{self.path}: another cvalues process is writing this run store; wait for it to "
                    "finish or use another --run-dir"
                ) from None
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(_SCHEMA)
            version = db.execute("SELECT value FROM store_info WHERE name='schema_version'").fetchone()
            if version is None:
                db.execute("INSERT INTO store_info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(version[0]) != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store schema version {version[0]}, this cvalues reads {SCHEMA_VERSION}"
                )
        except BaseException:
            db.close()
            raise
        return db

    def _abandon(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        if self._flock is not None:
            os.close(self._flock)  # releases the flock
            self._flock = None

    def bind_identity(self, identity: Mapping[str, Any]) -> None:
        """Check ``identity`` against the one the store carries (:class:`IdentityMismatch` naming each
        difference), or record it when the store has none yet (a new store, or one from before
        identities were recorded). Checked once per open, never per answer."""
        try:
            with self._lock:
                self._bind_identity(dict(identity))
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None

    def _bind_identity(self, identity: dict[str, Any]) -> None:
        sha = (
            identity.get("sha256")
            or hashlib.sha256(
                json.dumps(identity, sort_keys=True, ensure_ascii=False).encode("utf-8")
            ).hexdigest()
        )
        row = self._db.execute("SELECT sha256, identity FROM run_identity WHERE id = 1").fetchone()
        if row is not None:
            if row[0] == sha:
                return
            old = json.loads(row[1])
            diffs = identity_diff(old, identity)
            raise IdentityMismatch(
                f"{self.path}: this run directory holds answers of another configuration: "
                f"{'; '.join(diffs) or 'identity format'}. Use a new --run-dir for a new configuration "
                "(or rerun with the settings it was made with).",
                diffs,
            )
        # A store from before identities were recorded: its answers name their model at least.
        spec = (identity.get("model") or {}).get("spec")
        others = [m for (m,) in self._db.execute("SELECT DISTINCT model FROM answers LIMIT 5") if m != spec]
        if spec is not None and others:
            diff = f"model.spec: was {_short(others[0])}, now {_short(spec)}"
            raise IdentityMismatch(
                f"{self.path}: this run directory holds answers of another configuration: {diff}. "
                "Use a new --run-dir for a new configuration.",
                [diff],
            )
        self._db.execute(
            "INSERT INTO run_identity VALUES (1, ?, ?, ?)",
            (sha, json.dumps({**identity, "sha256": sha}, ensure_ascii=False, sort_keys=True), utc_now()),
        )

    def identity(self) -> dict[str, Any] | None:
        """The run identity recorded in the store (None for a store without one)."""
        try:
            rows = self._query("SELECT identity FROM run_identity WHERE id = 1")
        except StoreError as exc:
            if "no such table" in str(exc):  # a store from before identities
                return None
            raise
        return json.loads(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ writing

    def put(self, answer: Answer) -> None:
        """Commit one answer now (replacing an earlier error for the same key, never an ok answer)."""
        self.put_many([answer])

    def put_many(self, answers: Iterable[Answer]) -> None:
        """Commit several answers in one transaction."""
        rows = [self._row(a) for a in answers]
        if not rows:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(_UPSERT, rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from None

    @staticmethod
    def _row(a: Answer) -> tuple[Any, ...]:
        request = {
            "messages": [[m.role, m.content] for m in a.messages],
            "candidates": list(a.candidates),
            "settings": a.settings,
            "meta": a.meta,
        }
        if a.blocked:  # kept with the request (a JSON column) rather than in a column of its own
            request["blocked"] = a.blocked
        return (
            a.key,
            a.item_id,
            a.kind,
            a.model,
            a.status,
            a.text,
            None if a.logprobs is None else json.dumps(_encode_logprobs(a.logprobs)),
            a.finish_reason,
            a.prompt_tokens,
            a.completion_tokens,
            a.error_type,
            a.error,
            None if a.retryable is None else int(a.retryable),
            a.attempts,
            a.latency_s,
            a.started_at,
            a.finished_at,
            json.dumps(request, ensure_ascii=False, default=str),
        )

    # ------------------------------------------------------------------ reading

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from None

    @staticmethod
    def _answer(row: Sequence[Any]) -> Answer:
        values = dict(zip(_COLUMNS, row, strict=True))
        request = json.loads(values.pop("request"))
        retryable = values.pop("retryable")
        return Answer(
            **{k: v for k, v in values.items() if k != "logprobs"},
            logprobs=_decode_logprobs(values["logprobs"]),
            retryable=None if retryable is None else bool(retryable),
            messages=tuple(ChatMessage(role, content) for role, content in request["messages"]),
            candidates=tuple(request["candidates"]),
            settings=request["settings"],
            meta=request["meta"],
            blocked=request.get("blocked"),
        )

    def get(self, key: str) -> Answer | None:
        """The answer stored under ``key``, if any."""
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM answers WHERE key = ?", (key,))
        return self._answer(rows[0]) if rows else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Answer]:
        """``{key: answer}`` for those of ``keys`` that are stored."""
        out: dict[str, Answer] = {}
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            sql = f"SELECT {', '.join(_COLUMNS)} FROM answers WHERE key IN ({', '.join('?' * len(chunk))})"
            for row in self._query(sql, chunk):
                out[row[0]] = self._answer(row)
        return out

    def statuses(self, keys: Iterable[str]) -> dict[str, Status]:
        """``{key: "ok" | "error"}`` for those of ``keys`` that are stored (cheap: no payloads)."""
        out: dict[str, Status] = {}
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            sql = f"SELECT key, status FROM answers WHERE key IN ({', '.join('?' * len(chunk))})"
            out.update(self._query(sql, chunk))
        return out

    def __iter__(self) -> Iterator[Answer]:
        return self.answers()

    def answers(
        self,
        *,
        status: Status | None = None,
        kind: str | None = None,
        model: str | None = None,
        item_id: str | None = None,
    ) -> Iterator[Answer]:
        """All stored answers matching the filters, oldest first."""
        where, params = self._where(status=status, kind=kind, model=model, item_id=item_id)
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM answers{where} ORDER BY rowid", params)
        for row in rows:
            yield self._answer(row)

    def count(
        self, *, status: Status | None = None, kind: str | None = None, model: str | None = None
    ) -> int:
        """How many answers match the filters."""
        where, params = self._where(status=status, kind=kind, model=model)
        return int(self._query(f"SELECT COUNT(*) FROM answers{where}", params)[0][0])

    def counts(self) -> dict[str, int]:
        """``{"total", "ok", "error"}``."""
        rows = dict(self._query("SELECT status, COUNT(*) FROM answers GROUP BY status"))
        ok, error = int(rows.get("ok", 0)), int(rows.get("error", 0))
        return {"total": ok + error, "ok": ok, "error": error}

    def blocked_count(self) -> int:
        """How many stored answers the provider's content moderation gave in the model's place."""
        rows = self._query(
            "SELECT COUNT(*) FROM answers WHERE status = 'ok' AND finish_reason = 'content_filter'"
        )
        return int(rows[0][0])

    def error_causes(self) -> dict[str, int]:
        """``{"ErrorType: message": n}`` over stored errors, most frequent first."""
        rows = self._query(
            "SELECT error_type, error, COUNT(*) AS n FROM answers WHERE status = 'error' "
            "GROUP BY error_type, error ORDER BY n DESC"
        )
        return {(f"{t}: {m}" if m else str(t)): int(n) for t, m, n in rows}

    @staticmethod
    def _where(**filters: Any) -> tuple[str, list[Any]]:
        parts = [(f"{name} = ?", value) for name, value in filters.items() if value is not None]
        if not parts:
            return "", []
        return " WHERE " + " AND ".join(p for p, _ in parts), [v for _, v in parts]

    # ------------------------------------------------------------------ export

    def export(
        self, out: str | os.PathLike[str], *, format: str = "jsonl", status: Status | None = None
    ) -> int:
        """Write answers to ``out`` as JSONL (one :meth:`Answer.to_dict` per line) or CSV (UTF-8 with
        BOM so spreadsheet programs read Chinese; JSON-valued cells as JSON). The file is written to
        a temporary name and renamed, so a failure never leaves half a file. Returns the row count."""
        if format not in EXPORT_FORMATS:
            raise ValueError(f"export format must be one of {EXPORT_FORMATS}, got {format!r}")
        n = 0
        encoding = "utf-8-sig" if format == "csv" else "utf-8"
        with atomic_open(out, encoding=encoding, newline="") as fh:
            writer = None
            for answer in self.answers(status=status):
                row = answer.to_dict()
                if format == "jsonl":
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    if writer is None:
                        writer = csv.DictWriter(fh, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow({k: csv_cell(_csv_json(v)) for k, v in row.items()})
                n += 1
            if format == "csv" and writer is None:
                csv.writer(fh).writerow(list(Answer.__dataclass_fields__))
        return n

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            finally:
                if self._flock is not None:
                    os.close(self._flock)
                    self._flock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_json(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value
