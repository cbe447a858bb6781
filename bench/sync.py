"""Sync benchmark: webhook acknowledgements, inbox processing, and reconciliation of a large project.

    .venv/bin/python -m bench.sync [--only acks|reconcile] [--deliveries 2000] [--clients 8]
                                   [--annotations 100000] [--postgres URL] [--redis URL]

acks: the platform under gunicorn (2 gthread workers, as docker-compose.yml runs it) on a fresh PostgreSQL
database with Redis configured, so each delivery is what Label Studio waits for in production: secret check,
one inbox insert, the drain flag (one RQ job per burst), 202. Latency: sequential deliveries, p50/p99.
Throughput: client processes posting at once, against GET /health from the same clients as the baseline.
Then the stored events are processed in-process (what the RQ job does): events/s.
reconcile: see `bench.sync_reconcile` (a live Label Studio holding the annotations).
Targets (issue 11): ≥ 500 acknowledgements/s, p99 ≤ 50 ms; 100,000 annotations reconciled in ≤ 60 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet

from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.models import ProjectRecord
from medlabel.stack import _gunicorn, _wait_healthy
from sync.handlers import SyncContext
from sync.operations import process_pending
from tests.fixtures.label_studio import free_port

PROJECT = 1


def delivery(index: int) -> bytes:
    """An ANNOTATION_CREATED body shaped like Label Studio 1.23.2's (every annotation field, the task)."""
    moment = f"2026-01-01T00:{index // 3600 % 60:02d}:{index % 60:02d}.{index:06d}Z"
    annotation = {
        "id": index,
        "task": 1 + index // 3,
        "project": PROJECT,
        "completed_by": 1,
        "updated_by": 1,
        "result": [
            {
                "id": f"r{index}",
                "from_name": "findings",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": ["Cardiomegaly", "Edema"]},
            }
        ],
        "was_cancelled": False,
        "ground_truth": False,
        "lead_time": 12.5,
        "created_at": moment,
        "updated_at": moment,
        "draft_created_at": None,
        "prediction": {},
        "parent_prediction": None,
        "parent_annotation": None,
        "result_count": 1,
        "unique_id": secrets.token_hex(16),
        "last_action": None,
    }
    task = {"id": 1 + index // 3, "data": {"image": "/data/local-files/?d=x.png"}, "updated_at": moment}
    return json.dumps(
        {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task, "project": {"id": PROJECT}}
    ).encode()


def _post_all(port: int, secret: str | None, indices: list[int]) -> list[float]:
    """One client process: post these deliveries one after another (GET /health when secret is None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    bodies = [delivery(index) for index in indices]
    headers = {"X-Medlabel-Secret": secret or "", "Content-Type": "application/json"}
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        if secret is None:
            connection.request("GET", "/health")
        else:
            connection.request("POST", "/webhooks/label-studio", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        latencies.append(time.perf_counter() - started)
        assert answer.status in (200, 202), answer.status
    connection.close()
    return latencies


def _timed(pool: Any, jobs: list[tuple[int, str | None, list[int]]]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    results = pool.starmap(_post_all, jobs)
    return time.perf_counter() - started, [v for chunk in results for v in chunk]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("acks", "reconcile"))
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    if args.only != "reconcile":
        with scratch_database(args.postgres) as url:
            acknowledgements(args, url)
    if args.only != "acks":
        from bench.sync_reconcile import run

        with scratch_database(args.postgres) as url:
            run(args.annotations, url)


@contextmanager
def scratch_database(postgres: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one phase, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"bench_sync_{secrets.token_hex(4)}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def acknowledgements(args: argparse.Namespace, url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker() as session:
        session.add(
            ProjectRecord(
                ls_project_id=PROJECT,
                title="bench",
                template_id="chest_xray_chexpert",
                template_version=1,
                language="en",
                label_codes={},
                reads=3,
            )
        )
        session.commit()
    secret, port = secrets.token_urlsafe(16), free_port()
    state = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    env = {
        **os.environ,
        "MEDLABEL_DATABASE_URL": url,
        "MEDLABEL_REDIS_URL": args.redis,
        "MEDLABEL_WEBHOOK_SECRET": secret,
        "MEDLABEL_STATE_DIR": str(state),
        "MEDLABEL_SECRET_KEY": secrets.token_urlsafe(32),
        "LABEL_STUDIO_URL": "http://127.0.0.1:9",
        "MEDLABEL_GATEWAY_KEYS": Fernet.generate_key().decode(),
        "LOG_LEVEL": "WARNING",
    }
    # as docker-compose.yml runs the web service: 2 gthread workers × 8 threads
    server = _gunicorn("medlabel.app:create_app()", port, env, state / "web.log", threads=8, workers=2)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{base}/health", server, "platform web service")
        headers = {"X-Medlabel-Secret": secret, "Content-Type": "application/json"}
        half = args.deliveries // 2
        latencies: list[float] = []
        with httpx.Client(base_url=base, headers=headers) as client:
            for index in range(1, half + 1):
                started = time.perf_counter()
                answer = client.post("/webhooks/label-studio", content=delivery(index))
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.text
        ms = [v * 1000 for v in latencies]
        print(
            f"sequential: {half} deliveries, p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms "
            f"(target ≤ 50 ms), {half / sum(latencies):.0f} acks/s"
        )

        # Label Studio posts from many server processes at once: clients are processes, not threads
        # sharing one GIL, so the client's own CPU does not cap what is measured.
        slices = [list(range(half + 1 + c, args.deliveries + 1, args.clients)) for c in range(args.clients)]
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            health_wall, health = _timed(pool, [(port, None, chunk) for chunk in slices])
            wall, concurrent = _timed(pool, [(port, secret, chunk) for chunk in slices])
        cms = [v * 1000 for v in concurrent]
        print(
            f"{args.clients} clients: {len(concurrent)} deliveries in {wall:.1f} s = {len(concurrent) / wall:.0f} "
            f"acks/s (target ≥ 500), p99 {percentile(cms, 0.99):.1f} ms (target ≤ 50 ms)"
        )
        print(
            f"baseline, same clients on GET /health: {len(health) / health_wall:.0f} answers/s; "
            f"webhook/health throughput ratio {len(concurrent) / wall / (len(health) / health_wall):.2f}"
        )
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)

    started = time.perf_counter()
    done = process_pending(maker, SyncContext(staff_ls_user_ids=frozenset({1})), PROJECT)
    wall = time.perf_counter() - started
    print(
        f"processing: {done} inbox events in {wall:.1f} s = {done / wall:.0f} events/s (in-process, one drain)"
    )
    engine.dispose()
    from redis import Redis
    from rq import Queue

    from sync.operations import QUEUE_NAME

    Queue(QUEUE_NAME, connection=Redis.from_url(args.redis)).empty()  # no worker ran: the jobs only piled up


if __name__ == "__main__":
    main()
