"""Sync against the live Label Studio: routed physicians' own Label Studio users annotate through its API and
the webhooks bring every annotation into the mirror (an unrouted one quarantined, a skip re-routed); with the
receiver unreachable during a burst, one reconciliation leaves zero differences."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medlabel.accounts.label_studio import AccessTokens
from medlabel.db import make_sessionmaker
from medlabel.models import (
    AnnotationVersion,
    Assignment,
    InboxEvent,
    MirrorAnnotation,
    MirrorTask,
    Physician,
    RoutedTask,
)
from medlabel.models.routing import AssignmentState
from medlabel.projects import WEBHOOK_PATH, create_project, register_webhook
from medlabel.routing.label_studio import SECRET_HEADER
from medlabel.settings import Settings
from sync.operations import process_pending, sync_context
from sync.reconcile import differences, reconcile
from tests.fixtures.label_studio import free_port
from tests.fixtures.platform import Platform, Reader, RoutedWorld, build_routed_world, medlabel

pytestmark = pytest.mark.label_studio


def comment(text: str) -> list[dict[str, Any]]:
    return [{"from_name": "comment", "to_name": "image", "type": "textarea", "value": {"text": [text]}}]


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def world(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> RoutedWorld:
    """A routed CheXpert project whose events Label Studio posts to the platform's gunicorn."""
    world = build_routed_world(
        ls_client,
        platform.settings,
        platform_db,
        tmp_path_factory.mktemp("sync-inputs"),
        "sync live",
        seed=137,  # a pool of its own: other modules' physicians keep their invites untouched
        with_accounts=12,
    )
    hooked = dataclasses.replace(platform.settings, webhook_url=platform.url)
    hook_id = register_webhook(ls_client, hooked, world.ls_project_id)
    assert hook_id is not None and register_webhook(ls_client, hooked, world.ls_project_id) == hook_id
    return world


def physician(engine: Engine, physician_id: int) -> Physician:
    with make_sessionmaker(engine)() as session:
        found = session.get(Physician, physician_id)
        assert found is not None and found.ls_user_id is not None
        return found


