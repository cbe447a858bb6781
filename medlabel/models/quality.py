"""Quality's tables: consensus per task × control, each read's outcome, adjudications, gold answers and the
per-physician gold scores behind `Physician.accuracy`.

Keyed by Label Studio ids like the sync mirror they are computed from, so a rerun replaces rows in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medlabel.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class ResultStatus(StrEnum):
    CONSENSUS = "consensus"
    #: k reads, but the method claims no answer (a tie): adjudication decides.
    NO_CONSENSUS = "no_consensus"
    #: Fewer than k valid reads: never a consensus of one.
    INCOMPLETE = "incomplete"
    #: The control's tag has no aggregator: the reads are kept, nothing is claimed.
    NO_AGGREGATOR = "no_aggregator"
    #: The method claims no answer by design (TextArea): the reads are the result.
    READS_ONLY = "reads_only"
    #: A reviewer decided; final.
    ADJUDICATED = "adjudicated"


class AdjudicationStatus(StrEnum):
    ROUTED = "routed"
    #: No reviewer qualified (or had room): `medlabel consensus` tries again.
    NO_REVIEWER = "no_reviewer"
    DECIDED = "decided"


class QualityConfig(Base):
    """The labeling config consensus last used for a project (read from Label Studio, which managers may edit)."""

    __tablename__ = "quality_configs"

    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label_config: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class QualityResult(Base):
    """The reference standard of one control on one task, how it was reached and from which reads."""

    __tablename__ = "quality_results"
    __table_args__ = (
        UniqueConstraint("ls_task_id", "control", name="uq_quality_results_task_control"),
        Index("ix_quality_results_project_status", "ls_project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ls_project_id: Mapped[int] = mapped_column(Integer)
    ls_task_id: Mapped[int] = mapped_column(Integer)
    #: The control's name in the labeling config.
    control: Mapped[str] = mapped_column(String(128))
    tag: Mapped[str] = mapped_column(String(64))
    #: ResultStatus value.
    status: Mapped[str] = mapped_column(String(16))
    #: Result items in Label Studio's shape; None when nothing is claimed.
    items: Mapped[list[Any] | None] = mapped_column(JSON)
    #: The method's own agreement among the reads (0..1), kept after adjudication.
    agreement: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(64))
    annotation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: physician id (as a string key) -> what the method measured of them on this task.
    per_reader: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Why nothing is claimed (no aggregator, incomplete), naming the control.
    message: Mapped[str | None] = mapped_column(String(255))
    #: SHA-256 of what the row was computed from and what it says: an unchanged rerun writes nothing.
    inputs_hash: Mapped[str] = mapped_column(String(64))
    #: Bumped each time the row changes.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReadOutcome(Base):
    """One read of one control judged against the task's final answer (payouts read `overturned`)."""

    __tablename__ = "quality_read_outcomes"

    ls_annotation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    control: Mapped[str] = mapped_column(String(128), primary_key=True)
    ls_task_id: Mapped[int] = mapped_column(Integer, index=True)
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id", ondelete="SET NULL"))
    #: The read gives the final answer (None when no answer is claimed).
    agrees: Mapped[bool | None] = mapped_column()
    #: A reviewer's decision differs from this read.
    overturned: Mapped[bool] = mapped_column(default=False)


class Adjudication(Base):
    """One more read by a senior reviewer for a task whose readers disagreed; the reviewer's answer is final."""

    __tablename__ = "quality_adjudications"

    ls_task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    #: AdjudicationStatus value.
    status: Mapped[str] = mapped_column(String(16))
    #: Why review was needed, e.g. "certainty: agreement 0.67 < 0.70" or "certainty: no consensus".
    trigger: Mapped[str] = mapped_column(String(255))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("physicians.id", ondelete="SET NULL"))
    #: The reviewer's annotation: the final answer.
    ls_annotation_id: Mapped[int | None] = mapped_column(Integer)
    #: The reviewer's reason (their TextArea, or `medlabel quality adjudicate --reason`).
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GoldStandard(Base):
    """A task's reference answer; kept in the platform DB only, never sent to Label Studio."""

    __tablename__ = "quality_gold"

    ls_task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    result: Mapped[list[Any]] = mapped_column(JSON)
    #: "file" (gold import) or "adjudication" (gold promote).
    source: Mapped[str] = mapped_column(String(16))
    #: The annotation the answer came from (a promoted adjudication), which is not scored against itself.
    ls_annotation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class GoldScore(Base):
    """A physician's gold reads on one control of one project: confusion matrix and its Beta posterior."""

    __tablename__ = "quality_gold_scores"

    physician_id: Mapped[int] = mapped_column(
        ForeignKey("physicians.id", ondelete="CASCADE"), primary_key=True
    )
    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    control: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: reference label -> given label -> count.
    confusion: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: label -> posterior mean of reading it right (Dirichlet prior per row).
    per_label: Mapped[dict[str, Any]] = mapped_column(JSON)
    correct: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class ReaderEstimate(Base):
    """The worker-quality model's reliability of a physician in one project, from its last project-wide run."""

    __tablename__ = "quality_reader_estimates"

    physician_id: Mapped[int] = mapped_column(
        ForeignKey("physicians.id", ondelete="CASCADE"), primary_key=True
    )
    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    method: Mapped[str] = mapped_column(String(64))
    quality: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
