"""`medlabel ml serve`: the pre-annotation backend under gunicorn, as production runs it."""

from __future__ import annotations

import os
import sys

import click

from medlabel.settings import PROJECT_ROOT, get_settings
from ml_backend import THREADS, WSGI_APP


@click.group("ml")
def ml() -> None:
    """The pre-annotation ML backend."""


@ml.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9090, show_default=True, help="Port Label Studio will call.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="gunicorn workers.")
@click.option(
    "--threads",
    default=THREADS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads per worker (/health answers during a long /predict).",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the ML backend with gunicorn; models persist under MODEL_DIR; basic auth from BASIC_AUTH_*."""
    settings = get_settings()
    settings.ml_basic_auth()  # refuse here with one clear line rather than in a booting gunicorn worker
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"ML backend on http://{host}:{port} (MODEL_DIR={settings.model_dir}, "
        f"{workers} worker(s) × {threads} thread(s))"
    )
    os.chdir(PROJECT_ROOT)
    # exec: gunicorn becomes this process, so Ctrl-C and SIGTERM reach it directly.
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "120",
            WSGI_APP,
        ],
    )
