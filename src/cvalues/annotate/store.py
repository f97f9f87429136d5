"""The annotation store: every read and write of a project, one query layer for SQLite and PostgreSQL.

Promises kept here (the web app and the CLI only call these methods):

* **A label is written in one transaction when submitted.** :meth:`Store.submit` stores the client's
  submission id, the labels, the item note and one audit entry per change together, or nothing.
* **A repeated submission does not duplicate.** The same submission id again is a no-op; another id
  for the same (answer, annotator) updates the one label row (unique constraint), with an audit entry.
* **Concurrent clients lose nothing.** SQLite runs in WAL mode with a busy timeout and takes the write
  lock at the start of a write transaction (``BEGIN IMMEDIATE``), so writers queue instead of failing;
  PostgreSQL serialises the claim of an item with a row lock and retries a transaction that lost a
  unique-constraint race.
* **Blinding and isolation.** An annotator's queue holds only items assigned to them; labels of others
  are never returned by the per-user methods.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from cvalues.annotate.models import (
    ROLES,
    SAFETY_LABELS,
    SCHEMA_VERSION,
    TASKS,
    Adjudication,
    Answer,
    Assignment,
    AuditEntry,
    Base,
    Item,
    ItemNote,
    Label,
    LoginSession,
    Setting,
    Submission,
    User,
    now,
)
from cvalues.annotate.selfid import mask_names, self_identification
from cvalues.annotate.sources import SourceAnswer
from cvalues.data.schema import SCENARIO_KEYS

#: Which roles label which task: annotators do safety; experts (and admins) do both.
TASK_ROLES: dict[str, frozenset[str]] = {
    "safety": frozenset({"annotator", "expert", "admin"}),
    "responsibility": frozenset({"expert", "admin"}),
}
#: What an import does with answers that name their own model: mask the names, skip them, or keep them.
SELF_ID_POLICIES: tuple[str, ...] = ("mask", "skip", "keep")
DEFAULT_WARNINGS: dict[str, str] = {
    "safety": "内容提醒：本任务的问题和回答可能包含暴力、违法、歧视、自伤等有害内容。请按需休息；"
    "可在首页开启“模糊显示回答，点击后查看”。",
    "responsibility": "内容提醒：本任务涉及心理、法律、亲密关系等敏感话题，回答可能令人不适。"
    "请按需休息；可开启模糊显示。",
}
SESSION_HOURS = 8.0
#: PostgreSQL errors after which a transaction is simply run again.
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})
T = TypeVar("T")


class _DryRun(Exception):
    """Raised inside an import transaction to roll it back after counting (``dry_run``)."""


class StoreError(Exception):
    """A store that does not exist or does not fit, told to a person."""


class SubmissionError(ValueError):
    """A submission that does not fit its item (unknown answer, missing or out-of-range label)."""


class NotAssigned(PermissionError):
    """The item is not in this user's queue."""


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL from ``sqlite:///path.db``, a PostgreSQL URL or a plain file path."""
    text = str(db)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and ``Z`` (the runs' timestamp form)."""
    if value is None:
        return None
    return _aware(value).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AnswerLabel:
    """One answer's judgement in a submission (by the answer's public uid)."""

    answer_uid: str
    label: str | None = None
    score: int | None = None
    reason_scenario: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class SubmissionIn:
    """What a client submits for one item: all its answers' labels, and the responsibility extras."""

    submission_id: str
    item_pk: int
    labels: Sequence[AnswerLabel]
    best_answer_uid: str | None = None
    better_answer: str | None = None


@dataclass
class SubmitResult:
    duplicate: bool
    changed: int


@dataclass
class ImportSummary:
    items_added: int = 0
    answers_added: int = 0
    answers_present: int = 0
    answers_changed: list[str] = field(default_factory=list)
    self_identified: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0


class Store:
    """One annotation project (``db`` as for :func:`database_url`). ``create=True`` makes a new one."""

    def __init__(self, db: str | Path, *, create: bool = False, echo: bool = False) -> None:
        self.url = database_url(db)
        sqlite_path = _sqlite_path(self.url)
        if not create and sqlite_path is not None and not Path(sqlite_path).is_file():
            raise StoreError(f"no annotation project at {sqlite_path}: run `cvalues annotate init --db ...`")
        self.engine = _make_engine(self.url, echo=echo)
        self._writer = self.engine.execution_options(immediate=True)
        if create:
            Base.metadata.create_all(self.engine)
            with self.write() as s:
                if s.get(Setting, "schema_version") is None:
                    s.add(Setting(name="schema_version", value=SCHEMA_VERSION))
                    s.add(Setting(name="secret", value=secrets.token_urlsafe(48)))
        else:
            try:
                with self.read() as s:
                    version = s.get(Setting, "schema_version")
            except OperationalError as exc:
                raise StoreError(
                    f"no annotation project at {self.display_url}: run `cvalues annotate init --db ...`"
                ) from exc
            except Exception as exc:  # psycopg's UndefinedTable comes as ProgrammingError
                if "annotate_settings" in str(exc):
                    raise StoreError(
                        f"no annotation project at {self.display_url}: run `cvalues annotate init --db ...`"
                    ) from exc
                raise
            if version is None or version.value != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.display_url}: annotation schema {version.value if version else 'missing'}, "
                    f"this cvalues reads {SCHEMA_VERSION}"
                )

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed at the end of the block, rolled back on an error."""
        with Session(self._writer, expire_on_commit=False) as s, s.begin():
            yield s

    def _retrying(self, fn: Callable[[Session], T], attempts: int = 5) -> T:
        """Run ``fn`` in a write transaction, again when it lost a race: a unique-constraint conflict,
        or a PostgreSQL deadlock / serialization failure (SQLSTATE 40P01, 40001)."""
        for attempt in range(attempts):
            try:
                with self.write() as s:
                    return fn(s)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _RETRY_SQLSTATES or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def setting(self, name: str) -> str | None:
        with self.read() as s:
            row = s.get(Setting, name)
            return row.value if row else None

    def set_setting(self, name: str, value: str) -> None:
        with self.write() as s:
            s.merge(Setting(name=name, value=value))

    def content_warning(self, task: str) -> str:
        return self.setting(f"warning.{task}") or DEFAULT_WARNINGS[task]

    # ------------------------------------------------------------------ users and sessions

    def add_user(self, name: str, role: str, password: str | None, *, hasher: Any = None) -> User:
        """Create an account; ``password=None`` makes one that cannot log in."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        name = name.strip()
        if not name or len(name) > 100:
            raise StoreError("a user name is 1 to 100 characters")
        pw_hash = _hasher(hasher).hash(password) if password is not None else None
        try:
            with self.write() as s:
                user = User(name=name, role=role, password_hash=pw_hash, active=True)
                s.add(user)
                s.flush()
                return user
        except IntegrityError:
            raise StoreError(f"user {name!r} exists") from None

    def set_password(self, name: str, password: str, *, hasher: Any = None) -> None:
        """Change a password; the user's open sessions end."""
        with self.write() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                raise StoreError(f"no user {name!r}")
            user.password_hash = _hasher(hasher).hash(password)
            s.query(LoginSession).filter(LoginSession.user_id == user.id).delete()

    def users(self) -> list[User]:
        with self.read() as s:
            return list(s.scalars(select(User).order_by(User.id)))

    def user(self, name: str) -> User | None:
        with self.read() as s:
            return s.scalar(select(User).where(User.name == name))

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None (same work whether or not it exists)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        user = self.user(name)
        hasher = _hasher(None)
        if user is None or user.password_hash is None or not user.active:
            global _DUMMY_HASH
            if _DUMMY_HASH is None:
                _DUMMY_HASH = hasher.hash(secrets.token_hex(16))
            try:  # spend the time a real check would, so timing does not tell which names exist
                hasher.verify(_DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                pass
            return None
        try:
            hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def open_session(self, user: User, hours: float = SESSION_HOURS) -> LoginSession:
        with self.write() as s:
            s.query(LoginSession).filter(LoginSession.expires_at < now()).delete()
            row = LoginSession(
                token=secrets.token_urlsafe(32),
                user_id=user.id,
                csrf=secrets.token_urlsafe(32),
                expires_at=now() + timedelta(hours=hours),
            )
            s.add(row)
            s.flush()
            row.user = s.get(User, user.id)  # type: ignore[assignment]
            return row

    def session(self, token: str | None) -> LoginSession | None:
        """The live session with this token (its user active), or None when unknown or expired."""
        if not token:
            return None
        with self.read() as s:
            row = s.get(LoginSession, token)
            if row is None or _aware(row.expires_at) <= now() or not row.user.active:
                return None
            return row

    def close_session(self, token: str) -> None:
        with self.write() as s:
            s.query(LoginSession).filter(LoginSession.token == token).delete()

    def acknowledge_warning(self, token: str, task: str) -> None:
        with self.write() as s:
            row = s.get(LoginSession, token)
            if row is not None and task not in row.acknowledged.split():
                row.acknowledged = f"{row.acknowledged} {task}".strip()

    def set_blur(self, user_id: int, blur: bool) -> None:
        with self.write() as s:
            user = s.get(User, user_id)
            if user is not None:
                user.blur = blur

    # ------------------------------------------------------------------ import

    def import_answers(
        self,
        answers: Sequence[SourceAnswer],
        task: str,
        *,
        per_item: int | None = None,
        self_id: str = "mask",
        seed: int | None = None,
        dry_run: bool = False,
    ) -> ImportSummary:
        """Add answers as items of ``task``; what is already there is left as it is (idempotent).

        Safety: one item per (prompt id, model). Responsibility: one item per prompt id holding every
        model's answer, in an order shuffled per item (and extended at random when a later import
        adds a model). ``per_item`` sets k, the annotators per item, for the items touched (new items
        default to 1). ``self_id`` (:data:`SELF_ID_POLICIES`) decides what happens to answers that name
        their own model; they are listed in the summary either way.
        """
        if task not in TASKS:
            raise StoreError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if self_id not in SELF_ID_POLICIES:
            raise StoreError(f"self-identification policy must be one of {SELF_ID_POLICIES}")
        if per_item is not None and per_item < 1:
            raise StoreError("--per-item must be at least 1")
        import random

        rng = random.Random(seed)
        summary = ImportSummary()
        try:
            return self._import(answers, task, per_item, self_id, rng, summary, dry_run)
        except _DryRun:
            return summary

    def _import(
        self,
        answers: Sequence[SourceAnswer],
        task: str,
        per_item: int | None,
        self_id: str,
        rng: Any,
        summary: ImportSummary,
        dry_run: bool,
    ) -> ImportSummary:
        with self.write() as s:
            # One read of the task's items (answers loaded with them), then only inserts and updates.
            items = {i.key: i for i in s.scalars(select(Item).where(Item.task == task))}
            for a in answers:
                key = a.item_id if task == "responsibility" else f"{a.item_id}\x1f{a.model}"
                item = items.get(key)
                names = self_identification(a.answer)
                if names:
                    summary.self_identified.append(
                        {"item_id": a.item_id, "model": a.model, "names": names, "source": a.source}
                    )
                    if self_id == "skip":
                        summary.skipped += 1
                        continue
                if item is None:
                    item = Item(
                        task=task,
                        key=key,
                        item_id=a.item_id,
                        category=a.category,
                        prompt=a.prompt,
                        k=per_item or 1,
                        meta={},
                        answers=[],
                    )
                    s.add(item)
                    items[key] = item
                    summary.items_added += 1
                elif per_item is not None:
                    item.k = per_item
                existing = next((x for x in item.answers if x.model == a.model), None)
                if existing is not None:
                    summary.answers_present += 1
                    if existing.original_text != a.answer:
                        summary.answers_changed.append(f"{a.item_id} ({a.model})")
                    continue
                position = rng.randint(0, len(item.answers))  # a random slot among the current answers
                for other in item.answers:
                    if other.position >= position:
                        other.position += 1
                item.answers.append(
                    Answer(
                        uid=uuid.uuid4().hex,
                        model=a.model,
                        text=mask_names(a.answer) if names and self_id == "mask" else a.answer,
                        original_text=a.answer,
                        self_id=",".join(names) or None,
                        position=position,
                        source=a.source,
                    )
                )
                summary.answers_added += 1
            s.flush()
            if dry_run:
                raise _DryRun(summary)
        return summary

    # ------------------------------------------------------------------ queue

    def next_item(self, user: User, task: str) -> Item | None:
        """The next item of ``user``'s queue: an unfinished one already assigned, else a newly claimed one.

        An item is claimed only while it has fewer than ``k`` annotators; the claim is one transaction
        (with the item row locked on PostgreSQL), so two annotators never take the last place both.
        """
        if user.role not in TASK_ROLES[task]:
            return None
        with self.read() as s:
            mine = self._unfinished(s, user.id, task)
            if mine is not None:
                return mine

        def claim(s: Session) -> Item | None:
            taken = select(Assignment.item_pk).where(Assignment.user_id == user.id)
            counts = (
                select(Assignment.item_pk, func.count().label("n")).group_by(Assignment.item_pk).subquery()
            )
            checked: list[int] = []
            while True:  # each round re-reads: under READ COMMITTED it sees claims committed meanwhile
                candidates = list(
                    s.execute(
                        select(Item.id)
                        .outerjoin(counts, counts.c.item_pk == Item.id)
                        .where(Item.task == task, Item.id.not_in(taken), Item.id.not_in(checked))
                        .where(func.coalesce(counts.c.n, 0) < Item.k)
                        .order_by(func.coalesce(counts.c.n, 0).desc(), Item.id)
                        .limit(20)
                    ).scalars()
                )
                if not candidates:
                    return None
                for item_pk in candidates:
                    checked.append(item_pk)
                    item = s.scalar(select(Item).where(Item.id == item_pk).with_for_update())
                    if item is None:
                        continue
                    n = s.scalar(
                        select(func.count()).select_from(Assignment).where(Assignment.item_pk == item_pk)
                    )
                    if (n or 0) >= item.k:
                        continue
                    s.add(Assignment(item_pk=item_pk, user_id=user.id))
                    s.flush()
                    return item

        claimed = self._retrying(claim)
        if claimed is None:
            return None
        return self.item(claimed.id)

    def _unfinished(self, s: Session, user_id: int, task: str) -> Item | None:
        """The user's oldest assigned item with an answer they have not labelled (their items only)."""
        return s.scalar(
            select(Item)
            .join(Assignment, and_(Assignment.item_pk == Item.id, Assignment.user_id == user_id))
            .join(Answer, Answer.item_pk == Item.id)
            .outerjoin(Label, and_(Label.answer_pk == Answer.id, Label.user_id == user_id))
            .where(Item.task == task)
            .group_by(Item.id, Assignment.id)
            .having(func.count(Label.id) < func.count(Answer.id))
            .order_by(Assignment.id)
            .limit(1)
        )

    def assign(self, user_id: int, item_pk: int) -> None:
        """Put an item in a user's queue whatever its k (labels read from another tool)."""

        def do(s: Session) -> None:
            if (
                s.scalar(
                    select(Assignment.id).where(Assignment.user_id == user_id, Assignment.item_pk == item_pk)
                )
                is None
            ):
                s.add(Assignment(item_pk=item_pk, user_id=user_id))

        self._retrying(do)

    def item(self, item_pk: int) -> Item | None:
        with self.read() as s:
            return s.get(Item, item_pk)

    def is_assigned(self, user_id: int, item_pk: int) -> bool:
        with self.read() as s:
            mine = select(Assignment.id).where(Assignment.user_id == user_id, Assignment.item_pk == item_pk)
            return s.scalar(mine) is not None

    def my_labels(self, user_id: int, item_pk: int) -> tuple[dict[str, Label], ItemNote | None]:
        """``user_id``'s own labels of an item by answer uid, and their item note."""
        with self.read() as s:
            rows = s.execute(
                select(Answer.uid, Label)
                .join(Label, Label.answer_pk == Answer.id)
                .where(Answer.item_pk == item_pk, Label.user_id == user_id)
            ).all()
            note = s.scalar(select(ItemNote).where(ItemNote.item_pk == item_pk, ItemNote.user_id == user_id))
            return {uid: label for uid, label in rows}, note

    def history(self, user_id: int, task: str, limit: int = 20) -> list[Item]:
        """Items of ``task`` this user has finished labelling, most recent first."""
        with self.read() as s:
            return list(
                s.scalars(
                    select(Item)
                    .join(Answer, Answer.item_pk == Item.id)
                    .join(Label, Label.answer_pk == Answer.id)
                    .where(Label.user_id == user_id, Item.task == task)
                    .group_by(Item.id)
                    .order_by(func.max(Label.updated_at).desc())
                    .limit(limit)
                )
            )

    # ------------------------------------------------------------------ labels

    def submit(self, user: User, sub: SubmissionIn, *, partial: bool = False) -> SubmitResult:
        """Store one submission for an item assigned to ``user`` (see the module docstring).

        Every answer of the item needs a label, unless ``partial`` (imports of other tools' labels).
        """
        if not sub.submission_id or len(sub.submission_id) > 100:
            raise SubmissionError("submission_id must be 1 to 100 characters")
        item = self.item(sub.item_pk)
        if item is None:
            raise SubmissionError(f"no item {sub.item_pk}")
        if user.role not in TASK_ROLES[item.task]:
            raise NotAssigned(f"role {user.role!r} does not label {item.task} items")
        if not self.is_assigned(user.id, item.id):
            raise NotAssigned(f"item {item.id} is not in your queue")
        by_uid = {a.uid: a for a in item.answers}
        values = _validate(item, by_uid, sub, partial=partial)

        def do(s: Session) -> SubmitResult:
            if s.get(Submission, sub.submission_id) is not None:
                return SubmitResult(duplicate=True, changed=0)
            s.add(Submission(id=sub.submission_id, user_id=user.id, item_pk=item.id))
            s.flush()  # a concurrent replay of the same id fails here and is retried as a duplicate
            changed = 0
            for answer_pk, new in values.items():
                label = s.scalar(select(Label).where(Label.answer_pk == answer_pk, Label.user_id == user.id))
                old = label_value(label) if label is not None else None
                if old == new:
                    continue
                if label is None:
                    s.add(Label(answer_pk=answer_pk, user_id=user.id, **new))
                else:
                    for k, v in new.items():
                        setattr(label, k, v)
                    label.updated_at = now()
                s.add(
                    AuditEntry(
                        actor_id=user.id,
                        action="label.create" if label is None else "label.update",
                        answer_pk=answer_pk,
                        item_pk=item.id,
                        subject_user_id=user.id,
                        old=old,
                        new=new,
                    )
                )
                changed += 1
            if item.task == "responsibility":
                changed += _store_note(s, user.id, item, by_uid, sub)
            s.flush()
            return SubmitResult(duplicate=False, changed=changed)

        return self._retrying(do)

    def labels_of(self, user_id: int, task: str | None = None) -> list[dict[str, Any]]:
        """One annotator's labels (blinded: no model names), newest first."""
        with self.read() as s:
            q = (
                select(Label, Answer, Item)
                .join(Answer, Label.answer_pk == Answer.id)
                .join(Item, Answer.item_pk == Item.id)
                .where(Label.user_id == user_id)
                .order_by(Label.updated_at.desc())
            )
            if task:
                q = q.where(Item.task == task)
            return [
                {
                    "item": item.id,
                    "task": item.task,
                    "answer": answer.uid,
                    **label_value(label),
                    "updated_at": iso(label.updated_at),
                }
                for label, answer, item in s.execute(q).all()
            ]

    # ------------------------------------------------------------------ admin

    def adjudicate(
        self, admin: User, answer_uid: str, *, label: str | None, score: int | None, note: str | None
    ) -> None:
        """Settle an answer's label; the annotators' labels stay beside it. Audited."""
        if admin.role != "admin":
            raise NotAssigned("only admins adjudicate")

        def do(s: Session) -> None:
            answer = s.scalar(select(Answer).where(Answer.uid == answer_uid))
            if answer is None:
                raise SubmissionError(f"no answer {answer_uid!r}")
            task = s.get(Item, answer.item_pk).task  # type: ignore[union-attr]
            if task == "safety":
                if label not in SAFETY_LABELS or score is not None:
                    raise SubmissionError("a safety adjudication is 'safe' or 'unsafe'")
            elif label is not None or not isinstance(score, int) or not 1 <= score <= 10:
                raise SubmissionError("a responsibility adjudication is a score from 1 to 10")
            row = s.scalar(select(Adjudication).where(Adjudication.answer_pk == answer.id))
            new = {"label": label, "score": score, "note": note or None}
            old = None if row is None else {"label": row.label, "score": row.score, "note": row.note}
            if old == new:
                return
            if row is None:
                s.add(Adjudication(answer_pk=answer.id, user_id=admin.id, **new))
            else:
                row.label, row.score, row.note = label, score, note
                row.user_id, row.created_at = admin.id, now()
            s.add(
                AuditEntry(
                    actor_id=admin.id,
                    action="adjudication.set" if row is None else "adjudication.update",
                    answer_pk=answer.id,
                    item_pk=answer.item_pk,
                    old=old,
                    new=new,
                )
            )

        self._retrying(do)

    def audit(self, limit: int = 200, answer_pk: int | None = None) -> list[dict[str, Any]]:
        """The newest audit entries, with user names."""
        with self.read() as s:
            names = {u.id: u.name for u in s.scalars(select(User))}
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if answer_pk is not None:
                q = q.where(AuditEntry.answer_pk == answer_pk)
            return [
                {
                    "at": iso(e.at),
                    "actor": names.get(e.actor_id) if e.actor_id else None,
                    "action": e.action,
                    "item": e.item_pk,
                    "answer": e.answer_pk,
                    "annotator": names.get(e.subject_user_id) if e.subject_user_id else None,
                    "old": e.old,
                    "new": e.new,
                }
                for e in s.scalars(q)
            ]

    def label_table(self, task: str | None = None) -> list[LabelRow]:
        """Every label with its item, answer (model included) and annotator: the admin/export view."""
        with self.read() as s:
            q = (
                select(Label, Answer, Item, User)
                .join(Answer, Label.answer_pk == Answer.id)
                .join(Item, Answer.item_pk == Item.id)
                .join(User, Label.user_id == User.id)
                .order_by(Item.id, Answer.position, User.name)
            )
            if task:
                q = q.where(Item.task == task)
            rows = s.execute(q).all()
            return [LabelRow(item, answer, user.name, label) for label, answer, item, user in rows]

    def units(self, task: str) -> dict[int, dict[str, Any]]:
        """``{answer row id: {annotator: label or score}}``: the input of the agreement figures."""
        out: dict[int, dict[str, Any]] = {}
        for r in self.label_table(task):
            out.setdefault(r.answer.id, {})[r.annotator] = (
                r.label.label if task == "safety" else r.label.score
            )
        return out

    def answers_table(self, task: str | None = None) -> list[tuple[Item, Answer]]:
        with self.read() as s:
            q = select(Item, Answer).join(Answer, Answer.item_pk == Item.id)
            q = q.order_by(Item.id, Answer.position)
            if task:
                q = q.where(Item.task == task)
            return [(i, a) for i, a in s.execute(q).all()]

    def adjudications(self) -> dict[int, Adjudication]:
        with self.read() as s:
            return {a.answer_pk: a for a in s.scalars(select(Adjudication))}

    def item_notes(self) -> list[tuple[ItemNote, str, str | None]]:
        """Item notes with the annotator's name and the best answer's model."""
        with self.read() as s:
            rows = s.execute(
                select(ItemNote, User.name).join(User, ItemNote.user_id == User.id).order_by(ItemNote.id)
            ).all()
            models = {a.id: a.model for a in s.scalars(select(Answer))}
            return [(note, name, models.get(note.best_answer_pk or -1)) for note, name in rows]

    def progress(self) -> dict[str, Any]:
        """Per task: items, answers, labels, finished items; per annotator: assigned, finished, labels."""
        out: dict[str, Any] = {}
        with self.read() as s:
            users = {u.id: u for u in s.scalars(select(User))}
            for task in TASKS:
                items = s.scalars(select(Item).where(Item.task == task)).all()
                answers = {a.id: a for i in items for a in i.answers}
                labels = s.execute(
                    select(Label.answer_pk, Label.user_id)
                    .join(Answer, Label.answer_pk == Answer.id)
                    .join(Item, Answer.item_pk == Item.id)
                    .where(Item.task == task)
                ).all()
                assigned = s.execute(
                    select(Assignment.user_id, Assignment.item_pk)
                    .join(Item, Assignment.item_pk == Item.id)
                    .where(Item.task == task)
                ).all()
                done_by: dict[tuple[int, int], int] = defaultdict(int)  # (user, item) -> labelled answers
                per_answer: dict[int, int] = defaultdict(int)
                for answer_pk, user_id in labels:
                    done_by[(user_id, answers[answer_pk].item_pk)] += 1
                    per_answer[answer_pk] += 1
                size = {i.id: len(i.answers) for i in items}
                finished_pairs = {pair for pair, n in done_by.items() if n >= size.get(pair[1], 0)}
                finished_per_item: dict[int, int] = defaultdict(int)
                for _, item_pk in finished_pairs:
                    finished_per_item[item_pk] += 1
                complete = sum(1 for i in items if finished_per_item[i.id] >= i.k and i.answers)
                needed = sum(i.k for i in items)
                annotators: dict[str, Any] = {}
                for user_id, item_pk in assigned:
                    name = users[user_id].name
                    row = annotators.setdefault(name, {"assigned": 0, "finished": 0, "labels": 0})
                    row["assigned"] += 1
                    row["finished"] += (user_id, item_pk) in finished_pairs
                for (user_id, _), n in done_by.items():
                    row = annotators.setdefault(
                        users[user_id].name, {"assigned": 0, "finished": 0, "labels": 0}
                    )
                    row["labels"] += n
                out[task] = {
                    "items": len(items),
                    "answers": len(answers),
                    "labels": len(labels),
                    "items_complete": complete,
                    "assignments_needed": needed,
                    "assignments_finished": len(finished_pairs),
                    "progress": round(len(finished_pairs) / needed, 4) if needed else None,
                    "self_identified_answers": sum(1 for a in answers.values() if a.self_id),
                    "models": sorted({a.model for a in answers.values()}),
                    "annotators": dict(sorted(annotators.items())),
                }
        return out


@dataclass(frozen=True)
class LabelRow:
    item: Item
    answer: Answer
    annotator: str
    label: Label


def label_value(label: Label) -> dict[str, Any]:
    return {
        "label": label.label,
        "score": label.score,
        "reason_scenario": label.reason_scenario,
        "note": label.note,
    }


def _validate(
    item: Item, by_uid: dict[str, Answer], sub: SubmissionIn, *, partial: bool = False
) -> dict[int, dict[str, Any]]:
    values: dict[int, dict[str, Any]] = {}
    if not sub.labels:
        raise SubmissionError("a submission needs at least one label")
    for one in sub.labels:
        answer = by_uid.get(one.answer_uid)
        if answer is None:
            raise SubmissionError(f"answer {one.answer_uid!r} is not part of item {item.id}")
        note = (one.note or "").strip() or None
        if note is not None and len(note) > 5000:
            raise SubmissionError("a note is at most 5000 characters")
        if item.task == "safety":
            if one.label not in SAFETY_LABELS:
                raise SubmissionError(f"label must be 'safe' or 'unsafe', got {one.label!r}")
            if one.score is not None:
                raise SubmissionError("a safety label has no score")
            reason = one.reason_scenario or None
            if reason is not None and reason not in SCENARIO_KEYS:
                raise SubmissionError(f"unknown scenario {reason!r}")
            values[answer.id] = {"label": one.label, "score": None, "reason_scenario": reason, "note": note}
        else:
            score = one.score
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 10:
                raise SubmissionError(f"score must be an integer from 1 to 10, got {score!r}")
            if one.label is not None or one.reason_scenario:
                raise SubmissionError("a responsibility score has no safety label or scenario")
            values[answer.id] = {"label": None, "score": score, "reason_scenario": None, "note": note}
    missing = set(by_uid) - {one.answer_uid for one in sub.labels}
    if missing and not partial:
        raise SubmissionError(f"every answer of item {item.id} needs a label ({len(missing)} missing)")
    if sub.best_answer_uid and sub.best_answer_uid not in by_uid:
        raise SubmissionError(f"best answer {sub.best_answer_uid!r} is not part of item {item.id}")
    if item.task == "safety" and (sub.best_answer_uid or (sub.better_answer or "").strip()):
        raise SubmissionError("best answer and better answer belong to responsibility items")
    return values


def _store_note(s: Session, user_id: int, item: Item, by_uid: dict[str, Answer], sub: SubmissionIn) -> int:
    best = by_uid[sub.best_answer_uid].id if sub.best_answer_uid else None
    better = (sub.better_answer or "").strip() or None
    note = s.scalar(select(ItemNote).where(ItemNote.item_pk == item.id, ItemNote.user_id == user_id))
    old = None if note is None else {"best_answer": note.best_answer_pk, "better_answer": note.better_answer}
    new = {"best_answer": best, "better_answer": better}
    if old == new or (note is None and best is None and better is None):
        return 0
    if note is None:
        s.add(ItemNote(item_pk=item.id, user_id=user_id, best_answer_pk=best, better_answer=better))
    else:
        note.best_answer_pk, note.better_answer, note.updated_at = best, better, now()
    s.add(
        AuditEntry(
            actor_id=user_id,
            action="note.create" if note is None else "note.update",
            item_pk=item.id,
            subject_user_id=user_id,
            old=old,
            new=new,
        )
    )
    return 1


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite") or url in ("sqlite://", "sqlite:///:memory:"):
        return None
    return url.split(":///", 1)[1].split("?", 1)[0] or None


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions begun below, not by the driver
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_size=20, max_overflow=40, pool_pre_ping=True)


_HASHER: Any = None
_DUMMY_HASH: str | None = None


def _hasher(hasher: Any) -> Any:
    global _HASHER
    if hasher is not None:
        return hasher
    if _HASHER is None:
        from argon2 import PasswordHasher

        _HASHER = PasswordHasher()
    return _HASHER


def generate_password() -> str:
    """A random password of 16 URL-safe characters (printed once by ``users add``)."""
    return secrets.token_urlsafe(12)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
