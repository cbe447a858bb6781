"""WSGI entry of the ML backend: `gunicorn "ml_backend._wsgi:create_app()"` (production, `medlabel ml serve`,
local stack)."""

from flask import Flask

from medlabel.logs import configure_logging
from medlabel.settings import get_settings
from ml_backend.api import create_ml_app


def create_app() -> Flask:
    """The backend with this process's settings; raises ConfigError without basic-auth credentials."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_ml_app(settings)
