"""Physicians' worklists (page and JSON, behind the platform login) and the TASKS_CREATED webhook.

The worklist's "Open" button leads to Label Studio's own label stream through the gateway
(`/projects/P/data?labeling=1` on this same origin), which serves exactly the tasks listed here. The webhook
authenticates Label Studio by the shared secret header (settings.webhook_secret), compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medlabel.errors import MedlabelError, UnknownRecordError
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import AssignmentState
from medlabel.routing.label_studio import SECRET_HEADER
from medlabel.web.db import db_session, settings

logger = logging.getLogger(__name__)
bp = Blueprint("worklist", __name__)


class AccessDenied(MedlabelError):
    code = "forbidden"
    http_status = 403


class WebhookPayloadError(MedlabelError):
    code = "invalid_webhook"
    http_status = 400


@dataclass
class WorklistProject:
    ls_project_id: int
    title: str
    #: The label stream through the gateway: it hands out this physician's open tasks one by one.
    url: str
    tasks: list[dict[str, Any]] = field(default_factory=list)


def worklist(session: Session, physician: Physician) -> list[WorklistProject]:
    """The physician's open assignments by project, oldest lease deadline first."""
    rows = session.execute(
        select(
            Assignment.leased_until, RoutedTask.ls_task_id, ProjectRecord.ls_project_id, ProjectRecord.title
        )
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(ProjectRecord, ProjectRecord.id == RoutedTask.project_id)
        .where(Assignment.physician_id == physician.id, Assignment.state == AssignmentState.ASSIGNED.value)
        .order_by(Assignment.leased_until, RoutedTask.ls_task_id)
    ).all()
    projects: dict[int, WorklistProject] = {}
    for leased_until, ls_task_id, ls_project_id, title in rows:
        project = projects.setdefault(
            ls_project_id, WorklistProject(ls_project_id, title, f"/projects/{ls_project_id}/data?labeling=1")
        )
        project.tasks.append({"ls_task_id": ls_task_id, "leased_until": _iso(leased_until)})
    return list(projects.values())


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _physician() -> Physician:
    if current_user.physician_id is None:
        raise AccessDenied("only physicians have a worklist")
    physician = db_session().get(Physician, current_user.physician_id)
    if physician is None:
        raise AccessDenied("only physicians have a worklist")
    return physician


@bp.get("/api/worklist")
@login_required
def api() -> ResponseReturnValue:
    physician = _physician()
    projects = worklist(db_session(), physician)
    return jsonify(
        physician={"id": physician.id, "name": physician.name, "active": physician.active},
        projects=[
            {"ls_project_id": p.ls_project_id, "title": p.title, "url": p.url, "tasks": p.tasks}
            for p in projects
        ],
    )


@bp.get("/worklist")
@login_required
def page() -> ResponseReturnValue:
    physician = _physician()
    return render_template("worklist.html", physician=physician, projects=worklist(db_session(), physician))


@bp.post("/webhooks/label-studio/tasks-created")
def tasks_created() -> ResponseReturnValue:
    """Answer at once, then hand the tasks to `routing.operations.tasks_arrived`.

    Label Studio waits for this answer inside the request that created the tasks (1 s timeout, no retry),
    and ingest may be waiting on that same request; so nothing is routed before answering: an RQ job does
    it when Redis is configured, otherwise this process right after the response is sent.
    """
    configured = settings()
    secret = request.headers.get(SECRET_HEADER, "")
    if not configured.webhook_secret or not hmac.compare_digest(secret, configured.webhook_secret):
        raise AccessDenied(f"missing or wrong {SECRET_HEADER} header")
    ls_project_id, tasks = _parse_tasks_created(request.get_json(silent=True))
    from medlabel.routing.label_studio import task_priority
    from medlabel.routing.policy import project_by_ls_id

    try:
        project_by_ls_id(db_session(), ls_project_id)
    except UnknownRecordError:
        return jsonify(status="ignored", detail=f"project {ls_project_id} is not routed by medlabel"), 200
    priorities = {int(t["id"]): task_priority(t) for t in tasks}
    if configured.redis_url:
        from medlabel.routing.jobs import enqueue_arrival

        job = enqueue_arrival(configured, ls_project_id, list(priorities), priorities)
        return jsonify(status="queued", tasks=len(priorities), job=job.id), 202
    maker: sessionmaker[Session] = current_app.extensions["medlabel_sessionmaker"]

    def route_after_answering() -> None:
        from medlabel.ls_client import make_client
        from medlabel.routing.operations import tasks_arrived

        with maker() as session:
            try:
                project = project_by_ls_id(session, ls_project_id)
                tasks_arrived(
                    session,
                    lambda: make_client(configured),
                    configured,
                    project,
                    list(priorities),
                    priorities,
                )
            except Exception:  # nobody is left to answer; `medlabel route --project P` catches up
                logger.exception("routing the new tasks of project %s failed", ls_project_id)

    response = jsonify(status="accepted", tasks=len(priorities))
    response.status_code = 202
    response.call_on_close(route_after_answering)
    return response


def _parse_tasks_created(payload: Any) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body must be a JSON object")
    if payload.get("action") != "TASKS_CREATED":
        raise WebhookPayloadError(f"action must be TASKS_CREATED, not {payload.get('action')!r}")
    project = payload.get("project")
    project_id = project.get("id") if isinstance(project, dict) else None
    if not isinstance(project_id, int):
        raise WebhookPayloadError("project.id must be an integer")
    tasks = payload.get("tasks")
    if not isinstance(tasks, list) or not all(
        isinstance(t, dict) and isinstance(t.get("id"), int) for t in tasks
    ):
        raise WebhookPayloadError("tasks must be a list of objects with an integer id")
    return project_id, tasks
