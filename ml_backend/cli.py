"""`medlabel ml serve`: the pre-annotation backend under gunicorn, as production runs it."""

from __future__ import annotations

import os
import sys

import click

from medlabel.settings import PROJECT_ROOT, get_settings


@click.group("ml")
def ml() -> None:
    """The pre-annotation ML backend."""


@ml.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9090, show_default=True, help="Port Label Studio will call.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="gunicorn workers.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve ml_backend._wsgi:app with gunicorn; models persist under MODEL_DIR."""
    settings = get_settings()
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"ML backend on http://{host}:{port} (MODEL_DIR={settings.model_dir}, {workers} worker(s))")
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
            "--timeout",
            "120",
            "ml_backend._wsgi:app",
        ],
    )
