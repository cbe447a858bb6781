"""The local demo stack: Label Studio, the ML backend and the platform web service, all on localhost."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
import requests
from cryptography.fernet import Fernet
from label_studio_sdk import LabelStudio

from medlabel.demo import run_demo
from medlabel.errors import LabelStudioError
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.secret_files import read_or_create
from medlabel.settings import LOCAL_SECRET_FILES, PROJECT_ROOT, Settings
from ml_backend import THREADS, WSGI_APP


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


def _gunicorn(
    app: str, port: int, env: dict[str, str], log: Path, threads: int = 1, workers: int = 1
) -> subprocess.Popen[bytes]:
    """Gunicorn on localhost (one worker unless asked); `threads` > 1 makes gthread workers."""
    threaded = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *threaded,
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


def start_ml_backend(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The ML backend as the stack (and the tests) run it: gunicorn, threaded so /health never waits."""
    return _gunicorn(WSGI_APP, port, env, log, threads=THREADS)


def ml_credentials(settings: Settings) -> tuple[str, str]:
    """The ML backend's basic-auth credentials: the configured ones, else a random password generated once
    into the state's secrets folder (0600), where every later `medlabel` command finds it."""
    if settings.ml_basic_auth_pass:
        return settings.ml_basic_auth()
    path = settings.state_dir / "secrets" / LOCAL_SECRET_FILES["BASIC_AUTH_PASS"]
    return settings.ml_basic_auth_user, read_or_create(path, lambda: secrets.token_urlsafe(32))


def platform_secrets(settings: Settings) -> tuple[str, tuple[str, ...]]:
    """The session-signing key and the gateway key: configured, else generated once into the state's
    secrets folder (0600), where the web service and every later `medlabel` command find them."""
    secrets_dir = settings.state_dir / "secrets"
    secret_key = settings.secret_key or read_or_create(
        secrets_dir / LOCAL_SECRET_FILES["MEDLABEL_SECRET_KEY"], lambda: secrets.token_urlsafe(48)
    )
    keys = settings.gateway_keys or (
        read_or_create(
            secrets_dir / LOCAL_SECRET_FILES["MEDLABEL_GATEWAY_KEYS"], lambda: Fernet.generate_key().decode()
        ),
    )
    return secret_key, keys


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
        ml_user, ml_pass = ml_credentials(settings)
        secret_key, gateway_keys = platform_secrets(settings)
        platform_url = f"http://127.0.0.1:{web_port}"
        webhook_secret = settings.webhook_secret or read_or_create(
            state / "secrets" / "webhook_secret", lambda: secrets.token_urlsafe(32)
        )
        settings = dataclasses.replace(
            settings,
            secret_key=secret_key,
            gateway_keys=gateway_keys,
            public_url=platform_url,
            webhook_url=platform_url,  # Label Studio posts every event of the demo projects here (sync)
            webhook_secret=webhook_secret,
            label_studio_url=ls.url,
            label_studio_api_key=ls.api_key,
            ml_backend_url=f"http://127.0.0.1:{ml_port}",
            ml_basic_auth_user=ml_user,
            ml_basic_auth_pass=ml_pass,
        )
        env = {
            **os.environ,
            "LABEL_STUDIO_URL": ls.url,
            "LABEL_STUDIO_API_KEY": ls.api_key,
            "MEDLABEL_STATE_DIR": str(state),
            "MODEL_DIR": str(state / "models"),
            "LOG_LEVEL": "INFO",
            "BASIC_AUTH_USER": ml_user,
            "BASIC_AUTH_PASS": ml_pass,
            "MEDLABEL_PUBLIC_URL": platform_url,
            "MEDLABEL_WEBHOOK_SECRET": webhook_secret,
        }
        ml = start_ml_backend(ml_port, env, logs / "ml-backend.log")
        children.append(ml)
        # threaded: the gateway proxies the editor's parallel requests to Label Studio
        web = _gunicorn("medlabel.app:create_app()", web_port, env, logs / "web.log", threads=8)
        children.append(web)
        _wait_healthy(f"{settings.ml_backend_url}/health", ml, "ML backend")
        _wait_healthy(f"http://127.0.0.1:{web_port}/health", web, "web service")
        client = LabelStudio(base_url=ls.url, api_key=ls.api_key)
        click.echo("demo: ingesting, routing and pre-annotating the demo projects …")
        demo = run_demo(client, settings, settings.ml_backend_url)
    except BaseException:
        stop()
        raise
    click.echo(
        "\nmedlabel local stack is up\n"
        f"  Label Studio     {ls.url}   admin entry (managers): {ls.username} / {ls.password}\n"
        + "".join(
            f"  demo project     {ls.url}/projects/{d.id}/data   {d.title}: {d.tasks} tasks, "
            f"{d.routed} routed, {d.predictions} pre-annotated\n"
            for d in demo.projects
        )
        + (
            f"  physician login  {platform_url}/login   {demo.login.email} / {demo.login.password}"
            f"   ({demo.login.open_tasks} open tasks; labels in Label Studio through the gateway)\n"
            if demo.login
            else ""
        )
        + "".join(
            f"  mirrored         project {r.ls_project_id}: {r.annotations} annotations, {r.quarantined} quarantined"
            f" (unrouted)   `medlabel sync status --project {r.ls_project_id}`\n"
            for r in demo.reads
            if r.annotations
        )
        + "".join(
            f"  quality          project {r.ls_project_id}: {r.reviews} task(s) sent to a reviewer"
            f"   `medlabel quality report --project {r.ls_project_id} --open`\n"
            for r in demo.reads
            if r.annotations
        )
        + f"  template catalog {platform_url}/templates\n"
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
