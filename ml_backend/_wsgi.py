"""WSGI entry of the ML backend: `gunicorn ml_backend._wsgi:app` (production, `medlabel ml serve`, local stack)."""

from medlabel.logs import configure_logging
from medlabel.settings import get_settings
from ml_backend.api import create_ml_app

configure_logging(get_settings().log_level)
app = create_ml_app(get_settings())
