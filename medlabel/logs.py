"""Logging set-up, called by entry points only (CLI, web app factory, ML backend _wsgi)."""

from __future__ import annotations

import logging.config


def configure_logging(level: str = "INFO") -> None:
    """One format for every medlabel process; library loggers that log request bodies stay at WARNING."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"standard": {"format": "[%(asctime)s] [%(levelname)s] [%(name)s] %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "standard"}},
            "root": {"level": level, "handlers": ["console"]},
            # label-studio-ml logs /setup bodies (with the API token) at DEBUG: never let that through.
            "loggers": {
                "label_studio_ml": {"level": "INFO"},
                # logs every media download, with a Docker-only "localhost" warning each time
                "label_studio_tools": {"level": "ERROR"},
                "httpx": {"level": "WARNING"},
                "alembic": {"level": "WARNING"},
            },
        }
    )
