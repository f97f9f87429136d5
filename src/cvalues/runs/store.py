"""The durable answer store of a run: one SQLite file, one row per request key.

Why SQLite: every answer is committed the moment it arrives (one small transaction), readers never
see a half-written row, and a process killed with SIGKILL loses only the requests it had in flight.
The database runs in WAL mode; ``synchronous=NORMAL`` (the default here) keeps every committed answer
through a crash of the process, ``synchronous="FULL"`` also through a power cut, at the price of
one fsync per answer.

A row is never overwritten once it holds an ``ok`` answer; an ``error`` row is replaced when the key
is asked again (``attempts`` counts how often the engine asked it).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cvalues.atomic import atomic_open
from cvalues.models.base import ChatMessage

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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

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
    try:
        from cvalues.models.base import CandidateLogprob  # type: ignore[attr-defined]
    except ImportError:  # an older interface without caveats
        CandidateLogprob = None
    out: list[float] = []
    for v in values:
        if isinstance(v, dict):
            value = float(v["logprob"])
            if CandidateLogprob is not None:
                value = CandidateLogprob(
                    value, upper_bound=bool(v.get("upper_bound")), given_prefix=v.get("given_prefix") or ""
                )
            out.append(value)
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
    ):
        self.path = Path(path)
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no run store at {self.path}")
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("SELECT value FROM store_info WHERE name='schema_version'").fetchone()
            if version is None:
                self._db.execute(
                    "INSERT INTO store_info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(version[0]) != SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: store schema version {version[0]}, this cvalues reads {SCHEMA_VERSION}"
                )
        self._db.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.Lock()

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
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_UPSERT, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _row(a: Answer) -> tuple[Any, ...]:
        request = {
            "messages": [[m.role, m.content] for m in a.messages],
            "candidates": list(a.candidates),
            "settings": a.settings,
            "meta": a.meta,
        }
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
            return self._db.execute(sql, params).fetchall()

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
                    writer.writerow({k: _csv_cell(v) for k, v in row.items()})
                n += 1
            if format == "csv" and writer is None:
                csv.writer(fh).writerow(list(Answer.__dataclass_fields__))
        return n

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value
