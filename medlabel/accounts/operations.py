"""Account changes: invite, accept an invite, log in, revoke. CLI commands and pages call these."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.accounts import label_studio
from medlabel.accounts.passwords import check_strength, hash_password, needs_rehash, verify_password
from medlabel.db import utc
from medlabel.errors import MedlabelError, UnknownRecordError
from medlabel.models import Account, Invite, Physician, Role
from medlabel.settings import Settings

logger = logging.getLogger(__name__)


class InviteError(MedlabelError):
    """An invite link that is unknown, used or expired; the message is the same for all three on purpose."""

    code = "invalid_invite"
    http_status = 410
    exit_code = 2


class AccountError(MedlabelError):
    code = "account_error"
    http_status = 400
    exit_code = 2


@dataclass(frozen=True)
class IssuedInvite:
    account_id: int
    email: str
    url: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def account_for_physician(session: Session, physician: Physician) -> Account:
    """The physician's account, created (without a password) on first need."""
    account = session.scalar(select(Account).where(Account.physician_id == physician.id))
    if account is None:
        clash = session.scalar(select(Account).where(Account.email == physician.email.lower()))
        if clash is not None:
            raise AccountError(f"{physician.email} already has a {clash.role} account")
        account = Account(
            email=physician.email.lower(), role=Role.PHYSICIAN.value, physician_id=physician.id, active=True
        )
        session.add(account)
        session.flush()
    return account


def invite(session: Session, settings: Settings, account: Account) -> IssuedInvite:
    """A one-time link to set the account's password; earlier unused links of the account stop working."""
    for old in session.scalars(
        select(Invite).where(Invite.account_id == account.id, Invite.used_at.is_(None))
    ):
        old.used_at = _now()
    token = secrets.token_urlsafe(32)
    expires = _now() + timedelta(hours=settings.invite_hours)
    session.add(Invite(account_id=account.id, token_hash=_token_hash(token), expires_at=expires))
    session.commit()
    logger.info(
        "account %s: invite issued, valid until %s", account.id, expires.isoformat(timespec="minutes")
    )
    return IssuedInvite(account.id, account.email, f"{settings.public_url}/invite/{token}", expires)


def invite_physician(session: Session, settings: Settings, physician_id: int) -> IssuedInvite:
    physician = session.get(Physician, physician_id)
    if physician is None:
        raise UnknownRecordError(f"no physician with id {physician_id}")
    return invite(session, settings, account_for_physician(session, physician))


def create_staff_account(session: Session, settings: Settings, email: str, role: Role) -> IssuedInvite:
    """An admin, manager or client account, invited like physicians (no password ever travels)."""
    if role is Role.PHYSICIAN:
        raise AccountError("physician accounts come from the pool: `medlabel accounts invite --physician ID`")
    email = email.strip().lower()
    account = session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, role=role.value, active=True)
        session.add(account)
        session.flush()
    elif account.role != role.value:
        raise AccountError(f"{email} already has a {account.role} account")
    return invite(session, settings, account)


def pending_invite(session: Session, token: str) -> Invite:
    """The invite behind a link, if it can still be used."""
    found = session.scalar(select(Invite).where(Invite.token_hash == _token_hash(token)))
    if (
        found is None
        or found.used_at is not None
        or utc(found.expires_at) <= _now()
        or not found.account.active
    ):
        raise InviteError("this invite link is not valid any more: ask your project manager for a new one")
    return found


def accept_invite(session: Session, settings: Settings, token: str, password: str) -> Account:
    """Set the password and use up the link. A physician's Label Studio user is made first, so a failure
    there leaves the link usable and nothing half-done."""
    found = pending_invite(session, token)
    account = found.account
    check_strength(password, account.email)
    if account.physician is not None:
        label_studio.provision(settings, session, account.physician)
    account.password_hash = hash_password(password)
    account.session_version += 1
    found.used_at = _now()
    session.commit()
    logger.info("account %s: invite accepted", account.id)
    return account


def set_password(session: Session, settings: Settings, account: Account, password: str) -> None:
    """Set a password directly (the demo's printed login); ends every open session of the account."""
    check_strength(password, account.email)
    if account.physician is not None:
        label_studio.provision(settings, session, account.physician)
    account.password_hash = hash_password(password)
    account.session_version += 1
    session.commit()


def authenticate(session: Session, email: str, password: str) -> Account | None:
    """The active account with this e-mail and password, else None (same answer and cost for every miss)."""
    account = session.scalar(select(Account).where(Account.email == email.strip().lower()))
    if not verify_password(account.password_hash if account else None, password) or account is None:
        return None
    if not account.active:
        return None
    if needs_rehash(account.password_hash or ""):
        account.password_hash = hash_password(password)
    account.last_login_at = _now()
    session.commit()
    return account


def revoke(session: Session, account_id: int) -> Account:
    """Lock the account out; its open sessions end at their next request."""
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownRecordError(f"no account with id {account_id}")
    account.active = False
    account.session_version += 1
    session.commit()
    logger.info("account %s revoked", account_id)
    return account
