"""The physician pool: who may read what (specialties, certification, tier) and how much per day."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medlabel.db import Base


class Physician(Base):
    __tablename__ = "physicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Medical license number: the natural key a CSV re-import upserts on.
    license_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: medlabel.specialties.Tier value.
    tier: Mapped[str] = mapped_column(String(16))
    subspecialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    institution: Mapped[str] = mapped_column(String(128), index=True)
    daily_capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    ls_user_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    #: Share of gold-standard reads this physician got right (set by quality; None until measured).
    accuracy: Mapped[float | None] = mapped_column(Float)
    #: Gold reads behind `accuracy`: few reads earn an exploration bonus in the dispatcher.
    reads_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The LS user's personal refresh token, Fernet-encrypted with the gateway keys (useless without them).
    ls_refresh_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))

    specialties: Mapped[list[PhysicianSpecialty]] = relationship(
        back_populates="physician", cascade="all, delete-orphan", order_by="PhysicianSpecialty.specialty"
    )

    def certified_in(self) -> dict[str, bool]:
        """specialty code -> board certified."""
        return {s.specialty: s.board_certified for s in self.specialties}


class PhysicianSpecialty(Base):
    __tablename__ = "physician_specialties"

    physician_id: Mapped[int] = mapped_column(
        ForeignKey("physicians.id", ondelete="CASCADE"), primary_key=True
    )
    specialty: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    board_certified: Mapped[bool] = mapped_column(Boolean, default=False)

    physician: Mapped[Physician] = relationship(back_populates="specialties")
