"""One idempotent handler per Label Studio action, writing the mirror; reconciliation replays them.

Every write is keyed by Label Studio ids and ordered by Label Studio's `updated_at`, so a replay changes no
row and events that arrive out of order (update before create, delete before create) converge. Routing is
enforced here: an annotation by anyone the task is not routed to is kept but quarantined (never paid,
scored or exported), and a routed physician's annotation moves their read to `submitted`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medlabel.db import utc
from medlabel.errors import MedlabelError
from medlabel.ls_client import make_client
from medlabel.models import (
    AnnotationVersion,
    MirrorAnnotation,
    MirrorTask,
    Physician,
    ProjectRecord,
)
from medlabel.models.routing import AssignmentState
from medlabel.quality.operations import reads_changed
from medlabel.routing import service as routing
from medlabel.routing.label_studio import task_priority
from medlabel.routing.operations import tasks_arrived
from medlabel.settings import Settings
from sync.events import LsAction, LsEvent, ls_time, user_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncContext:
    """What handlers need beyond the DB: Label Studio users who are staff (their annotations are allowed)."""

    staff_ls_user_ids: frozenset[int] = frozenset()
    #: Where Label Studio is, for the work an event hands to other domains (routing publishes its tabs).
    settings: Settings = field(default_factory=Settings)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def managed_project(session: Session, ls_project_id: int) -> ProjectRecord | None:
    return session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == ls_project_id))


def mirror_task(
    session: Session, ls_project_id: int, task: dict[str, Any], deleted: bool | None = None
) -> MirrorTask:
    """Record a task (the newer `updated_at` wins); `deleted` None keeps what is known (a deleted task stays
    deleted), False is Label Studio's word that it exists now (reconciliation)."""
    row = session.get(MirrorTask, task["id"])
    updated = ls_time(task.get("updated_at"))
    if row is None:
        row = MirrorTask(
            ls_task_id=task["id"], ls_project_id=ls_project_id, ls_updated_at=updated, deleted=False
        )
        session.add(row)
    elif updated is not None and (row.ls_updated_at is None or updated > utc(row.ls_updated_at)):  # type: ignore[operator]
        row.ls_updated_at = updated
    if deleted is not None:
        row.deleted = deleted
    return row


@dataclass
class _Known:
    """What mirroring a batch of annotations looks up, read for the whole batch in a few queries (a webhook
    brings one or a list; reconciliation a page of tasks), so the cost per annotation is not a round trip each."""

    rows: dict[int, MirrorAnnotation]
    versions: set[tuple[int, datetime]]
    #: Label Studio user id → physician id.
    physicians: dict[int, int]
    #: (LS task id, physician id) → (assignment id, state) of the reads the batch's tasks hold.
    reads: dict[tuple[int, int], tuple[int, str]]


def _known(session: Session, batch: list[dict[str, Any]]) -> _Known:
    session.flush()
    ids = [int(d["id"]) for d in batch]
    rows = {
        r.ls_annotation_id: r
        for r in session.scalars(select(MirrorAnnotation).where(MirrorAnnotation.ls_annotation_id.in_(ids)))
    }
    versions = {
        (a, utc(at))
        for a, at in session.execute(
            select(AnnotationVersion.ls_annotation_id, AnnotationVersion.ls_updated_at).where(
                AnnotationVersion.ls_annotation_id.in_(ids)
            )
        )
    }
    authors = {a for d in batch if (a := user_id(d.get("completed_by"))) is not None}
    physicians: dict[int, int] = {
        ls_user: physician
        for ls_user, physician in session.execute(
            select(Physician.ls_user_id, Physician.id).where(Physician.ls_user_id.in_(authors))
        )
    }
    reads = routing.reads_of(session, {int(d["task"]) for d in batch}) if physicians else {}
    return _Known(rows, versions, physicians, reads)


def mirror_annotations(
    session: Session,
    context: SyncContext,
    ls_project_id: int | None,
    batch: list[dict[str, Any]],
    current: bool = False,
) -> None:
    """Upsert annotations from their Label Studio dicts (webhook or `fields=all` task list); does not commit.

    Args:
        current: the data is Label Studio's present state (reconciliation), so it also undoes a deletion.
    """
    if not batch:
        return
    known = _known(session, batch)
    submitted: list[int] = []
    for data in batch:
        _mirror_one(session, context, ls_project_id, data, current, known, submitted)
    routing.record_submissions(session, submitted, context.now())


