"""Routing's write flows, one function each, whoever triggers them (indico's `operations.py` shape).

- `tasks_arrived`: new Label Studio tasks (after ingest, the TASKS_CREATED webhook, its RQ job);
- `route_project_tasks`: every task of a project (`medlabel route --project`, the demo);
- `set_physician_active`: pause (re-route their open work) or resume a physician (`medlabel pool pause`);
- `change_policy`: a validated policy change, with k mirrored to Label Studio's maximum annotations;
- `route_review`: one more read of a task by a senior reviewer (quality's adjudication);
- `mark_gold_tasks`: tasks become gold standards (quality's gold import and promote).

Each one records what it knows in the platform DB, routes (`service.route_project`, dispatcher pure), commits,
then publishes the result to Label Studio (worklist tabs; assignments on Enterprise). Label Studio only mirrors
the DB: when publishing fails the routing stands, the error is logged and returned, and the next run catches up.

Source facts (content key, source institution) come from the platform DB only: ingest records them with each
item (`IngestedItem`), and Label Studio's `task.meta` is never trusted for them. The TASKS_CREATED webhook is
sent inside the very import request ingest is waiting on, so it may report tasks before ingest has recorded
them; such tasks are registered without facts, and when ingest's own call brings the facts they are filled in
and any open read by a physician of the source institution is cancelled and routed again (`corrected`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from label_studio_sdk import LabelStudio
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medlabel.errors import MedlabelError
from medlabel.ls_client import call
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask, RoutingPolicy
from medlabel.models.routing import AssignmentState
from medlabel.routing.label_studio import fetch_task_priorities, publish
from medlabel.routing.policy import policy_of, set_policy
from medlabel.routing.service import (
    RouteReport,
    TaskInfo,
    assign_reviewer,
    change_state,
    mark_gold,
    register_tasks,
    route_project,
    set_active,
    source_facts,
)
from medlabel.settings import Settings

logger = logging.getLogger(__name__)
#: Gives a Label Studio client when one is needed (publishing happens after the DB work, maybe never).
ClientFactory = Callable[[], LabelStudio]


@dataclass
class ArrivalReport:
    """What one arrival (or a whole-project run) did."""

    route: RouteReport
    #: Tasks seen for the first time.
    registered: int = 0
    #: Known tasks whose source facts arrived late (see the module docstring).
    corrected: int = 0
    #: Open reads cancelled because the late facts showed a conflict of interest.
    cancelled: int = 0
    #: physician id -> Data Manager view id, for the tabs updated.
    views: dict[int, int] = field(default_factory=dict)
    #: Why the tabs were not updated (None when they were, or nothing needed publishing).
    publish_error: str | None = None


def record_arrivals(
    session: Session,
    project: ProjectRecord,
    ls_task_ids: Iterable[int],
    priorities: Mapping[int, float | None] | None = None,
    now: datetime | None = None,
) -> tuple[int, int, int, set[int]]:
    """Register new tasks with the platform's facts and fill in facts that arrived late. Does not commit.

    Returns (registered, corrected, cancelled reads, physicians whose reads were cancelled).
    """
    ids = list(dict.fromkeys(ls_task_ids))
    priorities = priorities or {}
    facts = source_facts(session, project, ids)
    infos = [
        TaskInfo(
            i,
            content_key=facts[i].content_key if i in facts else None,
            source_institution=facts[i].source_institution if i in facts else None,
            priority=priorities.get(i),
        )
        for i in ids
    ]
    registered = register_tasks(session, project, infos)
    corrected, cancelled, touched = _correct_late_facts(session, project, facts, now or datetime.now(UTC))
    return registered, corrected, cancelled, touched


def _correct_late_facts(
    session: Session, project: ProjectRecord, facts: Mapping[int, TaskInfo], now: datetime
) -> tuple[int, int, set[int]]:
    """Store facts that known tasks lack; cancel open reads they show to be conflicts of interest."""
    if not facts:
        return 0, 0, set()
    known = list(facts)
    stale = [
        row
        for start in range(0, len(known), 10_000)  # below SQLite's bound-parameter limit
        for row in session.execute(  # by the unique task id alone (see service.route_project)
            select(
                RoutedTask.id,
                RoutedTask.project_id,
                RoutedTask.ls_task_id,
                RoutedTask.content_key,
                RoutedTask.source_institution,
            )
            .where(RoutedTask.ls_task_id.in_(known[start : start + 10_000]))
            .where((RoutedTask.content_key.is_(None)) | (RoutedTask.source_institution.is_(None)))
        )
    ]
    corrected: dict[int, str] = {}  # task id -> institution learned
    updated = 0
    for task_id, project_id, ls_task_id, content_key, institution in stale:
        if project_id != project.id:
            continue
        fact = facts[ls_task_id]
        values = {}
        if content_key is None and fact.content_key is not None:
            values["content_key"] = fact.content_key
        if institution is None and fact.source_institution is not None:
            values["source_institution"] = fact.source_institution
            corrected[task_id] = fact.source_institution
        if values:
            updated += 1
            session.execute(update(RoutedTask).where(RoutedTask.id == task_id).values(**values))
    if not corrected or not policy_of(session, project).conflict_of_interest:
        return updated, 0, set()
    conflicts = session.execute(
        select(
            Assignment.id,
            Assignment.physician_id,
            Assignment.state,
            Assignment.task_id,
            Physician.institution,
        )
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(Assignment.task_id.in_(list(corrected)), Assignment.state == AssignmentState.ASSIGNED.value)
    ).all()
    doomed = [row for row in conflicts if row.institution == corrected[row.task_id]]
    change_state(
        session,
        [row.id for row in doomed],
        AssignmentState.CANCELLED,
        "conflict of interest (source learned)",
        now,
    )
    if doomed:
        logger.warning(
            "project %s: %d reads cancelled, their physicians are from the source institution learned late",
            project.ls_project_id,
            len(doomed),
        )
    return updated, len(doomed), {row.physician_id for row in doomed}


def tasks_arrived(
    session: Session,
    client: ClientFactory,
    settings: Settings,
    project: ProjectRecord,
    ls_task_ids: Iterable[int],
    priorities: Mapping[int, float | None] | None = None,
    now: datetime | None = None,
) -> ArrivalReport:
    """New tasks exist in Label Studio: register them with the platform's facts, route them, publish the tabs.

    Idempotent: reporting the same tasks again (ingest, then the webhook, then its job) changes nothing more.
    Raises what routing raises (e.g. an unknown template); Label Studio errors only land in `publish_error`.
    """
    now = now or datetime.now(UTC)
    ids = list(dict.fromkeys(ls_task_ids))
    registered, corrected, cancelled, touched = record_arrivals(session, project, ids, priorities, now)
    report = route_project(session, project, now, ids)  # commits
    arrival = ArrivalReport(report, registered, corrected, cancelled)
    _publish(arrival, client, settings, session, project, touched | report.touched)
    logger.info(
        "project %s: %d tasks arrived (%d new, %d with late facts, %d reads cancelled), %d reads assigned",
        project.ls_project_id,
        len(ids),
        registered,
        corrected,
        cancelled,
        report.assigned,
    )
    return arrival


def route_project_tasks(
    session: Session, client: ClientFactory, settings: Settings, project: ProjectRecord
) -> ArrivalReport:
    """Route every task of the project: tasks Label Studio has that the platform does not know yet (imported
    there directly, or by a storage sync, which sends no webhook) are registered first; every tab is rewritten.
    """
    ls_client = client()
    priorities = fetch_task_priorities(ls_client, project)
    registered, corrected, cancelled, touched = record_arrivals(session, project, priorities, priorities)
    report = route_project(session, project)
    arrival = ArrivalReport(report, registered, corrected, cancelled)
    _publish(arrival, lambda: ls_client, settings, session, project, None)
    return arrival


def set_physician_active(
    session: Session, client: ClientFactory, settings: Settings, physician_id: int, active: bool
) -> ArrivalReport:
    """Pause a physician (their open reads are re-routed to others, the tabs follow) or resume them."""
    report = set_active(session, physician_id, active)  # commits
    arrival = ArrivalReport(report)
    if active:
        return arrival
    routed = select(RoutedTask.project_id).distinct()
    for project in session.scalars(select(ProjectRecord).where(ProjectRecord.id.in_(routed))):
        _publish(arrival, client, settings, session, project, report.touched)
    return arrival


def change_policy(
    session: Session, client: ClientFactory, project: ProjectRecord, **changes: Any
) -> RoutingPolicy:
    """Store a validated policy change (nothing on error), then set Label Studio's maximum annotations to k."""
    row = set_policy(session, project, **changes)  # commits
    ls_client = client()
    call(
        "set maximum annotations",
        lambda: ls_client.projects.update(id=project.ls_project_id, maximum_annotations=row.reads),
    )
    return row


