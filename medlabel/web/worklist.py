"""Physicians' worklists (page and JSON, behind the platform login); Label Studio's webhooks live in sync/.

The worklist's "Open" button leads to Label Studio's own label stream through the gateway
(`/projects/P/data?labeling=1` on this same origin), which serves exactly the tasks listed here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.errors import MedlabelError
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import AssignmentState
from medlabel.web.db import db_session

logger = logging.getLogger(__name__)
bp = Blueprint("worklist", __name__)


class AccessDenied(MedlabelError):
    code = "forbidden"
    http_status = 403


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
