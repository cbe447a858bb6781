"""What ingest remembers per project: the pseudonymisation key and the content already turned into tasks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medlabel.db import Base


class IngestKey(Base):
    """The per-project secret behind every pseudonym and remapped UID: same secret, same new UID on re-ingest."""

    __tablename__ = "ingest_keys"

    ls_project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    secret: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


class IngestedItem(Base):
    """One Label Studio task created by ingest; the unique content key is what makes re-runs idempotent."""

    __tablename__ = "ingested_items"
    __table_args__ = (
        UniqueConstraint("ls_project_id", "content_key", name="uq_ingested_items_project_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ls_project_id: Mapped[int] = mapped_column(Integer, index=True)
    content_key: Mapped[str] = mapped_column(String(64))
    ls_task_id: Mapped[int] = mapped_column(Integer, index=True)
    #: Institution the data came from (`ingest --source-institution`): kept here, never sent to Label Studio,
    #: and read by routing's conflict-of-interest rule whoever reports the task's arrival.
    source_institution: Mapped[str | None] = mapped_column(String(128))
    plugin: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))
