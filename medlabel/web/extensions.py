"""The Flask extensions every page relies on, configured in one place: login sessions, CSRF, rate limits
and languages. `create_app` calls `init_app`; pages use the objects below."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import joinedload

from medlabel.errors import ConfigError
from medlabel.models import Account
from medlabel.settings import Settings
from medlabel.web.db import db_session

LANGUAGES = ("ko", "en")
#: The pool is Korean: pages speak Korean unless the user or their browser asks for English.
DEFAULT_LANGUAGE = "ko"
TRANSLATIONS_SOURCE = Path(__file__).resolve().parent.parent / "translations"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Endpoints that take a password: rate-limited per client address.
PASSWORD_ENDPOINTS = ("accounts.login", "accounts.accept_invite")


class SessionUser(UserMixin):
    """What a request knows about its logged-in account; loaded fresh on every request."""

    def __init__(self, account: Account) -> None:
        #: The request's own ORM row (physician loaded with it): the gateway reads it on every request.
        self.account = account
        self.account_id = account.id
        self.email = account.email
        self.role = account.role
        self.physician_id = account.physician_id
        self.language = account.language
        self.session_version = account.session_version

    def get_id(self) -> str:
        # The version makes a password change or a revocation end every older session at once.
        return f"{self.account_id}:{self.session_version}"


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    account_id, _, version = user_id.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = db_session().get(Account, int(account_id), options=[joinedload(Account.physician)])
    if account is None or not account.active or account.session_version != int(version):
        return None
    return SessionUser(account)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    if current_user.is_authenticated and current_user.language in LANGUAGES:
        return str(current_user.language)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def compile_translations(target: Path) -> Path:
    """Compile the .po catalogs into .mo files Flask-Babel reads (built at start, never committed)."""
    for po_path in TRANSLATIONS_SOURCE.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(TRANSLATIONS_SOURCE).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source)
        with mo_path.open("wb") as compiled:
            write_mo(compiled, catalog)
    return target


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.secret_key:
        raise ConfigError(
            "MEDLABEL_SECRET_KEY is not set (it signs login sessions); the local stack makes one"
        )
    secure = settings.public_url.startswith("https://")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="medlabel_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # a login lasts session_hours from login, however busy
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session that holds it
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_TRANSLATION_DIRECTORIES=str(
            compile_translations(Path(tempfile.mkdtemp(prefix="medlabel-i18n-")))
        ),
    )
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def locale() -> dict[str, str]:
        return {"current_locale": str(get_locale() or DEFAULT_LANGUAGE)}


def limit_password_endpoints(app: Flask, settings: Settings) -> Limiter:
    """One limiter per app (its counters in Redis when configured, so replicas share them); called after
    the blueprints are registered, since it wraps their views."""
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    for endpoint in PASSWORD_ENDPOINTS:
        app.view_functions[endpoint] = limiter.limit(settings.login_rate_limit, methods=["POST"])(
            app.view_functions[endpoint]
        )
    return limiter
