"""The sync mirror: Label Studio's webhook inbox, its annotations and tasks as the platform sees them, their
version history and each project's reconciliation watermark.

Rows are keyed by Label Studio ids (ls_*), so webhook handlers and reconciliation can write them in any order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medlabel.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class InboxEvent(Base):
    """One webhook delivery, stored raw before anything else happens; processed later by a job."""

    __tablename__ = "sync_inbox"
    __table_args__ = (Index("ix_sync_inbox_processed_at_id", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the raw body: Label Studio sends no delivery id, and a replayed body is the same event.
    delivery_key: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(32))
    #: None only for TASKS_DELETED of "delete all tasks", which Label Studio sends without a project.
    ls_project_id: Mapped[int | None] = mapped_column(Integer, index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Last processing failure (kept with the event; reconciliation repairs what it missed).
    error: Mapped[str | None] = mapped_column(Text)


class MirrorTask(Base):
    """A Label Studio task of a managed project as last seen (by webhook or reconciliation)."""

    __tablename__ = "mirror_tasks"

    ls_task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    ls_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    mirrored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class MirrorAnnotation(Base):
    """The current state of one Label Studio annotation; quarantined rows are kept but excluded downstream."""

    __tablename__ = "mirror_annotations"
    __table_args__ = (Index("ix_mirror_annotations_project_quarantined", "ls_project_id", "quarantined"),)

    ls_annotation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: None only for a deletion seen before its annotation (a tombstone until the create arrives).
    ls_task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ls_project_id: Mapped[int | None] = mapped_column(Integer, index=True)
    result: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Label Studio user id of the author (None if Label Studio deleted the user).
    completed_by: Mapped[int | None] = mapped_column(Integer)
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id", ondelete="SET NULL"))
    #: Cumulative editor seconds (ARCHITECTURE.md, lead_time); a read's own time is its increment in history.
    lead_time: Mapped[float | None] = mapped_column(Float)
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    ground_truth: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The pre-annotation the physician started from.
    prediction_id: Mapped[int | None] = mapped_column(Integer)
    parent_prediction_id: Mapped[int | None] = mapped_column(Integer)
    parent_annotation_id: Mapped[int | None] = mapped_column(Integer)
    ls_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ls_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    quarantine_reason: Mapped[str | None] = mapped_column(String(255))
    mirrored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class AnnotationVersion(Base):
    """One saved state of an annotation (one per Label Studio updated_at), in whatever order it arrived."""

    __tablename__ = "mirror_annotation_versions"
    __table_args__ = (
        UniqueConstraint(
            "ls_annotation_id", "ls_updated_at", name="uq_mirror_annotation_versions_annotation_updated"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ls_annotation_id: Mapped[int] = mapped_column(Integer, index=True)
    ls_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[list[Any]] = mapped_column(JSON, default=list)
    completed_by: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(Integer)
    lead_time: Mapped[float | None] = mapped_column(Float)
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SyncWatermark(Base):
    """How far reconciliation has read a project: tasks updated after `updated_at` (minus an overlap)."""

    __tablename__ = "sync_watermarks"

    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Last full task-id diff (the only way to see deleted tasks whose webhook was lost).
    last_full_diff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