def _mirror_one(
    session: Session,
    context: SyncContext,
    ls_project_id: int | None,
    data: dict[str, Any],
    current: bool,
    known: _Known,
    submitted: list[int],
) -> None:
    updated = ls_time(data.get("updated_at"))
    if (
        updated is not None and (data["id"], updated) not in known.versions
    ):  # history: one row per saved state
        known.versions.add((data["id"], updated))
        session.add(
            AnnotationVersion(
                ls_annotation_id=data["id"],
                ls_updated_at=updated,
                result=data.get("result") or [],
                completed_by=user_id(data.get("completed_by")),
                updated_by=user_id(data.get("updated_by")),
                lead_time=data.get("lead_time"),
                was_cancelled=bool(data.get("was_cancelled")),
            )
        )
    row = known.rows.get(data["id"])
    first_sight = row is None or row.ls_task_id is None
    if row is None:
        row = MirrorAnnotation(ls_annotation_id=data["id"], deleted=False, quarantined=False)
        known.rows[data["id"]] = row
        session.add(row)
    elif not first_sight and row.ls_updated_at is not None and updated is not None:
        if updated <= utc(row.ls_updated_at):  # type: ignore[operator]
            if current:
                row.deleted = False
            return  # a replay, or older than what we hold
    author = user_id(data.get("completed_by"))
    row.ls_task_id = int(data["task"])
    row.ls_project_id = ls_project_id if ls_project_id is not None else row.ls_project_id
    row.result = data.get("result") or []
    row.completed_by = author if author is not None else row.completed_by
    row.lead_time = data.get("lead_time")
    row.was_cancelled = bool(data.get("was_cancelled"))
    row.ground_truth = bool(data.get("ground_truth"))
    row.prediction_id = _id(data.get("prediction"))
    row.parent_prediction_id = _id(data.get("parent_prediction"))
    row.parent_annotation_id = _id(data.get("parent_annotation"))
    row.ls_created_at = ls_time(data.get("created_at")) or row.ls_created_at
    row.ls_updated_at = updated or row.ls_updated_at
    if current:
        row.deleted = False
    if first_sight:
        _enforce(session, context, row, known, submitted)


def _id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _enforce(
    session: Session, context: SyncContext, row: MirrorAnnotation, known: _Known, submitted: list[int]
) -> None:
    """Decide once, when an annotation is first seen: routed physician → their read moves on; anyone else →
    quarantined. The verdict is kept through later edits (the read may since have changed state)."""
    assert row.ls_task_id is not None
    author = row.completed_by
    physician_id = known.physicians.get(author) if author is not None else None
    read = known.reads.get((row.ls_task_id, physician_id)) if physician_id is not None else None
    reason = None
    if physician_id is not None:
        row.physician_id = physician_id
        if read is None:
            reason = f"task {row.ls_task_id} is not routed to physician {physician_id}"
    elif author is None:
        reason = "author unknown (the Label Studio user was deleted)"
    elif author not in context.staff_ls_user_ids:
        reason = f"Label Studio user {author} is neither a pool physician nor staff"
    if reason is not None:
        row.quarantined, row.quarantine_reason = True, reason
        logger.warning(
            "quarantined annotation %s on task %s of project %s: %s",
            row.ls_annotation_id,
            row.ls_task_id,
            row.ls_project_id,
            reason,
        )
        return
    if read is None or author is None or row.deleted:
        return  # staff, or a deleted annotation (its deletion arrived first): no read moves
    assignment_id, state = read
    if row.was_cancelled:
        session.flush()
        report = routing.record_skip(session, row.ls_task_id, author, context.now())
        logger.info(
            "physician %s skipped task %s: %d new read(s) routed",
            physician_id,
            row.ls_task_id,
            report.assigned,
        )
    elif state == AssignmentState.ASSIGNED.value:
        known.reads[(row.ls_task_id, physician_id)] = (assignment_id, AssignmentState.SUBMITTED.value)
        submitted.append(assignment_id)


def mark_annotations_deleted(session: Session, ls_project_id: int | None, ids: Iterable[int]) -> int:
    """Deleted in Label Studio: kept as deleted; an id not seen yet gets a tombstone its create will respect."""
    count = 0
    for annotation_id in ids:
        row = session.get(MirrorAnnotation, annotation_id)
        if row is None:
            row = MirrorAnnotation(
                ls_annotation_id=annotation_id, ls_project_id=ls_project_id, quarantined=False, deleted=True
            )
            session.add(row)
        count += not row.deleted
        row.deleted = True
    return count


