"""WSGI entry of the ML backend: `gunicorn ml_backend._wsgi:app` (production) or `medlabel stack up` (local)."""

import os

from label_studio_ml.api import init_app

from medlabel.logs import configure_logging
from ml_backend.model import MedlabelBackend

configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
app = init_app(
    model_class=MedlabelBackend, model_dir=os.environ.get("MODEL_DIR", os.path.abspath(".state/models"))
)
