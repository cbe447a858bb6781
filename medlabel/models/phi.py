"""The PHI review queue: de-identified drafts held back from Label Studio until a reviewer releases them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medlabel.db import Base


class HeldState:
    """Where a held item stands (stored as text)."""

    HELD = "held"
    RELEASED = "released"
    REJECTED = "rejected"


class HeldItem(Base):
    """One de-identified task draft waiting for PHI review. Only de-identified output is stored: the task
    as it would be imported, what was removed (kinds and positions, never values) and the names of its media
    files in the private held folder."""

    __tablename__ = "phi_review_items"
    __table_args__ = (
        UniqueConstraint("ls_project_id", "content_key", name="uq_phi_review_items_project_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    #: Same key as IngestedItem's: held or rejected content is never imported by a later run either.
    content_key: Mapped[str] = mapped_column(String(64))
    plugin: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(32))
    source_institution: Mapped[str | None] = mapped_column(String(128))
    #: Why it was held: "new_source", "sampled", or the plugin's review reasons ("ocr_low_confidence", ...).
    reasons: Mapped[list[str]] = mapped_column(JSON)
    #: The Label Studio task to import on release ({"data": ..., "predictions": [...]}).
    task: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: What de-identification removed, for the reviewer: text placeholders' kinds and offsets, image boxes.
    removed: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Media paths relative to the project's held folder (same relative paths under the served folder).
    media: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=HeldState.HELD, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The reviewer's reason for a rejection.
    decision_reason: Mapped[str | None] = mapped_column(Text)
    ls_task_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))
