"""Sync handlers on SQLite and PostgreSQL: replays change nothing, out-of-order events converge, routing is
enforced (quarantine, submitted reads, skips re-routed), and the mirror schema has no drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medlabel.db import Base
from medlabel.models import (
    AnnotationVersion,
    Assignment,
    AssignmentEvent,
    InboxEvent,
    MirrorAnnotation,
    MirrorTask,
    Physician,
    ProjectRecord,
    RoutedTask,
)
from medlabel.models.routing import AssignmentState
from medlabel.routing.demo import demo_pool_rows
from medlabel.routing.generator import to_csv
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.service import expire_leases, route_new_tasks
from sync.events import parse_event
from sync.handlers import SyncContext, handle
from sync.queries import quarantined, status

PROJECT = 4242
STAFF = 1
STRANGER = 5555
CONTEXT = SyncContext(staff_ls_user_ids=frozenset({STAFF}))
TABLES = ("sync_inbox", "mirror_tasks", "mirror_annotations", "mirror_annotation_versions", "sync_watermarks")


def test_sync_migration_matches_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in TABLES)] == []


@pytest.fixture
def routed(db_session: Session) -> dict[int, list[int]]:
    """Project 4242 with tasks 1-4 routed (3 reads each) over a 12-physician radiology pool whose physicians
    have Label Studio users 100+id; returns LS task id -> LS user ids holding it."""
    import_pool_csv(db_session, to_csv(demo_pool_rows("radiology", None, size=12, seed=31)))
    for physician in db_session.scalars(select(Physician)):
        physician.ls_user_id = 100 + physician.id
    project = ProjectRecord(
        ls_project_id=PROJECT,
        title="sync test",
        template_id="radiology_report_classification",
        template_version=1,
        language="en",
        label_codes={},
        reads=3,
    )
    db_session.add(project)
    db_session.commit()
    report = route_new_tasks(db_session, project, [1, 2, 3, 4])
    assert report.shortfalls == {}
    holders: dict[int, list[int]] = {}
    for task, user in db_session.execute(
        select(RoutedTask.ls_task_id, Physician.ls_user_id)
        .join(Assignment, Assignment.task_id == RoutedTask.id)
        .join(Physician, Physician.id == Assignment.physician_id)
    ):
        holders.setdefault(task, []).append(user)
    return holders


def stamp(minute: int) -> str:
    return (datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(minutes=minute)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def annotation(
    ann_id: int, task: int, user: int, minute: int, label: str = "normal", **extra: Any
) -> dict[str, Any]:
    return {
        "id": ann_id,
        "task": task,
        "project": PROJECT,
        "completed_by": user,
        "updated_by": user,
        "result": [
            {"from_name": "finding", "to_name": "report", "type": "choices", "value": {"choices": [label]}}
        ],
        "was_cancelled": False,
        "ground_truth": False,
        "lead_time": 10.0 + minute,
        "prediction": {},
        "parent_prediction": 7,
        "parent_annotation": None,
        "created_at": stamp(0),
        "updated_at": stamp(minute),
        **extra,
    }


def event(action: str, **body: Any) -> dict[str, Any]:
    return {"action": action, "project": {"id": PROJECT, "title": "sync test"}, **body}


def created(data: dict[str, Any]) -> dict[str, Any]:
    return event(
        "ANNOTATION_CREATED", annotation=data, task={"id": data["task"], "updated_at": data["updated_at"]}
    )


def updated(data: dict[str, Any]) -> dict[str, Any]:
    return event(
        "ANNOTATION_UPDATED", annotation=data, task={"id": data["task"], "updated_at": data["updated_at"]}
    )


def apply(session: Session, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        handle(session, CONTEXT, parse_event(body))


def snapshot(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    rows: list[tuple[Any, ...]] = []
    for model in (MirrorAnnotation, AnnotationVersion, MirrorTask, Assignment, AssignmentEvent):
        table = model.__table__
        ignored = {"mirrored_at", "recorded_at", "updated_at", "at"}
        columns = [c for c in table.columns if c.name not in ignored]
        rows += [(table.name, *r) for r in session.execute(select(*columns).order_by(*table.primary_key))]
    return rows


def test_replaying_every_event_twice_changes_no_row(
    db_session: Session, routed: dict[int, list[int]]
) -> None:
    first, second = routed[1][0], routed[2][0]
    bodies = [
        created(annotation(11, 1, first, 1)),
        updated(annotation(11, 1, first, 2, label="nodule")),
        event(
            "ANNOTATIONS_CREATED",
            annotation=[annotation(12, 2, second, 3), annotation(13, 2, STRANGER, 3)],
            task=[{"id": 2, "updated_at": stamp(3)}],
        ),
        event("ANNOTATIONS_DELETED", annotations=[{"id": 13}]),
        event("TASKS_DELETED", tasks=[{"id": 3}]),
        event("PROJECT_UPDATED"),
    ]
    apply(db_session, *bodies)
    before = snapshot(db_session)
    assert any(r[0] == "mirror_annotations" for r in before)
    apply(db_session, *bodies)
    apply(db_session, *reversed(bodies))
    assert snapshot(db_session) == before


def test_update_before_create_converges_to_the_newest_state(
    db_session: Session, routed: dict[int, list[int]]
) -> None:
    user = routed[1][0]
    apply(
        db_session, updated(annotation(21, 1, user, 5, label="nodule")), created(annotation(21, 1, user, 1))
    )
    row = db_session.get(MirrorAnnotation, 21)
    assert row is not None and row.result[0]["value"]["choices"] == ["nodule"] and row.lead_time == 15.0
    assert row.prediction_id is None and row.parent_prediction_id == 7 and not row.deleted
    versions = db_session.scalars(
        select(AnnotationVersion.lead_time).where(AnnotationVersion.ls_annotation_id == 21)
    ).all()
    assert sorted(versions) == [11.0, 15.0]


def test_delete_before_create_stays_deleted(db_session: Session, routed: dict[int, list[int]]) -> None:
    user = routed[2][0]
    apply(
        db_session,
        event("ANNOTATIONS_DELETED", annotations=[{"id": 31}]),
        created(annotation(31, 2, user, 1)),
    )
    row = db_session.get(MirrorAnnotation, 31)
    assert row is not None and row.deleted and row.ls_task_id == 2 and row.completed_by == user


def test_a_task_deletion_takes_its_annotations(db_session: Session, routed: dict[int, list[int]]) -> None:
    apply(db_session, created(annotation(41, 4, routed[4][0], 1)), event("TASKS_DELETED", tasks=[{"id": 4}]))
    task, row = db_session.get(MirrorTask, 4), db_session.get(MirrorAnnotation, 41)
    assert task is not None and task.deleted and row is not None and row.deleted


def state_of(session: Session, ls_task_id: int, ls_user_id: int) -> str:
    return session.scalars(
        select(Assignment.state)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(RoutedTask.ls_task_id == ls_task_id, Physician.ls_user_id == ls_user_id)
    ).one()


def test_routing_is_enforced(db_session: Session, routed: dict[int, list[int]]) -> None:
    reader = routed[1][0]
    everyone = db_session.scalars(select(Physician.ls_user_id).order_by(Physician.id)).all()
    outsider = next(u for u in everyone if u is not None and u not in routed[1])
    apply(
        db_session,
        created(annotation(51, 1, reader, 1)),
        created(annotation(52, 1, outsider, 1)),
        created(annotation(53, 1, STRANGER, 1)),
        created(annotation(54, 1, STAFF, 1, ground_truth=True)),
    )
    verdicts = {a: db_session.get(MirrorAnnotation, a) for a in (51, 52, 53, 54)}
    assert [bool(v and v.quarantined) for v in verdicts.values()] == [False, True, True, False]
    assert "is not routed to physician" in (verdicts[52].quarantine_reason or "")  # type: ignore[union-attr]
    assert "neither a pool physician nor staff" in (verdicts[53].quarantine_reason or "")  # type: ignore[union-attr]
    assert state_of(db_session, 1, reader) == AssignmentState.SUBMITTED
    assert [a.ls_annotation_id for a in quarantined(db_session, PROJECT)] == [52, 53]
    # a submitted read never expires, however late it is
    expire_leases(db_session, datetime.now(UTC) + timedelta(days=365), None)
    assert state_of(db_session, 1, reader) == AssignmentState.SUBMITTED
    project = db_session.scalars(select(ProjectRecord).where(ProjectRecord.ls_project_id == PROJECT)).one()
    report = status(db_session, project)
    assert (report.annotations, report.quarantined) == (4, 2)


def test_a_skip_reroutes_the_task_to_someone_else(db_session: Session, routed: dict[int, list[int]]) -> None:
    skipper = routed[3][0]
    apply(db_session, created(annotation(61, 3, skipper, 1, was_cancelled=True, result=[])))
    assert state_of(db_session, 3, skipper) == AssignmentState.CANCELLED
    holders = db_session.scalars(
        select(Physician.ls_user_id)
        .join(Assignment, Assignment.physician_id == Physician.id)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .where(RoutedTask.ls_task_id == 3, Assignment.state == AssignmentState.ASSIGNED.value)
    ).all()
    assert len(holders) == 3 and skipper not in holders
    row = db_session.get(MirrorAnnotation, 61)
    assert row is not None and row.was_cancelled and not row.quarantined


def test_a_run_of_events_is_mirrored_as_one_batch_and_a_bad_one_is_isolated(
    db_session: Session, routed: dict[int, list[int]]
) -> None:
    """The drain mirrors consecutive annotation events together; one the database refuses (a task id past
    64 bits) fails alone with its error recorded, and the rest land as if processed one by one."""
    from sqlalchemy.orm import sessionmaker

    from sync.operations import process_pending, receive

    bodies = [
        created(annotation(11, 1, routed[1][0], 1)),
        created(annotation(12, 2, routed[2][0], 2)),
        created(annotation(13, 2**63, routed[2][1], 3)),
        updated(annotation(11, 1, routed[1][0], 4, label="abnormal")),
        created(annotation(14, 3, STRANGER, 5)),
    ]
    ids = [receive(db_session, json.dumps(body).encode()).event_id for body in bodies]
    maker = sessionmaker(bind=db_session.get_bind(), join_transaction_mode="create_savepoint")
    assert process_pending(maker, CONTEXT, PROJECT) == 4
    db_session.expire_all()
    events = {e.id: e for e in db_session.scalars(select(InboxEvent))}
    assert [events[i].processed_at is not None for i in ids] == [True, True, False, True, True]
    assert events[ids[2]].error and not events[ids[0]].error
    rows = {r.ls_annotation_id: r for r in db_session.scalars(select(MirrorAnnotation))}
    assert sorted(rows) == [11, 12, 14]
    assert rows[11].result[0]["value"]["choices"] == ["abnormal"] and not rows[11].quarantined
    assert rows[14].quarantined
    states = db_session.scalars(
        select(Assignment.state)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(RoutedTask.ls_task_id.in_([1, 2]), Physician.ls_user_id.in_([routed[1][0], routed[2][0]]))
    ).all()
    assert sorted(states).count(AssignmentState.SUBMITTED.value) == 2
