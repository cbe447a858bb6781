"""Gateway benchmark: what the gateway adds per request, and its throughput, against Label Studio direct.

    .venv/bin/python -m bench.gateway [--requests 200] [--seconds 10] [--clients 8]

One run starts a Label Studio (SQLite) and the platform under gunicorn (gthread, as the stack runs it), makes
a routed CheXpert project with real radiographs and a physician with a Label Studio identity, then times the
label stream's own requests two ways: direct to Label Studio with the physician's JWT (the baseline) and
through the gateway with the physician's platform session (cookie → grants → allow-list → filtered proxy).
Latency: sequential requests, p50/p95 per request kind and the overhead (gateway − direct). Throughput: a mix
of the same requests from concurrent clients for a fixed time. Targets: p95 overhead ≤ 15 ms, throughput
≥ 80% of direct.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import secrets
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from medlabel.accounts.label_studio import AccessTokens
from medlabel.accounts.operations import account_for_physician, set_password
from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.demo import _xrays
from medlabel.ingest.runner import IngestRun
from medlabel.ls_client import make_client
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.models import Physician
from medlabel.projects import create_project
from medlabel.routing.demo import seed_demo_routing
from medlabel.routing.label_studio import open_tasks_by_physician
from medlabel.routing.policy import project_by_ls_id
from medlabel.settings import PROJECT_ROOT, Settings
from medlabel.stack import _gunicorn, _wait_healthy
from plugins.ingest.base import IngestOptions
from tests.fixtures.label_studio import free_port

P95_OVERHEAD_MS = 15.0
THROUGHPUT_SHARE = 0.8
PASSWORD = "benchmark password 1"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _setup(home: Path) -> tuple[LabelStudioServer, Settings, int, int, str, str]:
    ls = LabelStudioServer(
        ensure_label_studio_venv(PROJECT_ROOT / ".ls-venv"), home / "ls", home / "media", free_port()
    )
    ls.start()
    web_port = free_port()
    settings = dataclasses.replace(
        Settings(),
        label_studio_url=ls.url,
        label_studio_api_key=ls.api_key,
        state_dir=home,
        media_root=ls.media_root,
        database_url=f"sqlite:///{home / 'platform.db'}",
        secret_key=secrets.token_urlsafe(32),
        gateway_keys=(Fernet.generate_key().decode(),),
        public_url=f"http://127.0.0.1:{web_port}",
    )
    client = make_client(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    inputs = home / "inputs"
    inputs.mkdir()
    _xrays(inputs)
    with make_sessionmaker(engine)() as session:
        project_id = create_project(
            client, settings, "chest_xray_chexpert", "gateway bench", session=session
        ).id
        IngestRun(client, settings, session, project_id, IngestOptions()).run([inputs])
        seed_demo_routing(session, client, settings, project_id, size=12, seed=5)
        physician_id, tasks = sorted(
            open_tasks_by_physician(session, project_by_ls_id(session, project_id)).items()
        )[0]
        physician = session.get(Physician, physician_id)
        assert physician is not None
        set_password(session, settings, account_for_physician(session, physician), PASSWORD)
        email = physician.email
        with httpx.Client(base_url=ls.url) as http:
            access = AccessTokens(settings, http).get(physician)
    engine.dispose()
    return ls, settings, project_id, tasks[0], email, access


def _log_in(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    assert (
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}).status_code
        == 302
    )
    return client


def _asset(ls_url: str) -> str:
    page = httpx.get(f"{ls_url}/user/login/").text
    found = re.search(r'href="(/static/[^"]+\.css)"', page)
    assert found, "no stylesheet on Label Studio's login page"
    return found[1]


Call = Callable[[httpx.Client], httpx.Response]


def _calls(project: int, task: int, asset: str, origin: str) -> dict[str, Call]:
    return {
        "task": lambda c: c.get(f"/api/tasks/{task}?project={project}"),
        "project": lambda c: c.get(f"/api/projects/{project}"),
        "asset": lambda c: c.get(asset),
        "next_task": lambda c: c.post(
            f"/api/dm/actions?id=next_task&project={project}", json={}, headers={"Origin": origin}
        ),
    }


def _latencies(client: httpx.Client, call: Call, n: int) -> list[float]:
    call(client)  # warm: connections, caches, tokens
    times = []
    for _ in range(n):
        start = time.perf_counter()
        answer = call(client)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text[:200]
    return times


def _throughput(
    make_client: Callable[[], httpx.Client], calls: list[Call], seconds: float, clients: int
) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        with closing(make_client()) as client:
            while time.monotonic() < stop:
                calls[done[index] % len(calls)](client).raise_for_status()
                done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per kind and path")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the throughput runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="medlabel-bench-gateway-") as tmp:
        home = Path(tmp)
        ls, settings, project, task, email, access = _setup(home)
        env = {
            **os.environ,
            "LABEL_STUDIO_URL": settings.label_studio_url,
            "LABEL_STUDIO_API_KEY": settings.label_studio_api_key,
            "MEDLABEL_STATE_DIR": str(home),
            "MEDLABEL_DATABASE_URL": settings.database_url,
            "MEDLABEL_SECRET_KEY": settings.secret_key,
            "MEDLABEL_GATEWAY_KEYS": ",".join(settings.gateway_keys),
            "MEDLABEL_PUBLIC_URL": settings.public_url,
            "LOG_LEVEL": "WARNING",
        }
        web = _gunicorn(
            "medlabel.app:create_app()",
            int(settings.public_url.rsplit(":", 1)[1]),
            env,
            home / "web.log",
            threads=8,
        )
        try:
            _wait_healthy(f"{settings.public_url}/health", web, "platform")
            calls = _calls(project, task, _asset(ls.url), settings.public_url)

            def direct() -> httpx.Client:
                return httpx.Client(
                    base_url=ls.url, headers={"Authorization": f"Bearer {access}"}, timeout=60
                )

            session = _log_in(settings.public_url, email).cookies  # one login, like one browser

            def gateway() -> httpx.Client:
                return httpx.Client(base_url=settings.public_url, cookies=session, timeout=60)

            print(
                f"{'request':<10} {'direct p50':>11} {'p95':>7} {'gateway p50':>12} {'p95':>7} {'overhead p50':>13} {'p95':>7}  (ms)"
            )
            worst = 0.0
            for name, call in calls.items():
                with closing(direct()) as d, closing(gateway()) as g:
                    plain, proxied = _latencies(d, call, args.requests), _latencies(g, call, args.requests)
                p50, p95 = statistics.median(plain), _percentile(plain, 0.95)
                g50, g95 = statistics.median(proxied), _percentile(proxied, 0.95)
                worst = max(worst, g95 - p95)
                print(
                    f"{name:<10} {p50:>11.1f} {p95:>7.1f} {g50:>12.1f} {g95:>7.1f} {g50 - p50:>13.1f} {g95 - p95:>7.1f}"
                )
            mix = list(calls.values())
            base = _throughput(direct, mix, args.seconds, args.clients)
            through = _throughput(gateway, mix, args.seconds, args.clients)
            print(
                f"throughput, {args.clients} clients, request mix: direct {base:.0f}/s, gateway {through:.0f}/s"
            )
            print(
                f"worst p95 overhead {worst:.1f} ms (target ≤ {P95_OVERHEAD_MS:.0f}); "
                f"throughput gateway/direct = {through / base:.2f} (target ≥ {THROUGHPUT_SHARE})"
            )
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=15)
            ls.stop()


if __name__ == "__main__":
    main()
