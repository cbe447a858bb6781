"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendation)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from medlabel.errors import MedlabelError

_HASHER = PasswordHasher()
#: Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("medlabel-timing-equaliser")
MIN_LENGTH = 12


class WeakPasswordError(MedlabelError):
    code = "weak_password"
    http_status = 400
    exit_code = 2


def check_strength(password: str, email: str) -> None:
    """Refuse passwords a guesser tries first: short, or containing the e-mail's name."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"a password needs at least {MIN_LENGTH} characters")
    local = email.partition("@")[0].lower()
    if len(local) >= 4 and local in password.lower():
        raise WeakPasswordError("a password must not contain your e-mail name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches; a missing hash still spends the time of one verification."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
