"""Physicians' worklists (JSON and page) and the TASKS_CREATED webhook that routes new tasks.

Access: each physician has a worklist token (`medlabel pool token ID`, only its SHA-256 is stored). The API
takes it as `Authorization: Bearer <token>`; the page takes `?token=` once, moves it into an HttpOnly
cookie scoped to that physician's path and redirects, so the token leaves the address bar. A token only
opens its own physician's worklist: anyone else gets 403. The webhook authenticates Label Studio by the
shared secret header (settings.webhook_secret), compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.errors import MedlabelError, UnknownRecordError
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import AssignmentState
from medlabel.routing.label_studio import SECRET_HEADER
from medlabel.routing.pool import physician_by_token
from medlabel.settings import Settings

logger = logging.getLogger(__name__)
bp = Blueprint("worklist", __name__)
COOKIE = "medlabel_worklist"


class AccessDenied(MedlabelError):
    code = "forbidden"
    http_status = 403


class WebhookPayloadError(MedlabelError):
    code = "invalid_webhook"
    http_status = 400


def _settings() -> Settings:
    settings: Settings = current_app.extensions["medlabel_settings"]
    return settings


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the platform DB; the engine is made and migrated once per app."""
    maker: sessionmaker[Session] | None = current_app.extensions.get("medlabel_sessionmaker")
    if maker is None:
        engine = make_engine(_settings().database_url)
        upgrade(engine)
        maker = current_app.extensions["medlabel_sessionmaker"] = make_sessionmaker(engine)
    with maker() as session:
        yield session


def _authorised(session: Session, physician_id: int, token: str) -> Physician:
    physician = physician_by_token(session, token)
    if physician is None or physician.id != physician_id:
        raise AccessDenied("this worklist needs the physician's own worklist token")
    return physician


def worklist(session: Session, physician: Physician, label_studio_url: str) -> list[dict[str, Any]]:
    """The physician's open assignments, oldest lease deadline first, with links into Label Studio."""
    rows = session.execute(
        select(Assignment, RoutedTask.ls_task_id, ProjectRecord.ls_project_id, ProjectRecord.title)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(ProjectRecord, ProjectRecord.id == RoutedTask.project_id)
        .where(Assignment.physician_id == physician.id, Assignment.state == AssignmentState.ASSIGNED.value)
        .order_by(Assignment.leased_until, RoutedTask.ls_task_id)
    ).all()
    return [
        {
            "ls_task_id": ls_task_id,
            "ls_project_id": ls_project_id,
            "project": title,
            "leased_until": assignment.leased_until.isoformat(),
            "url": f"{label_studio_url}/projects/{ls_project_id}/data?task={ls_task_id}",
        }
        for assignment, ls_task_id, ls_project_id, title in rows
    ]


@bp.get("/api/physicians/<int:physician_id>/worklist")
def worklist_api(physician_id: int) -> ResponseReturnValue:
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    with _session() as session:
        physician = _authorised(session, physician_id, token)
        items = worklist(session, physician, _settings().label_studio_url)
        return jsonify({"physician": {"id": physician.id, "name": physician.name}, "assignments": items})


@bp.get("/physicians/<int:physician_id>/worklist")
def worklist_page(physician_id: int) -> ResponseReturnValue:
    path = f"/physicians/{physician_id}/worklist"
    if "token" in request.args:
        response = redirect(path)
        response.set_cookie(
            COOKIE,
            request.args["token"],
            path=path,
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
        )
        return response
    with _session() as session:
        physician = _authorised(session, physician_id, request.cookies.get(COOKIE, ""))
        items = worklist(session, physician, _settings().label_studio_url)
        return render_template("worklist.html", physician=physician, items=items)


@bp.post("/webhooks/label-studio/tasks-created")
def tasks_created() -> ResponseReturnValue:
    """Route the tasks of a TASKS_CREATED event at once; update Label Studio tabs after answering."""
    settings = _settings()
    secret = request.headers.get(SECRET_HEADER, "")
    if not settings.webhook_secret or not hmac.compare_digest(secret, settings.webhook_secret):
        raise AccessDenied(f"missing or wrong {SECRET_HEADER} header")
    ls_project_id, tasks = _parse_tasks_created(request.get_json(silent=True))
    from medlabel.routing.label_studio import task_info
    from medlabel.routing.policy import project_by_ls_id
    from medlabel.routing.service import route_new_tasks

    with _session() as session:
        try:
            project = project_by_ls_id(session, ls_project_id)
        except UnknownRecordError:
            return jsonify(status="ignored", detail=f"project {ls_project_id} is not routed by medlabel"), 200
        infos = {info.ls_task_id: info for info in map(task_info, tasks)}
        report = route_new_tasks(session, project, list(infos), infos)
        project_id = project.id

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def publish_tabs() -> None:
        # Label Studio waits for this webhook inside the request that created the tasks; calling it back
        # before answering could deadlock a single-threaded server, so tabs are updated once we answered.
        from medlabel.ls_client import make_client
        from medlabel.routing.label_studio import publish

        with app.app_context(), _session() as session:
            record = session.get(ProjectRecord, project_id)
            try:
                if record is not None:
                    publish(make_client(settings), settings, session, record)
            except MedlabelError:
                logger.exception("updating worklist tabs of project %s failed", ls_project_id)

    response = jsonify(
        status="routed",
        assigned=report.assigned,
        shortfalls={str(k): v for k, v in report.shortfalls.items()},
    )
    response.call_on_close(publish_tabs)
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
