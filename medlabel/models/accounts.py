"""Platform accounts: who may log in, in which role, and the one-time invites that set a password."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medlabel.db import Base
from medlabel.models.pool import Physician


def _now() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    PHYSICIAN = "physician"
    CLIENT = "client"


class Account(Base):
    """A person who logs in to the platform; a physician's account points at their pool record."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased; the login name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Role value.
    role: Mapped[str] = mapped_column(String(16))
    #: argon2id hash; None until the invite is accepted.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    physician_id: Mapped[int | None] = mapped_column(
        ForeignKey("physicians.id", ondelete="CASCADE"), unique=True
    )
    #: A revoked account logs in no more, and its open sessions end at their next request.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped on password change or revocation: sessions carry it, so older sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    #: Interface language: ko or en.
    language: Mapped[str] = mapped_column(String(8), default="ko")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    physician: Mapped[Physician | None] = relationship()


class Invite(Base):
    """A one-time, expiring link that lets an account set its password; only the token's SHA-256 is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    account: Mapped[Account] = relationship()
