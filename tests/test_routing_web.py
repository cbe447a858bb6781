"""Worklist API/page access control and TASKS_CREATED through the webhook receiver, through the real Flask app on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from medlabel.accounts.passwords import hash_password
from medlabel.models import (
    Account,
    Assignment,
    InboxEvent,
    IngestedItem,
    Physician,
    PhysicianSpecialty,
    RoutedTask,
)
from medlabel.projects import WEBHOOK_PATH
from medlabel.settings import PROJECT_ROOT
from tests.fixtures.web import DOWN_LS, PASSWORD, app_with_project, db, email_of, log_in, make_settings

SECRET = "webhook-secret-for-tests"
LS_URL = "http://ls.invalid:8080"


def make_app(tmp_path: Path, **changes: object) -> tuple[Flask, Engine]:
    settings = make_settings(tmp_path, webhook_secret=SECRET, label_studio_url=LS_URL, **changes)
    return app_with_project(settings, pool_size=60, seed=11)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app, engine = make_app(tmp_path)
    yield app
    engine.dispose()


def tasks_created(ls_task_ids: list[int], project: int = 77) -> dict[str, Any]:
    return {
        "action": "TASKS_CREATED",
        "project": {"id": project, "title": "CXR batch"},
        "tasks": [
            {
                "id": i,
                "data": {"text": "..."},
                "meta": {"source_institution": "Severance Hospital"},
                "predictions": [],
            }
            for i in ls_task_ids
        ],
    }


def post_webhook(client: FlaskClient, body: Any) -> Any:
    return client.post(WEBHOOK_PATH, json=body, headers={"X-Medlabel-Secret": SECRET})


def test_webhook_routes_new_tasks_and_worklists_show_them_only_to_their_owner(app: Flask) -> None:
    """The receiver answers before routing (the inbox is processed once the answer is closed); source facts
    come from the platform DB (ingest's record), never from the task's meta in Label Studio."""
    with db(app) as session:
        qualified = session.scalars(
            select(Physician.institution)
            .join(PhysicianSpecialty)
            .where(PhysicianSpecialty.specialty == "radiology", Physician.tier != "labeler")
        ).all()
        assert len(set(qualified)) == len(qualified) == 2  # k=2: both read every task, unless in conflict
        ingested = sorted(qualified)[0]
        session.add(
            IngestedItem(
                ls_project_id=77,
                content_key="k501",
                ls_task_id=501,
                source_institution=ingested,
                plugin="text",
                run_id="r1",
            )
        )
        session.commit()
    client = app.test_client()
    response = post_webhook(client, tasks_created([501, 502, 503]))
    assert response.status_code == 202 and response.json["status"] == "stored"
    with db(app) as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 0  # answered before routing
    response.close()  # what the WSGI server does once the answer is sent: routing runs now
    assert post_webhook(client, tasks_created([501], project=999)).json["status"] == "ignored"
    with db(app) as session:
        rows = session.execute(select(Assignment.physician_id, RoutedTask.ls_task_id).join(RoutedTask)).all()
        assert len(rows) == 5  # task 501 came from one of the two readers' institution: one read short
        facts = {
            t.ls_task_id: (t.content_key, t.source_institution) for t in session.scalars(select(RoutedTask))
        }
        assert facts == {501: ("k501", ingested), 502: (None, None), 503: (None, None)}
        readers_501 = [session.get(Physician, pid) for pid, t in rows if t == 501]
        assert [p.institution for p in readers_501 if p is not None] == [sorted(qualified)[1]]
        assert session.scalar(select(RoutedTask.shortfall).where(RoutedTask.ls_task_id == 501)) == 1
        owners = sorted({pid for pid, _ in rows})
        for pid in owners[:2]:
            physician = session.get(Physician, pid)
            assert physician is not None
            session.add(
                Account(
                    email=physician.email,
                    role="physician",
                    physician_id=pid,
                    password_hash=hash_password(PASSWORD),
                )
            )
        session.commit()
    first, second = owners[0], owners[1]
    assert log_in(client, email_of(app, first)) == 302
    listed = client.get("/api/worklist")
    assert listed.status_code == 200
    tasks = [t["ls_task_id"] for p in listed.json["projects"] for t in p["tasks"]]
    assert sorted(tasks) == sorted(t for pid, t in rows if pid == first) and tasks
    assert listed.json["projects"][0]["url"] == "/projects/77/data?labeling=1"
    html = client.get("/worklist").get_data(as_text=True)
    assert html.count('class="button open-project"') == 1

    other = app.test_client()
    assert log_in(other, email_of(app, second)) == 302
    theirs = [t["ls_task_id"] for p in other.get("/api/worklist").json["projects"] for t in p["tasks"]]
    assert sorted(theirs) == sorted(t for pid, t in rows if pid == second)


def test_with_redis_the_webhook_hands_the_tasks_to_a_worker(tmp_path: Path, redis_url: str) -> None:
    """With Redis configured the receiver only stores and enqueues; a real `rq worker` process runs the arrival."""
    from sync.operations import QUEUE_NAME

    app, engine = make_app(tmp_path, redis_url=redis_url)
    try:
        response = post_webhook(app.test_client(), tasks_created([601, 602]))
        assert response.status_code == 202 and response.json["status"] == "stored"
        response.close()
        with db(app) as session:
            assert session.scalar(select(func.count()).select_from(RoutedTask)) == 0
        env = {
            **os.environ,
            "MEDLABEL_DATABASE_URL": app.extensions["medlabel_settings"].database_url,
            "MEDLABEL_STATE_DIR": str(tmp_path),
            "LABEL_STUDIO_URL": DOWN_LS,
            "LABEL_STUDIO_API_KEY": "service-token",
        }
        worker = subprocess.run(
            [str(Path(sys.executable).parent / "rq"), "worker", "--burst", "--url", redis_url, QUEUE_NAME],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr[-2000:]
        assert "Job OK" in worker.stderr + worker.stdout, worker.stderr[-2000:]
        with db(app) as session:  # Label Studio is down: the tabs wait, the routing stands
            assert session.scalar(select(func.count()).select_from(Assignment)) == 4
            assert session.scalars(select(InboxEvent.processed_at)).one() is not None
    finally:
        engine.dispose()
