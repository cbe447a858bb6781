"""Reads over the mirror for operators: a project's sync status and its quarantined annotations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medlabel.models import InboxEvent, MirrorAnnotation, MirrorTask, ProjectRecord, SyncWatermark
from medlabel.routing.policy import policy_of


@dataclass(frozen=True)
class SyncStatus:
    ls_project_id: int
    watermark: datetime | None
    last_run_at: datetime | None
    inbox_backlog: int
    inbox_errors: int
    #: action -> deliveries stored
    events: dict[str, int]
    annotations: int
    quarantined: int
    reads_required: int
    tasks_complete: int
    tasks_incomplete: int


def status(session: Session, project: ProjectRecord) -> SyncStatus:
    """Watermark, inbox, events by kind, quarantine and completion (k accepted reads in) of one project."""
    ls_id = project.ls_project_id
    mark = session.get(SyncWatermark, ls_id)
    events = dict(
        session.execute(
            select(InboxEvent.action, func.count())
            .where(InboxEvent.ls_project_id == ls_id)
            .group_by(InboxEvent.action)
        ).all()
    )
    backlog = session.scalar(
        select(func.count()).where(InboxEvent.ls_project_id == ls_id, InboxEvent.processed_at.is_(None))
    )
    errors = session.scalar(
        select(func.count()).where(
            InboxEvent.ls_project_id == ls_id,
            InboxEvent.processed_at.is_(None),
            InboxEvent.error.is_not(None),
        )
    )
    live = [MirrorAnnotation.ls_project_id == ls_id, MirrorAnnotation.deleted.is_(False)]
    annotations = session.scalar(select(func.count()).where(*live))
    quarantined = session.scalar(select(func.count()).where(*live, MirrorAnnotation.quarantined.is_(True)))
    reads = policy_of(session, project).reads
    accepted = dict(
        session.execute(
            select(MirrorAnnotation.ls_task_id, func.count())
            .where(*live, MirrorAnnotation.quarantined.is_(False), MirrorAnnotation.was_cancelled.is_(False))
            .group_by(MirrorAnnotation.ls_task_id)
        ).all()
    )
    tasks = list(
        session.scalars(
            select(MirrorTask.ls_task_id).where(
                MirrorTask.ls_project_id == ls_id, MirrorTask.deleted.is_(False)
            )
        )
    )
    complete = sum(1 for t in tasks if accepted.get(t, 0) >= reads)
    return SyncStatus(
        ls_project_id=ls_id,
        watermark=mark.updated_at if mark else None,
        last_run_at=mark.last_run_at if mark else None,
        inbox_backlog=backlog or 0,
        inbox_errors=errors or 0,
        events={str(k): int(v) for k, v in events.items()},
        annotations=annotations or 0,
        quarantined=quarantined or 0,
        reads_required=reads,
        tasks_complete=complete,
        tasks_incomplete=len(tasks) - complete,
    )


def quarantined(session: Session, ls_project_id: int) -> list[MirrorAnnotation]:
    """The project's quarantined annotations (deleted ones included: they are part of the audit trail)."""
    return list(
        session.scalars(
            select(MirrorAnnotation)
            .where(MirrorAnnotation.ls_project_id == ls_project_id, MirrorAnnotation.quarantined.is_(True))
            .order_by(MirrorAnnotation.ls_annotation_id)
        )
    )
