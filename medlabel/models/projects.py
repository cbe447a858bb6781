"""Projects the platform created in Label Studio, with what is needed to read their results back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medlabel.db import Base


class ProjectRecord(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Label Studio project id.
    ls_project_id: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(255))
    template_id: Mapped[str] = mapped_column(String(64), index=True)
    template_version: Mapped[int] = mapped_column(Integer)
    #: Display language of label names (en, ko, both).
    language: Mapped[str] = mapped_column(String(8))
    #: control name -> {label text shown in Label Studio -> stable code}: maps annotations back to codes.
    label_codes: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Independent reads per task, from the template unless the routing policy overrides it.
    reads: Mapped[int] = mapped_column(Integer)
    #: Model-version prefixes whose predictions physicians are shown (None: all; [] : none). The gateway
    #: drops every other prediction from what a physician's editor receives.
    shown_models: Mapped[list[str] | None] = mapped_column(JSON)
    #: PHI review: de-identified drafts are sampled into a review queue and reach Label Studio only when released.
    phi_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Share of drafts sampled once their source has proven itself.
    phi_review_share: Mapped[float] = mapped_column(Float, default=0.05, server_default="0.05")
    #: A source is proven after this many released items with no rejection since (until then: all are held).
    phi_review_proven_after: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))
