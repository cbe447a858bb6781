"""Each physician's Label Studio identity, made and used over HTTP only (compose reaches LS only by HTTP).

Community has no API that sets a password or hands an admin another user's token (ARCHITECTURE.md,
"Access control"), so the platform signs the physician up itself with the organization's invite token and a
random password nobody ever sees, then asks for the user's personal refresh token in that session. The
refresh token is kept Fernet-encrypted with the gateway keys; the gateway trades it for 300 s access tokens.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time

import httpx
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.errors import ConfigError, LabelStudioError
from medlabel.models import Physician
from medlabel.settings import Settings

logger = logging.getLogger(__name__)

#: Refresh an access token this long before it expires, so a proxied request never carries a dying one.
EXPIRY_MARGIN_S = 30.0


class TokenVault:
    """Encrypts refresh tokens with the first gateway key; decrypts with any (MultiFernet), for rotation."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ConfigError(
                "MEDLABEL_GATEWAY_KEYS is not set: generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ConfigError(f"MEDLABEL_GATEWAY_KEYS holds a malformed key: {exc}") from None

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "a stored Label Studio token does not decrypt with MEDLABEL_GATEWAY_KEYS (key removed too early?)"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the first key."""
        return self._fernet.rotate(ciphertext.encode()).decode()


def rotate_stored_tokens(session: Session, vault: TokenVault) -> int:
    """Re-encrypt every stored refresh token under the first gateway key; returns how many."""
    physicians = list(session.scalars(select(Physician).where(Physician.ls_refresh_token.is_not(None))))
    for physician in physicians:
        physician.ls_refresh_token = vault.rotate(physician.ls_refresh_token or "")
    session.commit()
    return len(physicians)


def _admin(settings: Settings) -> dict[str, str]:
    if not settings.label_studio_api_key:
        raise LabelStudioError("LABEL_STUDIO_API_KEY is not set; the local stack prints one on start")
    return {"Authorization": f"Token {settings.label_studio_api_key}"}


def provision(settings: Settings, session: Session, physician: Physician) -> int:
    """Give the physician a Label Studio user the platform can act as; idempotent. Returns the LS user id.

    Signing up takes the organization's invite token and a form with CSRF, exactly as a person would.
    """
    if physician.ls_user_id is not None and physician.ls_refresh_token:
        return physician.ls_user_id
    vault = TokenVault(settings.gateway_keys)
    base = settings.label_studio_url
    try:
        with (
            httpx.Client(base_url=base, timeout=30, headers=_admin(settings)) as admin,
            httpx.Client(base_url=base, timeout=30, follow_redirects=False) as browser,
        ):
            invite = admin.get("/api/invite")
            invite.raise_for_status()
            signup = f"/user/signup/?token={invite.json()['token']}"
            browser.get(signup).raise_for_status()
            answer = browser.post(
                signup,
                data={
                    "email": physician.email,
                    "password": secrets.token_urlsafe(32),
                    "csrfmiddlewaretoken": browser.cookies.get("csrftoken") or "",
                },
                headers={"Referer": f"{base}{signup}"},
            )
            if answer.status_code != 302:
                raise LabelStudioError(_signup_refusal(answer.text, physician.email))
            issued = browser.post(
                "/api/token/", headers={"X-CSRFToken": browser.cookies.get("csrftoken") or ""}
            )
            issued.raise_for_status()
            refresh = issued.json()["token"]
            user_id = int(browser.get("/api/current-user/whoami").raise_for_status().json()["id"])
            first, _, last = physician.name.partition(" ")
            admin.patch(
                f"/api/users/{user_id}", json={"first_name": first, "last_name": last}
            ).raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise LabelStudioError(
            f"provisioning a Label Studio user: {exc.request.method} {exc.request.url.path} "
            f"answered {exc.response.status_code}"
        ) from exc
    except httpx.HTTPError as exc:
        raise LabelStudioError(
            f"provisioning a Label Studio user: cannot reach Label Studio ({exc})"
        ) from exc
    physician.ls_user_id = user_id
    physician.ls_refresh_token = vault.encrypt(refresh)
    session.commit()
    logger.info("physician %s: Label Studio user %s provisioned", physician.id, user_id)
    return user_id


def _signup_refusal(page: str, email: str) -> str:
    if "already exists" in page:
        return (
            f"Label Studio already has a user {email} that medlabel did not create, so no token can be had for it; "
            "remove that user in Label Studio's admin, then retry"
        )
    return "Label Studio refused the sign-up (invite token or password policy); see its log"


class AccessTokens:
    """Short-lived JWT access tokens per physician, cached in this process and refreshed before expiry."""

    def __init__(self, settings: Settings, transport: httpx.Client) -> None:
        self._vault = TokenVault(settings.gateway_keys)
        self._http = transport
        self._cache: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, physician: Physician) -> str:
        """An access token for the physician's LS user; LS refuses a refresh token that was revoked."""
        cached = self._cache.get(physician.id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        with self._lock:
            cached = self._cache.get(physician.id)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            if not physician.ls_refresh_token:
                raise LabelStudioError(f"physician {physician.id} has no Label Studio identity yet")
            answer = self._http.post(
                "/api/token/refresh/", json={"refresh": self._vault.decrypt(physician.ls_refresh_token)}
            )
            if answer.status_code != 200:
                raise LabelStudioError(f"Label Studio refused physician {physician.id}'s refresh token")
            access = str(answer.json()["access"])
            lifetime = _seconds_left(access)
            self._cache[physician.id] = (access, time.monotonic() + max(lifetime - EXPIRY_MARGIN_S, 1.0))
            return access

    def forget(self, physician_id: int) -> None:
        self._cache.pop(physician_id, None)


def _seconds_left(jwt: str) -> float:
    """Seconds until the token's `exp`; the token is LS's own, so its payload is read, not verified."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - time.time()
    except (IndexError, ValueError, KeyError):
        return 60.0
