"""The tables of an annotation project: one schema for SQLite and PostgreSQL (SQLAlchemy 2 ORM).

What the schema itself guarantees, whatever the app does:

* one label per (answer, annotator) (``labels_answer_annotator``): a repeated or concurrent submission
  updates, never duplicates;
* one stored submission per client submission id (``submissions.id``): a replayed request is a no-op;
* one assignment per (item, annotator); one settled label per answer (``adjudications``);
* one item per (task, key) and one answer per (item, model): importing the same run twice adds nothing.

Model names live only in ``answers.model``; nothing rendered to annotators reads it (blinding).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TASKS: tuple[str, ...] = ("safety", "responsibility")
ROLES: tuple[str, ...] = ("annotator", "expert", "admin")
SAFETY_LABELS: tuple[str, ...] = ("safe", "unsafe")
SCHEMA_VERSION = "1"


def now() -> datetime:
    """The current time, UTC, timezone-aware (stored as such on both databases)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Project-wide values: schema version, the session secret, content warnings per task."""

    __tablename__ = "annotate_settings"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    __tablename__ = "annotate_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    #: argon2 hash; None for accounts that cannot log in (e.g. annotators read from Label Studio).
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    blur: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class LoginSession(Base):
    """A server-side session: the cookie holds only the random token; logout and expiry end it here."""

    __tablename__ = "annotate_login_sessions"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Tasks whose content warning this session has acknowledged, space separated.
    acknowledged: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[User] = relationship(lazy="joined")


class Item(Base):
    """One unit of work: a prompt with one answer (safety) or several models' answers (responsibility)."""

    __tablename__ = "annotate_items"
    __table_args__ = (UniqueConstraint("task", "key", name="items_task_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(20), index=True)
    #: ``item_id`` (responsibility) or ``item_id`` + model (safety): what makes an import idempotent.
    key: Mapped[str] = mapped_column(String(600))
    item_id: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    prompt: Mapped[str] = mapped_column(Text)
    #: How many annotators each answer of this item goes to.
    k: Mapped[int] = mapped_column(Integer, default=1)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    answers: Mapped[list[Answer]] = relationship(
        back_populates="item", order_by="Answer.position", lazy="selectin"
    )


class Answer(Base):
    """One model's answer to an item's prompt. ``position`` is its shuffled place on the page."""

    __tablename__ = "annotate_answers"
    __table_args__ = (UniqueConstraint("item_pk", "model", name="answers_item_model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Random public id used in pages and forms (the row id would tell import order, i.e. the model).
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("annotate_items.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(500))
    #: The text shown to annotators (model self-identification masked when the import asked for it).
    text: Mapped[str] = mapped_column(Text)
    #: The answer exactly as the model wrote it.
    original_text: Mapped[str] = mapped_column(Text)
    #: Model or vendor names the answer calls itself by (blinding broken), comma separated; None if none.
    self_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    item: Mapped[Item] = relationship(back_populates="answers")


class Assignment(Base):
    """An item in an annotator's queue; each item gets at most ``item.k`` of them."""

    __tablename__ = "annotate_assignments"
    __table_args__ = (UniqueConstraint("item_pk", "user_id", name="assignments_item_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("annotate_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Submission(Base):
    """A client's submission id, stored in the same transaction as its labels: a replay is a no-op."""

    __tablename__ = "annotate_submissions"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id", ondelete="CASCADE"))
    item_pk: Mapped[int] = mapped_column(ForeignKey("annotate_items.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Label(Base):
    """One annotator's judgement of one answer: ``label`` (safety) or ``score`` 1-10 (responsibility)."""

    __tablename__ = "annotate_labels"
    __table_args__ = (UniqueConstraint("answer_pk", "user_id", name="labels_answer_annotator"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_pk: Mapped[int] = mapped_column(ForeignKey("annotate_answers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(20), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason_scenario: Mapped[str | None] = mapped_column(String(100), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class ItemNote(Base):
    """Per (item, annotator) extras of the responsibility page: the best answer and a better one."""

    __tablename__ = "annotate_item_notes"
    __table_args__ = (UniqueConstraint("item_pk", "user_id", name="item_notes_item_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("annotate_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id", ondelete="CASCADE"))
    best_answer_pk: Mapped[int | None] = mapped_column(
        ForeignKey("annotate_answers.id", ondelete="SET NULL"), nullable=True
    )
    better_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Adjudication(Base):
    """The label an admin settled for an answer; the annotators' labels stay as they were."""

    __tablename__ = "annotate_adjudications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_pk: Mapped[int] = mapped_column(ForeignKey("annotate_answers.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("annotate_users.id"))
    label: Mapped[str | None] = mapped_column(String(20), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class AuditEntry(Base):
    """Every change of a label, item note or adjudication: who, when, what, old and new value."""

    __tablename__ = "annotate_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("annotate_users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    answer_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    item_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
