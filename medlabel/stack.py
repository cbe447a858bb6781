"""The local demo stack: Label Studio, the ML backend and the platform web service, all on localhost."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
import requests
from label_studio_sdk import LabelStudio

from medlabel.demo import run_demo
from medlabel.errors import LabelStudioError
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.settings import PROJECT_ROOT, Settings


def _wait_healthy(url: str, process: subprocess.Popen[bytes], name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabelStudioError(f"{name} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise LabelStudioError(f"{name} did not answer {url} within {timeout:.0f} s")


def _gunicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "120",
            app,
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_stack(settings: Settings, ls_port: int, web_port: int, ml_port: int) -> None:
    """Start everything, print where it is, and block until Ctrl-C; then stop in reverse order."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    logs = state / "logs"
    logs.mkdir(exist_ok=True)
    click.echo("installing/checking Label Studio in its own environment (.ls-venv) …")
    executable = ensure_label_studio_venv(PROJECT_ROOT / ".ls-venv")
    ls = LabelStudioServer(executable, state / "label-studio", settings.media_root, ls_port)
    children: list[subprocess.Popen[bytes]] = []

    def stop(_signum: int | None = None, _frame: FrameType | None = None) -> None:
        for child in reversed(children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        ls.stop()

    # Installed before anything starts, so Ctrl-C or SIGTERM during start-up stops what has started too
    # (explicit for SIGINT: a shell may start us with it ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        click.echo(f"starting Label Studio on {ls.url} (first start runs migrations, ~30 s) …")
        ls.start()
        settings = dataclasses.replace(
            settings,
            label_studio_url=ls.url,
            label_studio_api_key=ls.api_key,
            ml_backend_url=f"http://127.0.0.1:{ml_port}",
        )
        env = {
            **os.environ,
            "LABEL_STUDIO_URL": ls.url,
            "LABEL_STUDIO_API_KEY": ls.api_key,
            "MEDLABEL_STATE_DIR": str(state),
            "MODEL_DIR": str(state / "models"),
            "LOG_LEVEL": "INFO",
        }
        ml = _gunicorn("ml_backend._wsgi:app", ml_port, env, logs / "ml-backend.log")
        children.append(ml)
        web = _gunicorn("medlabel.app:create_app()", web_port, env, logs / "web.log")
        children.append(web)
        _wait_healthy(f"{settings.ml_backend_url}/health", ml, "ML backend")
        _wait_healthy(f"http://127.0.0.1:{web_port}/health", web, "web service")
        client = LabelStudio(base_url=ls.url, api_key=ls.api_key)
        click.echo("demo: ingesting, routing and pre-annotating the demo projects …")
        demos = run_demo(client, settings, settings.ml_backend_url)
    except BaseException:
        stop()
        raise
    click.echo(
        "\nmedlabel local stack is up\n"
        f"  Label Studio     {ls.url}   login {ls.username} / {ls.password}\n"
        + "".join(
            f"  demo project     {ls.url}/projects/{d.id}/data   {d.title}: {d.tasks} tasks, "
            f"{d.routed} routed, {d.predictions} pre-annotated\n"
            for d in demos
        )
        + "".join(
            f"  worklist         http://127.0.0.1:{web_port}/physicians/{physician}/worklist?token={token}\n"
            for d in demos[:1]
            for physician, token in d.worklists
        )
        + f"  template catalog http://127.0.0.1:{web_port}/templates\n"
        f"  ML backend       {settings.ml_backend_url}/health\n"
        f"  API token        in {ls.secrets_dir / 'admin_api_token'} (medlabel commands pick it up)\n"
        f"  logs             {logs}\n"
        "Press Ctrl-C to stop."
    )
    try:
        while all(child.poll() is None for child in children) and ls.process and ls.process.poll() is None:
            time.sleep(1)
        click.echo("a service stopped unexpectedly; shutting down", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping …")
    finally:
        stop()
        click.echo("stopped")