def mark_tasks_deleted(session: Session, ls_project_id: int | None, ids: Iterable[int]) -> int:
    """A deleted task takes its annotations with it (Label Studio sends no ANNOTATIONS_DELETED for them)."""
    ids = list(ids)
    for task_id in ids:
        row = session.get(MirrorTask, task_id)
        if row is None:
            if ls_project_id is None:
                continue
            row = MirrorTask(ls_task_id=task_id, ls_project_id=ls_project_id)
            session.add(row)
        row.deleted = True
    result = session.execute(
        update(MirrorAnnotation)
        .where(MirrorAnnotation.ls_task_id.in_(ids), MirrorAnnotation.deleted.is_(False))
        .values(deleted=True)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _annotations(session: Session, context: SyncContext, event: LsEvent) -> None:
    assert event.ls_project_id is not None
    for task in event.tasks:
        mirror_task(session, event.ls_project_id, task)
    mirror_annotations(session, context, event.ls_project_id, event.annotations)
    _quality(session, context, event.ls_project_id, {int(a["task"]) for a in event.annotations})


def _annotations_deleted(session: Session, context: SyncContext, event: LsEvent) -> None:
    ids = [a["id"] for a in event.annotations]
    mark_annotations_deleted(session, event.ls_project_id, ids)
    session.flush()
    tasks = set(
        session.scalars(
            select(MirrorAnnotation.ls_task_id).where(
                MirrorAnnotation.ls_annotation_id.in_(ids), MirrorAnnotation.ls_task_id.is_not(None)
            )
        )
    )
    if event.ls_project_id is not None:
        _quality(session, context, event.ls_project_id, {t for t in tasks if t is not None})


def _quality(session: Session, context: SyncContext, ls_project_id: int, ls_task_ids: set[int]) -> None:
    """Quality's trigger (consensus at a task's k-th read, the reviewer's decision, gold scoring). Label
    Studio being unreachable must not lose the mirror's write: `medlabel consensus` catches up later."""
    session.flush()
    try:
        reads_changed(session, context.settings, ls_project_id, ls_task_ids)
    except MedlabelError as exc:
        logger.warning(
            "project %s: consensus for tasks %s postponed: %s", ls_project_id, sorted(ls_task_ids), exc
        )


def _tasks_created(session: Session, context: SyncContext, event: LsEvent) -> None:
    assert event.ls_project_id is not None
    project = managed_project(session, event.ls_project_id)
    if project is None:
        return
    for task in event.tasks:
        mirror_task(session, event.ls_project_id, task)
    session.flush()
    # routing's one arrival operation: source facts from the platform DB only, then routing and the tabs
    settings = context.settings
    tasks_arrived(
        session,
        lambda: make_client(settings),
        settings,
        project,
        [t["id"] for t in event.tasks],
        {int(t["id"]): task_priority(t) for t in event.tasks},
    )


def _tasks_deleted(session: Session, _context: SyncContext, event: LsEvent) -> None:
    mark_tasks_deleted(session, event.ls_project_id, [t["id"] for t in event.tasks])


def _project_updated(_session: Session, _context: SyncContext, event: LsEvent) -> None:
    """Nothing mirrored depends on project settings yet; the event is kept in the inbox as a record."""


def _project_deleted(session: Session, _context: SyncContext, event: LsEvent) -> None:
    assert event.ls_project_id is not None
    session.execute(
        update(MirrorTask).where(MirrorTask.ls_project_id == event.ls_project_id).values(deleted=True)
    )
    session.execute(
        update(MirrorAnnotation)
        .where(MirrorAnnotation.ls_project_id == event.ls_project_id)
        .values(deleted=True)
        .execution_options(synchronize_session="fetch")
    )
    logger.info("project %s deleted in Label Studio: its mirror is marked deleted", event.ls_project_id)


Handler = Callable[[Session, SyncContext, LsEvent], None]

HANDLERS: dict[LsAction, Handler] = {
    LsAction.ANNOTATION_CREATED: _annotations,
    LsAction.ANNOTATION_UPDATED: _annotations,
    LsAction.ANNOTATIONS_CREATED: _annotations,
    LsAction.ANNOTATIONS_DELETED: _annotations_deleted,
    LsAction.TASKS_CREATED: _tasks_created,
    LsAction.TASKS_DELETED: _tasks_deleted,
    LsAction.PROJECT_UPDATED: _project_updated,
    LsAction.PROJECT_DELETED: _project_deleted,
}


def apply(session: Session, context: SyncContext, event: LsEvent) -> None:
    """Apply one event to the mirror; the caller commits (with whatever else belongs in that transaction)."""
    HANDLERS[event.action](session, context, event)


def handle(session: Session, context: SyncContext, event: LsEvent) -> None:
    """Apply one event to the mirror and commit."""
    apply(session, context, event)
    session.commit()
