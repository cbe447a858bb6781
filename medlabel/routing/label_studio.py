"""Routing as Label Studio sees it: physicians' LS users, their Data Manager tabs, Enterprise assignments.

The open-source edition has no per-user assignment, so each physician gets a Data Manager tab (a saved
view) in each project, filtered to exactly their open tasks by task id. Every member of an OSS
organisation can open every tab: the tabs are a convenience; enforcement is the gateway (docs/access.md) and `service.reads_of`, which
the sync layer applies to every annotation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.ls_client import call
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import AssignmentState
from medlabel.settings import Settings

logger = logging.getLogger(__name__)

#: Data Manager tabs we own are titled with this prefix and the physician id.
VIEW_PREFIX = "medlabel worklist #"
#: Header carrying the shared secret on Label Studio's webhook calls to the platform.
SECRET_HEADER = "X-Medlabel-Secret"
#: A task id no task has: the filter of a tab whose physician has no open work.
NO_TASK = 0


def task_priority(task: Mapping[str, Any]) -> float | None:
    """A task's routing priority: its lowest prediction score (most uncertain first), None if unscored.

    The only thing routing takes from Label Studio's copy of a task; source facts come from the platform DB.
    """
    scores = [
        p["score"]
        for p in task.get("predictions") or []
        if isinstance(p, dict) and p.get("score") is not None
    ]
    return float(min(scores)) if scores else None


def fetch_task_priorities(client: LabelStudio, project: ProjectRecord) -> dict[int, float | None]:
    """Every task of the project in Label Studio (id -> priority), with predictions for their scores."""
    tasks = call(
        "list tasks",
        lambda: list(client.tasks.list(project=project.ls_project_id, fields="all", page_size=1000)),
    )
    dicts = [t.model_dump() if hasattr(t, "model_dump") else dict(t) for t in tasks]
    return {int(t["id"]): task_priority(t) for t in dicts}


def open_tasks_by_physician(session: Session, project: ProjectRecord) -> dict[int, list[int]]:
    """physician id -> LS task ids they hold an open (assigned) read of in the project."""
    rows = session.execute(
        select(Assignment.physician_id, RoutedTask.ls_task_id)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .where(RoutedTask.project_id == project.id, Assignment.state == AssignmentState.ASSIGNED.value)
        .order_by(RoutedTask.ls_task_id)
    ).all()
    tasks: dict[int, list[int]] = defaultdict(list)
    for physician_id, ls_task_id in rows:
        tasks[physician_id].append(ls_task_id)
    return tasks


def view_data(physician: Physician, ls_task_ids: list[int]) -> dict[str, Any]:
    """A Data Manager tab showing exactly these tasks: one `id = …` filter per task, joined by OR."""
    items = [
        {"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": task_id}
        for task_id in ls_task_ids or [NO_TASK]
    ]
    return {
        "title": f"{VIEW_PREFIX}{physician.id} {physician.name}",
        "filters": {"conjunction": "or", "items": items},
    }


def sync_views(
    client: LabelStudio,
    session: Session,
    project: ProjectRecord,
    physician_ids: Collection[int] | None = None,
) -> dict[int, int]:
    """Create or update one tab per physician who has (or had) work in the project; returns physician → view id.

    Args:
        physician_ids: only these physicians' tabs (those a routing run changed); every involved one if None.
    """
    open_tasks = open_tasks_by_physician(session, project)
    involved = set(
        session.scalars(
            select(Assignment.physician_id)
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(RoutedTask.project_id == project.id)
        )
    )
    views = call("list views", lambda: client.views.list(project=project.ls_project_id))
    existing: dict[int, int] = {}
    for view in views:
        title = str((view.data or {}).get("title", "")) if isinstance(view.data, dict) else ""
        if title.startswith(VIEW_PREFIX):
            existing[int(title.removeprefix(VIEW_PREFIX).split(" ", 1)[0])] = int(view.id)
    if physician_ids is not None:
        involved &= set(physician_ids)
    result: dict[int, int] = {}
    for physician_id in sorted(involved):
        physician = session.get(Physician, physician_id)
        assert physician is not None
        data = view_data(physician, open_tasks.get(physician_id, []))
        if physician_id in existing:
            view_id = existing[physician_id]
            call("update view", lambda v=view_id, d=data: client.views.update(str(v), data=d))
        else:
            view = call(
                "create view", lambda d=data: client.views.create(project=project.ls_project_id, data=d)
            )
            view_id = int(view.id)
        result[physician_id] = view_id
    return result


def push_enterprise_assignments(
    settings: Settings,
    session: Session,
    project: ProjectRecord,
    physician_ids: Collection[int] | None = None,
) -> int:
    """On a Label Studio Enterprise server, assign each physician's open tasks to their LS user as annotator.

    Uses `POST /api/projects/{id}/tasks/assignees` (Enterprise only; the OSS test server has no such
    endpoint, so this path is not exercised by the test suite). Returns the number of calls made.
    """
    calls = 0
    with httpx.Client(
        base_url=settings.label_studio_url,
        headers={"Authorization": f"Token {settings.label_studio_api_key}"},
        timeout=30,
    ) as http:
        for physician_id, ls_task_ids in sorted(open_tasks_by_physician(session, project).items()):
            if physician_ids is not None and physician_id not in physician_ids:
                continue
            physician = session.get(Physician, physician_id)
            if physician is None or physician.ls_user_id is None:
                continue
            body = {
                "type": "AN",
                "users": [physician.ls_user_id],
                "selectedItems": {"all": False, "included": ls_task_ids},
            }
            call(
                "assign tasks (Enterprise)",
                lambda b=body: http.post(
                    f"/api/projects/{project.ls_project_id}/tasks/assignees", json=b
                ).raise_for_status(),
            )
            calls += 1
    return calls


def publish(
    client: LabelStudio,
    settings: Settings,
    session: Session,
    project: ProjectRecord,
    physician_ids: Collection[int] | None = None,
) -> dict[int, int]:
    """Make the project's routing visible in Label Studio: tabs always, assignments on Enterprise.

    Args:
        physician_ids: only these physicians (whose open work changed); all involved physicians if None.
    """
    views = sync_views(client, session, project, physician_ids)
    if settings.label_studio_enterprise:
        push_enterprise_assignments(settings, session, project, physician_ids)
    return views