def annotate_as(
    settings: Settings, engine: Engine, reader: Reader, task: int, text: str, skip: bool = False
) -> int:
    """Post an annotation with the physician's own Label Studio user (a 300 s JWT from their refresh token)."""
    with httpx.Client(base_url=settings.label_studio_url, timeout=60) as http:
        token = AccessTokens(settings, http).get(physician(engine, reader.physician_id))
        answer = http.post(
            f"/api/tasks/{task}/annotations/",
            json={"result": [] if skip else comment(text), "lead_time": 4.5, "was_cancelled": skip},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["completed_by"] == reader.ls_user_id
    return int(answer.json()["id"])


def mirrored(engine: Engine, annotation_id: int) -> MirrorAnnotation | None:
    with make_sessionmaker(engine)() as session:
        return session.get(MirrorAnnotation, annotation_id)


def test_physicians_annotations_reach_the_mirror_through_webhooks(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, world: RoutedWorld
) -> None:
    settings = platform.settings
    outsider = next(r for r in world.readers if len(r.tasks) < len(world.media))
    readers = [r for r in world.readers if r is not outsider]
    made = {
        annotate_as(settings, platform_db, r, r.tasks[0], f"read by {r.physician_id}"): r for r in readers[:3]
    }
    foreign = annotate_as(settings, platform_db, outsider, world.task_not_routed_to(outsider), "not mine")
    skipper = readers[3]
    skipped = annotate_as(settings, platform_db, skipper, skipper.tasks[0], "", skip=True)
    for annotation_id in [*made, foreign, skipped]:
        wait_for(lambda a=annotation_id: mirrored(platform_db, a) is not None, f"annotation {annotation_id}")

    for annotation_id, reader in made.items():
        row = mirrored(platform_db, annotation_id)
        assert row is not None and not row.quarantined and row.physician_id == reader.physician_id
        assert row.result == comment(f"read by {reader.physician_id}") and row.lead_time == 4.5
    row = mirrored(platform_db, foreign)
    assert row is not None and row.quarantined and "not routed to physician" in (row.quarantine_reason or "")
    with make_sessionmaker(platform_db)() as session:
        states = dict(
            session.execute(
                select(Assignment.physician_id, Assignment.state)
                .join(RoutedTask, RoutedTask.id == Assignment.task_id)
                .where(RoutedTask.ls_task_id == skipper.tasks[0])
            ).all()
        )
        assert states[skipper.physician_id] == AssignmentState.CANCELLED
        assert (
            sum(s == AssignmentState.ASSIGNED for s in states.values())
            + sum(s == AssignmentState.SUBMITTED for s in states.values())
            == 3
        )  # someone else got the skipped read
        for reader in made.values():
            assert states.get(reader.physician_id) in (None, AssignmentState.SUBMITTED) or (
                reader.tasks[0] != skipper.tasks[0]
            )

    # an edit arrives as a new version; replaying every stored webhook twice then changes no row
    first = next(iter(made))
    reader = made[first]
    with httpx.Client(base_url=settings.label_studio_url, timeout=60) as http:
        token = AccessTokens(settings, http).get(physician(platform_db, reader.physician_id))
        http.patch(
            f"/api/annotations/{first}/",
            json={"result": comment("edited")},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
    wait_for(
        lambda: (mirrored(platform_db, first) or MirrorAnnotation()).result == comment("edited"), "the edit"
    )
    maker = make_sessionmaker(platform_db)
    with maker() as session:
        assert session.scalar(select(func.count()).where(AnnotationVersion.ls_annotation_id == first)) == 2
        before = mirror_rows(session, world.ls_project_id)
        events = session.scalars(
            select(InboxEvent).where(InboxEvent.ls_project_id == world.ls_project_id)
        ).all()
        assert {e.action for e in events} >= {"ANNOTATION_CREATED", "ANNOTATION_UPDATED"}
        session.execute(InboxEvent.__table__.update().values(processed_at=None))
        session.commit()
    context = sync_context(settings)
    for _ in range(2):
        with maker() as session:
            session.execute(InboxEvent.__table__.update().values(processed_at=None))
            session.commit()
        assert process_pending(maker, context, world.ls_project_id) >= len(events)
    with maker() as session:
        assert mirror_rows(session, world.ls_project_id) == before

    # the operator's view, through the installed command: reconcile (nothing to repair), status, quarantine
    project = str(world.ls_project_id)
    synced = medlabel(settings, "sync", "--project", project)
    assert synced.returncode == 0 and "0 annotations and 0 tasks found deleted" in synced.stdout, (
        synced.stderr
    )
    assert differences(maker, settings, world.ls_project_id) == []
    shown = medlabel(settings, "sync", "status", "--project", project)
    assert shown.returncode == 0, shown.stderr
    assert (
        f"{len(made) + 2} mirrored, 1 quarantined" in shown.stdout and "ANNOTATION_CREATED 5" in shown.stdout
    )
    listed = medlabel(settings, "sync", "quarantine", "--project", project)
    assert listed.returncode == 0 and f"{foreign} " in listed.stdout and "1 quarantined" in listed.stdout


def mirror_rows(session: Session, ls_project_id: int) -> list[tuple[Any, ...]]:
    annotations = session.execute(
        select(*[c for c in MirrorAnnotation.__table__.columns if c.name != "mirrored_at"])
        .where(MirrorAnnotation.ls_project_id == ls_project_id)
        .order_by(MirrorAnnotation.ls_annotation_id)
    ).all()
    versions = session.execute(
        select(AnnotationVersion.ls_annotation_id, AnnotationVersion.ls_updated_at, AnnotationVersion.result)
        .join(MirrorAnnotation, MirrorAnnotation.ls_annotation_id == AnnotationVersion.ls_annotation_id)
        .where(MirrorAnnotation.ls_project_id == ls_project_id)
        .order_by(AnnotationVersion.id)
    ).all()
    assignments = session.execute(select(Assignment.id, Assignment.state).order_by(Assignment.id)).all()
    return [*annotations, *versions, *assignments]


def report_tasks(n: int) -> list[dict[str, Any]]:
    return [{"data": {"text": f"CT chest {i}: {i} mm nodule."}} for i in range(n)]


def test_one_reconciliation_repairs_a_burst_the_receiver_missed(
    ls_client: LabelStudio, ls_settings: Settings, platform_db: Engine, unique_title: str, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens: every delivery is lost, as when the receiver is down
    settings = dataclasses.replace(
        ls_settings, webhook_url=f"http://127.0.0.1:{closed}", webhook_secret="burst-secret"
    )
    maker = make_sessionmaker(platform_db)
    with maker() as session:
        project = create_project(
            ls_client, settings, "radiology_report_classification", unique_title, session=session
        )
    url = f"http://127.0.0.1:{closed}{WEBHOOK_PATH}"
    hooks = [h for h in ls_client.webhooks.list(project=str(project.id)) if h.url == url]
    assert [(h.project, (h.headers or {}).get(SECRET_HEADER)) for h in hooks] == [
        (project.id, "burst-secret")
    ]
    ls_client.projects.import_tasks(id=project.id, request=report_tasks(60))
    tasks = sorted(int(t.id) for t in ls_client.tasks.list(project=project.id))
    rng = random.Random(7)
    result = [{"from_name": "finding", "to_name": "report", "type": "choices", "value": {"choices": ["x"]}}]

    def burst(creates: int, updates: int, deletes: int) -> None:
        made = [
            int(ls_client.annotations.create(id=rng.choice(tasks), result=result, lead_time=1.0).id)
            for _ in range(creates)
        ]
        for annotation_id in rng.sample(made, updates):
            ls_client.annotations.update(
                id=annotation_id, result=[{**result[0], "value": {"choices": ["y"]}}]
            )
        for annotation_id in rng.sample(made, deletes):
            ls_client.annotations.delete(id=annotation_id)

    burst(creates=400, updates=60, deletes=40)  # 500 operations, then a skip and a task deletion
    ls_client.annotations.create(id=tasks[1], result=[], was_cancelled=True)  # a skip
    ls_client.tasks.delete(id=tasks[0])
    context = sync_context(settings)
    first = reconcile(maker, settings, context, project.id)
    assert first.tasks_seen == 59 and differences(maker, settings, project.id) == []
    with maker() as session:
        gone = select(func.count()).where(MirrorTask.ls_task_id == tasks[0], ~MirrorTask.deleted)
        assert session.scalar(gone) == 0  # deleted before the mirror ever saw it
        before = mirror_rows(session, project.id)
    again = reconcile(maker, settings, context, project.id)
    with maker() as session:
        assert mirror_rows(session, project.id) == before  # converged: a second pass changes nothing
    assert again.watermark == first.watermark

    # later changes are found from the watermark, deleted tasks by the id diff
    burst(creates=10, updates=5, deletes=5)
    ls_client.tasks.delete(id=tasks[2])
    later = reconcile(maker, settings, context, project.id)
    assert later.tasks_seen < 59 and later.tasks_deleted == 1
    assert differences(maker, settings, project.id) == []

    # a deleted project (Label Studio cannot post PROJECT_DELETED to a project webhook) is noticed too
    ls_client.projects.delete(id=project.id)
    assert reconcile(maker, settings, context, project.id).project_deleted
    with maker() as session:
        live = select(func.count()).where(
            MirrorAnnotation.ls_project_id == project.id, ~MirrorAnnotation.deleted
        )
        assert session.scalar(live) == 0
