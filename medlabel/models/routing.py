"""Routing state: each project's policy, the tasks we route, and assignments (leases) with their history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medlabel.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class AssignmentState(StrEnum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    REROUTED = "rerouted"
    CANCELLED = "cancelled"


#: States in which an assignment holds a read of its task (counts towards k and is allowed to annotate).
HOLDING_STATES = (AssignmentState.ASSIGNED.value, AssignmentState.SUBMITTED.value)


class RoutingPolicy(Base):
    """Who may read a project's tasks and how many times; one row per project (defaults from its template)."""

    __tablename__ = "routing_policies"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    client_name: Mapped[str | None] = mapped_column(String(128))
    specialty: Mapped[str] = mapped_column(String(64))
    subspecialty: Mapped[str | None] = mapped_column(String(64))
    min_tier: Mapped[str] = mapped_column(String(16))
    require_board_certification: Mapped[bool] = mapped_column(Boolean)
    #: k: independent reads per task by distinct physicians.
    reads: Mapped[int] = mapped_column(Integer)
    #: Extra gold-standard reads per physician, as a share of their regular new assignments.
    gold_share: Mapped[float] = mapped_column(Float, default=0.0)
    reviewer_specialty: Mapped[str | None] = mapped_column(String(64))
    reviewer_tier: Mapped[str | None] = mapped_column(String(16))
    conflict_of_interest: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A task whose consensus agreement is below this (or that has no consensus) goes to a reviewer.
    agreement_threshold: Mapped[float] = mapped_column(Float, default=0.6, server_default="0.6")
    #: At most this many of this project's tasks per physician per day (on top of their own capacity).
    daily_capacity: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_hours: Mapped[int] = mapped_column(Integer, default=48)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class RoutedTask(Base):
    """A Label Studio task known to routing, with what the dispatcher needs to know about it."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    ls_task_id: Mapped[int] = mapped_column(Integer, unique=True)
    content_key: Mapped[str | None] = mapped_column(String(64))
    #: Institution the data came from: its physicians never read it (conflict of interest).
    source_institution: Mapped[str | None] = mapped_column(String(128))
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The ML backend's lowest prediction score; lower is routed first, None after all scored tasks.
    priority: Mapped[float | None] = mapped_column(Float)
    #: Reads still missing after the last routing run because too few physicians were eligible.
    shortfall: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    assignments: Mapped[list[Assignment]] = relationship(back_populates="task", order_by="Assignment.id")


class Assignment(Base):
    """One physician's lease on one task; never deleted, only moved between states."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "physician_id", name="uq_assignments_task_id_physician_id"),
        Index("ix_assignments_physician_id_state", "physician_id", "state"),
        Index("ix_assignments_state_leased_until", "state", "leased_until"),
        Index("ix_assignments_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=AssignmentState.ASSIGNED.value)
    is_gold_read: Mapped[bool] = mapped_column(Boolean, default=False)
    leased_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    task: Mapped[RoutedTask] = relationship(back_populates="assignments")
    events: Mapped[list[AssignmentEvent]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan", order_by="AssignmentEvent.id"
    )


class AssignmentEvent(Base):
    __tablename__ = "assignment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    assignment: Mapped[Assignment] = relationship(back_populates="events")


class DailyLoad(Base):
    """Reads given on one UTC day per physician and project that still hold their task (assigned or submitted).

    A counter kept by every assignment write, so routing a new task reads only its eligible physicians' rows
    instead of counting the day's assignments (millions on a busy day).
    """

    __tablename__ = "routing_daily_loads"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    physician_id: Mapped[int] = mapped_column(
        ForeignKey("physicians.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reads: Mapped[int] = mapped_column(Integer, default=0)