@dataclass
class ReviewReport:
    #: The reviewer chosen, None when nobody qualified or had room.
    reviewer_id: int | None
    publish_error: str | None = None


def route_review(
    session: Session,
    client: ClientFactory,
    settings: Settings,
    project: ProjectRecord,
    ls_task_id: int,
    reason: str,
    now: datetime | None = None,
    record: Callable[[int | None], None] | None = None,
) -> ReviewReport:
    """Route one more read of a task to a reviewer (`service.reviewer_policy`), excluding its readers and
    conflicts of interest; commits, then adds the task to the reviewer's tab.

    Args:
        record: called with the reviewer's id (None if nobody qualified) before the commit, so the caller's
            own record of the review is written in the same transaction as the assignment.
    """
    reviewer = assign_reviewer(session, project, ls_task_id, reason, now)
    if record is not None:
        record(reviewer)
    session.commit()
    arrival = ArrivalReport(RouteReport())
    if reviewer is not None:
        _publish(arrival, client, settings, session, project, {reviewer})
        logger.info(
            "project %s: task %s routed to reviewer %s (%s)",
            project.ls_project_id,
            ls_task_id,
            reviewer,
            reason,
        )
    return ReviewReport(reviewer, arrival.publish_error)


def mark_gold_tasks(session: Session, project: ProjectRecord, ls_task_ids: Iterable[int]) -> int:
    """Tasks become gold standards: routing mixes them into physicians' work at the policy's gold share. Label
    Studio is not told (a gold task must look like any other); commits."""
    changed = mark_gold(session, project, ls_task_ids)
    session.commit()
    return changed


def _publish(
    arrival: ArrivalReport,
    client: ClientFactory,
    settings: Settings,
    session: Session,
    project: ProjectRecord,
    physician_ids: set[int] | None,
) -> None:
    """Mirror the committed routing into Label Studio; a failure is kept in the report, not raised."""
    if physician_ids is not None and not physician_ids:
        return
    try:
        arrival.views.update(publish(client(), settings, session, project, physician_ids))
    except MedlabelError as exc:
        arrival.publish_error = str(exc)
        logger.warning("project %s: worklist tabs not updated: %s", project.ls_project_id, exc)
