"""Run a hardened Label Studio 1.23 from its own virtual environment: one code path for the stack and tests.

Label Studio pins ~160 packages (Django…) that must not meet the platform's, so it lives in a venv of its
own and runs as an external process (ARCHITECTURE.md, "Installing").
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from medlabel.errors import LabelStudioError

LABEL_STUDIO_VERSION = "1.23.2"

#: Label Studio's own default SSRF ban list (label_studio/core/utils/io.py::validate_ip), restated so one
#: network can be let through while every other stays banned.
LS_DEFAULT_BANNED_SUBNETS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "233.252.0.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "::ffff:0:0:0/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:0000::/32",
    "2001:20::/28",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)


def banned_subnets_except(allowed: str) -> list[str]:
    """LS's default ban list minus the one network the platform's services live on.

    An IPv4 service network that sits inside a wider banned block (a compose subnet in 172.16/12) splits
    that block so everything else in it stays banned.
    """
    keep = ipaddress.ip_network(allowed)
    result: list[str] = []
    for subnet in LS_DEFAULT_BANNED_SUBNETS:
        network = ipaddress.ip_network(subnet)
        if network == keep:
            continue
        if network.version == keep.version and keep.subnet_of(network):  # type: ignore[arg-type]
            result.extend(str(part) for part in network.address_exclude(keep))  # type: ignore[arg-type]
        else:
            result.append(subnet)
    return result


def secret_key(secrets_dir: Path) -> str:
    """The Django SECRET_KEY of this deployment: random on first use, kept in a 0600 file in a 0700 dir."""
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(secrets_dir, 0o700)
    path = secrets_dir / "label_studio_secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def hardened_environment(data_dir: Path, media_root: Path, secrets_dir: Path) -> dict[str, str]:
    """Environment variables that make Label Studio safe to run for the local stack and the tests."""
    return {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "SECRET_KEY": secret_key(secrets_dir),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(media_root),
        "SSRF_PROTECTION_ENABLED": "true",
        "USE_DEFAULT_BANNED_SUBNETS": "false",
        "USER_ADDITIONAL_BANNED_SUBNETS": ",".join(banned_subnets_except("127.0.0.0/8")),
        "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "DJANGO_DB": "sqlite",
        "LOG_LEVEL": "WARNING",
        "JSON_LOG": "0",
        # LS runs `git describe` in its install folder at start; .ls-venv sits inside our checkout, so it
        # would describe (and touch the index of) our repository.
        "GIT_DIR": os.devnull,
    }


def ensure_label_studio_venv(venv: Path) -> Path:
    """Install Label Studio into its own venv (uv, from the package index) if missing; return its CLI."""
    executable = venv / "bin" / "label-studio"
    marker = venv / f".medlabel-label-studio-{LABEL_STUDIO_VERSION}"
    if executable.exists() and marker.exists():
        return executable
    uv = shutil.which("uv")
    if uv is None:
        raise LabelStudioError("uv is needed to install Label Studio: pip install uv")
    subprocess.run([uv, "venv", "-q", "--allow-existing", "-p", "3.11", str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            f"label-studio=={LABEL_STUDIO_VERSION}",
        ],
        check=True,
    )
    marker.touch()
    return executable


@dataclass
class LabelStudioServer:
    """One Label Studio process on localhost with its data dir, admin user and legacy API token."""

    executable: Path
    home: Path  # holds data/, secrets/ and the log; media_root is served from
    media_root: Path
    port: int
    username: str = "admin@medlabel.local"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    def _credential(self, name: str) -> str:
        """A generated credential kept beside the secret key (0600), so restarts reuse it."""
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.secrets_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(20))
        return path.read_text().strip()

    @property
    def password(self) -> str:
        return self._credential("admin_password")

    @property
    def api_key(self) -> str:
        return self._credential("admin_api_token")

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
        env.update(hardened_environment(self.data_dir, self.media_root, self.secrets_dir))
        return env

    def start(self, timeout: float = 180.0) -> None:
        """Initialise on first run (migrations, admin, token), then start and wait for /health."""
        self.media_root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.home / "label-studio.log").open("ab")
        env = self.environment()
        if not (self.data_dir / "label_studio.sqlite3").exists():
            subprocess.run(
                [
                    str(self.executable),
                    "init",
                    "--username",
                    self.username,
                    "--password",
                    self.password,
                    "--user-token",
                    self.api_key,
                    "--enable-legacy-api-token",
                    "--no-browser",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
            )
        self.process = subprocess.Popen(
            [
                str(self.executable),
                "start",
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabelStudioError(f"Label Studio exited with {self.process.returncode}; see {log.name}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise LabelStudioError(f"Label Studio did not answer /health within {timeout:.0f} s; see {log.name}")

    def stop(self) -> None:
        """Stop the server and its children (the process group started above)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def default_venv() -> Path:
    """Where the Label Studio venv lives: beside the project venv, ignored by git."""
    return (
        Path(sys.prefix).parent / ".ls-venv"
        if Path(sys.prefix).name == ".venv"
        else Path(".ls-venv").resolve()
    )
