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
    #: Shared secret Label Studio sends in the X-Medlabel-Secret header of its webhooks (empty: refused).
    webhook_secret: str = field(default="", repr=False)
    #: The Label Studio server is an Enterprise edition: also push assignments through its assignment API.
    label_studio_enterprise: bool = False
    #: Default display language of label names in new projects: en, ko or both.
    label_language: str = "en"
    #: Log level of the platform's own loggers.
    log_level: str = "INFO"

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
            webhook_secret=environ.get("MEDLABEL_WEBHOOK_SECRET", ""),
            label_studio_enterprise=environ.get("MEDLABEL_LS_ENTERPRISE", "").lower() in ("1", "true", "yes"),
            label_language=language,
            log_level=level,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; entry points call this, everything else receives `settings`."""
    return Settings.from_env(os.environ)
