"""Reconciliation of a large project from a cold mirror: Label Studio's side of `bench.sync`.

A Label Studio (started here from `.ls-venv`, on SQLite, as the local stack runs it) holds one text project of
`annotations / 3` tasks, each read by the same three routed physicians (imported with their annotations, which
is how Label Studio creates annotations in bulk). The platform DB is PostgreSQL. Timed: `sync.reconcile` from an
empty mirror (every annotation new: mirrored, versioned, checked against routing and the read moved to
submitted). Baseline in the same run: reading the same tasks from Label Studio alone, which no mirror can beat.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import func, select, update

from medlabel.accounts.label_studio import provision
from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.models import Assignment, MirrorAnnotation, Physician
from medlabel.projects import create_project
from medlabel.routing.generator import generate_pool, to_csv
from medlabel.routing.operations import route_project_tasks
from medlabel.routing.policy import project_by_ls_id
from medlabel.routing.pool import import_pool_csv
from medlabel.settings import PROJECT_ROOT, Settings
from sync.handlers import SyncContext
from sync.reconcile import EPOCH, LabelStudioTasks, differences, reconcile
from tests.fixtures.label_studio import free_port

TEMPLATE = "radiology_report_classification"
IMPORT_CHUNK = 2000


def readers(count: int, seed: int) -> str:
    """`count` radiologists qualified for the template, each with room for every task of the bench."""
    rows = generate_pool(size=count, seed=seed, min_per_specialty=0)
    for index, row in enumerate(rows):
        row.update(
            tier="specialist",
            specialties="radiology",
            board_certified="radiology",
            subspecialties="",
            institution=f"Bench Reader Hospital {index}",
            email=f"bench.reader{index}.{seed}@example.org",
        )
    return to_csv(rows)


def run(annotations: int, postgres_url: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    server = LabelStudioServer(
        executable=ensure_label_studio_venv(PROJECT_ROOT / ".ls-venv"),
        home=root / "label-studio",
        media_root=root / "media",
        port=free_port(),
    )
    server.start()
    try:
        settings = dataclasses.replace(
            Settings(),
            label_studio_url=server.url,
            label_studio_api_key=server.api_key,
            state_dir=root,
            media_root=server.media_root,
            database_url=postgres_url,
            gateway_keys=(Fernet.generate_key().decode(),),
            secret_key=secrets.token_urlsafe(32),
        )
        engine = make_engine(postgres_url)
        upgrade(engine)
        maker = make_sessionmaker(engine)
        client = LabelStudio(base_url=server.url, api_key=server.api_key)
        started = time.perf_counter()
        with maker() as session:
            project_id = create_project(client, settings, TEMPLATE, "bench reconcile", session=session).id
            import_pool_csv(session, readers(3, seed=5))
            physicians = list(session.scalars(select(Physician).order_by(Physician.id)))
            session.execute(update(Physician).values(daily_capacity=annotations))  # the CSV caps it at 1000
            session.commit()
            ls_users = [provision(settings, session, p) for p in physicians]
        config = LabelInterface(str(client.projects.get(id=project_id).label_config))
        choices = config.get_control("category").labels
        tasks = annotations // len(ls_users)
        for start in range(0, tasks, IMPORT_CHUNK):
            batch = [
                {
                    "data": {"text": f"CT chest {i}: {i % 30} mm nodule in the right upper lobe."},
                    "annotations": [
                        {
                            "completed_by": user,
                            "lead_time": 20.0 + r,
                            "result": [
                                {
                                    "from_name": "category",
                                    "to_name": "text",
                                    "type": "choices",
                                    "value": {"choices": [choices[(i + r) % 2]]},
                                }
                            ],
                        }
                        for r, user in enumerate(ls_users)
                    ],
                }
                for i in range(start, min(tasks, start + IMPORT_CHUNK))
            ]
            client.projects.import_tasks(id=project_id, request=batch)
        with maker() as session:
            project = project_by_ls_id(session, project_id)
            arrival = route_project_tasks(session, lambda: client, settings, project)
            assert arrival.route.assigned == tasks * 3, arrival.route
        print(f"reconciliation: set-up of {tasks} tasks × 3 reads in {time.perf_counter() - started:.0f} s")

        source = LabelStudioTasks(settings)
        started = time.perf_counter()
        read = sum(len(t.get("annotations") or []) for t in source.changed_since(project_id, EPOCH))
        baseline = time.perf_counter() - started
        source.close()

        context = SyncContext(staff_ls_user_ids=frozenset(), settings=settings)
        started = time.perf_counter()
        report = reconcile(maker, settings, context, project_id)
        wall = time.perf_counter() - started
        with maker() as session:
            mirrored = session.scalar(
                select(func.count()).where(
                    MirrorAnnotation.ls_project_id == project_id, ~MirrorAnnotation.quarantined
                )
            )
            submitted = session.scalar(select(func.count()).where(Assignment.state == "submitted"))
        assert read == report.annotations_seen == mirrored == submitted == tasks * 3, (read, report, mirrored)
        assert differences(maker, settings, project_id) == []
        print(
            f"reconciliation: {mirrored} annotations from an empty mirror in {wall:.1f} s = {mirrored / wall:.0f}/s "
            f"(target ≤ 60 s for 100,000); reading them from Label Studio alone {baseline:.1f} s "
            f"(ratio {wall / baseline:.2f})"
        )
        engine.dispose()
    finally:
        server.stop()
