"""The webhook receiver through the real Flask app on SQLite: secret, bad input (4xx, nothing stored),
unmanaged projects ignored, the inbox makes a replay a no-op, and stored events are processed after answering."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from medlabel.models import InboxEvent, MirrorAnnotation
from tests.fixtures.db import postgres_url
from tests.fixtures.services import require
from tests.fixtures.web import app_with_project, db, make_settings

SECRET = "webhook-secret-for-tests"
URL = "/webhooks/label-studio"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    settings = make_settings(tmp_path, webhook_secret=SECRET, webhook_max_bytes=4096, staff_ls_user_ids=(1,))
    app, engine = app_with_project(settings)
    yield app
    engine.dispose()


def annotation_created(project: int = 77, ann_id: int = 5) -> dict[str, Any]:
    return {
        "action": "ANNOTATION_CREATED",
        "project": {"id": project},
        "annotation": {
            "id": ann_id,
            "task": 9,
            "completed_by": 1,
            "result": [],
            "updated_at": "2026-01-01T00:00:00.000000Z",
        },
        "task": {"id": 9, "updated_at": "2026-01-01T00:00:00.000000Z"},
    }


def post(client: FlaskClient, body: Any, secret: str | None = SECRET) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Medlabel-Secret"] = secret
    return client.post(URL, data=data, headers=headers)


def inbox_count(app: Flask) -> int:
    with db(app) as session:
        return session.scalar(select(func.count()).select_from(InboxEvent)) or 0


def test_the_secret_is_required(app: Flask) -> None:
    client = app.test_client()
    assert post(client, annotation_created(), secret=None).status_code == 401
    assert post(client, annotation_created(), secret="wrong").status_code == 401
    assert inbox_count(app) == 0


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "body is not JSON"),
        ([1, 2], 400, "body must be a JSON object"),
        ({"action": "LABEL_LINK_CREATED", "project": {"id": 77}}, 400, "unknown action 'LABEL_LINK_CREATED'"),
        ({"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 2}}, 400, "project.id"),
        ({"action": "ANNOTATION_CREATED", "project": {"id": 77}, "annotation": {"id": 1}}, 400, "its task"),
        ({"action": "TASKS_DELETED", "project": {"id": 77}, "tasks": [{"id": "x"}]}, 400, "integer id"),
        ({"action": "PROJECT_UPDATED", "project": {"id": 77}, "pad": "x" * 5000}, 413, "larger than 4096"),
    ],
    ids=["not-json", "not-object", "unknown-action", "no-project", "no-task", "bad-id", "too-large"],
)
def test_bad_input_is_a_4xx_and_nothing_is_stored(app: Flask, body: Any, status: int, detail: str) -> None:
    answer = post(app.test_client(), body)
    assert answer.status_code == status and detail in answer.json["detail"]
    assert inbox_count(app) == 0


def test_events_of_unmanaged_projects_are_ignored(app: Flask) -> None:
    answer = post(app.test_client(), annotation_created(project=999))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"
    assert inbox_count(app) == 0


def test_a_delivery_is_stored_once_and_processed_after_the_answer(app: Flask) -> None:
    client = app.test_client()
    answer = post(client, annotation_created())
    assert answer.status_code == 202 and answer.json["status"] == "stored"
    answer.close()  # the WSGI server closes the response once sent; processing runs then
    again = post(client, annotation_created())
    assert again.status_code == 200 and again.json == {"status": "duplicate", "event": answer.json["event"]}
    assert inbox_count(app) == 1
    with db(app) as session:
        event = session.scalars(select(InboxEvent)).one()
        row = session.get(MirrorAnnotation, 5)
        assert event.processed_at is not None and event.error is None
        assert row is not None and row.completed_by == 1 and not row.quarantined  # user 1 is staff


def test_tasks_deleted_without_project_is_kept_when_it_names_known_tasks(app: Flask) -> None:
    client = app.test_client()
    post(client, annotation_created()).close()
    body = {"action": "TASKS_DELETED", "tasks": [{"id": 9}]}  # Label Studio's "delete all tasks"
    answer = post(client, body)
    assert answer.status_code == 202
    answer.close()
    assert post(client, {"action": "TASKS_DELETED", "tasks": [{"id": 12345}]}).json["status"] == "ignored"
    with db(app) as session:
        row = session.get(MirrorAnnotation, 5)
        assert row is not None and row.deleted


def queued_app(tmp_path: Path, redis: str) -> Flask:
    settings = make_settings(tmp_path, webhook_secret=SECRET, redis_url=redis, staff_ls_user_ids=(1,))
    return app_with_project(settings)[0]


def test_with_redis_a_burst_is_processed_by_one_rq_job(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    from medlabel.settings import get_settings
    from sync.operations import QUEUE_NAME

    app = queued_app(tmp_path, redis_url)
    client = app.test_client()
    for annotation_id in (5, 6, 7):
        post(client, annotation_created(ann_id=annotation_id)).close()
    with db(app) as session:
        assert (
            session.scalar(select(MirrorAnnotation.ls_annotation_id)) is None
        )  # not processed in the request
    connection = Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=connection)
    assert queue.count == 1  # one drain for the burst, not one job per delivery
    monkeypatch.setenv("MEDLABEL_DATABASE_URL", app.extensions["medlabel_settings"].database_url)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MEDLABEL_STAFF_LS_USERS", "1")
    get_settings.cache_clear()
    try:
        SimpleWorker([queue], connection=connection).work(burst=True)
        with db(app) as session:
            assert {a.ls_annotation_id for a in session.scalars(select(MirrorAnnotation))} == {5, 6, 7}
            assert None not in set(session.scalars(select(InboxEvent.processed_at)))
        post(client, annotation_created(ann_id=8)).close()
        assert queue.count == 1  # the job cleared its flag: a later delivery gets its own drain
        SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        get_settings.cache_clear()
    with db(app) as session:
        row = session.get(MirrorAnnotation, 8)
        assert row is not None and not row.quarantined


def test_with_redis_down_the_delivery_is_still_acknowledged_and_kept(tmp_path: Path) -> None:
    from sync.handlers import SyncContext
    from sync.operations import process_pending

    app = queued_app(tmp_path, "redis://127.0.0.1:9/0")  # nothing listens there
    answer = post(app.test_client(), annotation_created())
    assert answer.status_code == 202
    answer.close()
    with db(app) as session:
        assert session.scalars(select(InboxEvent.processed_at)).one() is None  # waits for `medlabel sync`
    assert process_pending(app.extensions["test_sessions"], SyncContext(frozenset({1}))) == 1
    with db(app) as session:
        assert session.get(MirrorAnnotation, 5) is not None


def test_with_the_database_down_label_studio_still_gets_an_answer(tmp_path: Path) -> None:
    """PostgreSQL stops taking connections after the app started: a prompt 503 that names the recovery
    (reconciliation), not a hang or a bare 500; nothing half-stored."""
    import psycopg

    url = postgres_url()
    require(url is not None, "PostgreSQL not configured (set MEDLABEL_TEST_POSTGRES_URL)")
    assert url is not None
    admin_url = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    name = f"down_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            settings = make_settings(
                tmp_path, webhook_secret=SECRET, database_url=url.rsplit("/", 1)[0] + f"/{name}"
            )
            app, engine = app_with_project(settings)
            engine.dispose()
            client = app.test_client()
            post(client, annotation_created(ann_id=1)).close()  # the project is now known to this process
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            answer = post(client, annotation_created(ann_id=2))
            assert answer.status_code == 503
            assert answer.json["error"] == "inbox_unavailable" and "reconciliation" in answer.json["detail"]
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
