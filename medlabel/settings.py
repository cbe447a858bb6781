"""Settings: the only module that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from medlabel.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything medlabel is configured with; built once per process by `get_settings()`."""

    #: Base URL of Label Studio as the platform reaches it.
    label_studio_url: str = "http://127.0.0.1:8080"
    #: Label Studio API token (legacy token of the service account).
    label_studio_api_key: str = field(default="", repr=False)
    #: Folder for runtime state of the local stack (LS data, media, platform DB, secrets).
    state_dir: Path = PROJECT_ROOT / ".state"
    #: Root under which rendered media is served by Label Studio's local-files storage.
    media_root: Path = PROJECT_ROOT / ".state" / "media"
    #: SQLAlchemy URL of the platform database.
    database_url: str = ""
    #: Redis URL for RQ jobs; empty means jobs run in-process.
    redis_url: str = ""
    #: URL at which Label Studio reaches the ML backend; empty means none is connected.
    ml_backend_url: str = ""
    #: Where the ML backend keeps trained models, BYOM models and its media cache (label-studio-ml's name).
    model_dir: Path = PROJECT_ROOT / ".state" / "models"
    #: Basic-auth user and password of the ML backend, under label-studio-ml's own names (BASIC_AUTH_USER,
    #: BASIC_AUTH_PASS): the backend refuses to start without a password; platform and Label Studio send them.
    ml_basic_auth_user: str = field(default="medlabel", repr=False)
    ml_basic_auth_pass: str = field(default="", repr=False)
    #: Largest request body the ML backend reads (MEDLABEL_ML_MAX_REQUEST_BYTES); bigger ones get a 413.
    ml_max_request_bytes: int = 32 * 1024 * 1024
    #: Shared secret Label Studio sends in the X-Medlabel-Secret header of its webhooks (empty: refused).
    webhook_secret: str = field(default="", repr=False)
    #: Base URL at which Label Studio reaches the platform (MEDLABEL_WEBHOOK_URL, e.g. http://web:8090); new
    #: projects post their events to its /webhooks/label-studio. Empty: no webhook (`medlabel sync` still mirrors).
    webhook_url: str = ""
    #: Label Studio user ids of staff (MEDLABEL_STAFF_LS_USERS, comma-separated) whose annotations are not
    #: quarantined although nobody routed the task to them; the service account is always staff.
    staff_ls_user_ids: tuple[int, ...] = ()
    #: Largest webhook body the receiver stores (MEDLABEL_WEBHOOK_MAX_BYTES); bigger ones get a 413.
    webhook_max_bytes: int = 8 * 1024 * 1024
    #: The Label Studio server is an Enterprise edition: also push assignments through its assignment API.
    label_studio_enterprise: bool = False
    #: Default display language of label names in new projects: en, ko or both.
    label_language: str = "en"
    #: Log level of the platform's own loggers.
    log_level: str = "INFO"
    #: Signs the platform's session cookies (Flask SECRET_KEY); the local stack generates one.
    secret_key: str = field(default="", repr=False)
    #: Fernet keys that encrypt physicians' Label Studio refresh tokens at rest; the first encrypts, all
    #: decrypt, so a new key is put first, `medlabel accounts rotate-keys` re-encrypts, the old one is dropped.
    gateway_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Where users reach the platform and its gateway (invite links, Secure cookies when https, Origin checks).
    public_url: str = "http://127.0.0.1:8090"
    #: A login lasts this long; an expired session sends the user back to the login page.
    session_hours: int = 12
    #: An invite link works this long, once.
    invite_hours: int = 72
    #: Flask-Limiter limit on login and invite POSTs per client address.
    login_rate_limit: str = "10 per minute;50 per hour"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables, reporting every bad one at once."""
        problems: list[str] = []
        state_dir = Path(environ.get("MEDLABEL_STATE_DIR", str(PROJECT_ROOT / ".state"))).resolve()
        language = environ.get("MEDLABEL_LABEL_LANGUAGE", "en")
        if language not in ("en", "ko", "both"):
            problems.append(f"MEDLABEL_LABEL_LANGUAGE must be en, ko or both, not {language!r}")
        url = environ.get("LABEL_STUDIO_URL", "http://127.0.0.1:8080").rstrip("/")
        if not url.startswith(("http://", "https://")):
            problems.append(f"LABEL_STUDIO_URL must be an http(s) URL, not {url!r}")
        level = environ.get("LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
        public_url = environ.get("MEDLABEL_PUBLIC_URL", "http://127.0.0.1:8090").rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            problems.append(f"MEDLABEL_PUBLIC_URL must be an http(s) URL, not {public_url!r}")
        hours = {}
        for name, default in (("MEDLABEL_SESSION_HOURS", "12"), ("MEDLABEL_INVITE_HOURS", "72")):
            raw = environ.get(name, default)
            if not raw.isdigit() or int(raw) == 0:
                problems.append(f"{name} must be a positive whole number of hours, not {raw!r}")
            hours[name] = int(raw) if raw.isdigit() else 0
        secrets_dir = state_dir / "secrets"
        gateway_keys = tuple(
            k.strip()
            for k in _env_or_local(environ, "MEDLABEL_GATEWAY_KEYS", secrets_dir).split(",")
            if k.strip()
        )
        ml_user = environ.get("BASIC_AUTH_USER", "medlabel")
        if not ml_user or ":" in ml_user:
            problems.append("BASIC_AUTH_USER must be a non-empty name without ':'")
        max_request = environ.get("MEDLABEL_ML_MAX_REQUEST_BYTES", str(32 * 1024 * 1024))
        if not max_request.isdigit() or int(max_request) == 0:
            problems.append(
                f"MEDLABEL_ML_MAX_REQUEST_BYTES must be a positive byte count, not {max_request!r}"
            )
        webhook_url = environ.get("MEDLABEL_WEBHOOK_URL", "").rstrip("/")
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            problems.append(f"MEDLABEL_WEBHOOK_URL must be an http(s) URL, not {webhook_url!r}")
        staff = [s.strip() for s in environ.get("MEDLABEL_STAFF_LS_USERS", "").split(",") if s.strip()]
        if not all(s.isdigit() for s in staff):
            problems.append("MEDLABEL_STAFF_LS_USERS must be comma-separated Label Studio user ids")
        webhook_max = environ.get("MEDLABEL_WEBHOOK_MAX_BYTES", str(8 * 1024 * 1024))
        if not webhook_max.isdigit() or int(webhook_max) == 0:
            problems.append(f"MEDLABEL_WEBHOOK_MAX_BYTES must be a positive byte count, not {webhook_max!r}")
        if problems:
            raise ConfigError("; ".join(problems))
        api_key = environ.get("LABEL_STUDIO_API_KEY", "")
        local_token = state_dir / "label-studio" / "secrets" / "admin_api_token"
        if not api_key and local_token.exists():  # the local stack's own admin token
            api_key = local_token.read_text().strip()
        return cls(
            label_studio_url=url,
            label_studio_api_key=api_key,
            state_dir=state_dir,
            media_root=Path(environ.get("MEDLABEL_MEDIA_ROOT", str(state_dir / "media"))).resolve(),
            database_url=environ.get("MEDLABEL_DATABASE_URL", f"sqlite:///{state_dir / 'medlabel.db'}"),
            redis_url=environ.get("MEDLABEL_REDIS_URL", ""),
            ml_backend_url=environ.get("MEDLABEL_ML_BACKEND_URL", "").rstrip("/"),
            model_dir=Path(environ.get("MODEL_DIR", str(state_dir / "models"))).resolve(),
            ml_basic_auth_user=ml_user,
            ml_basic_auth_pass=_env_or_local(environ, "BASIC_AUTH_PASS", secrets_dir),
            ml_max_request_bytes=int(max_request),
            webhook_secret=environ.get("MEDLABEL_WEBHOOK_SECRET", ""),
            webhook_url=webhook_url,
            staff_ls_user_ids=tuple(int(s) for s in staff),
            webhook_max_bytes=int(webhook_max),
            label_studio_enterprise=environ.get("MEDLABEL_LS_ENTERPRISE", "").lower() in ("1", "true", "yes"),
            label_language=language,
            log_level=level,
            secret_key=_env_or_local(environ, "MEDLABEL_SECRET_KEY", secrets_dir),
            gateway_keys=gateway_keys,
            public_url=public_url,
            session_hours=hours["MEDLABEL_SESSION_HOURS"],
            invite_hours=hours["MEDLABEL_INVITE_HOURS"],
            login_rate_limit=environ.get("MEDLABEL_LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        )

    def ml_basic_auth(self) -> tuple[str, str]:
        """The ML backend's (user, password); without a password anyone who reaches its port could use it."""
        if not self.ml_basic_auth_pass:
            raise ConfigError(
                "the ML backend needs basic-auth credentials: set BASIC_AUTH_PASS (and BASIC_AUTH_USER, "
                "default 'medlabel'); the local stack generates them"
            )
        return self.ml_basic_auth_user, self.ml_basic_auth_pass


#: Secrets the local stack generates (0600 files under `<state>/secrets/`) when no variable is set.
LOCAL_SECRET_FILES = {
    "MEDLABEL_SECRET_KEY": "platform_secret_key",
    "MEDLABEL_GATEWAY_KEYS": "gateway_keys",
    "BASIC_AUTH_PASS": "ml_basic_auth_pass",
}


def _env_or_local(environ: Mapping[str, str], name: str, secrets_dir: Path) -> str:
    """The variable, else the local stack's generated file, else empty (production must set the variable)."""
    if environ.get(name):
        return environ[name]
    path = secrets_dir / LOCAL_SECRET_FILES[name]
    return path.read_text().strip() if path.exists() else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; entry points call this, everything else receives `settings`."""
    return Settings.from_env(os.environ)
