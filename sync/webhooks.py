"""Label Studio → platform webhooks: check the shared secret, store the raw delivery, answer at once.

Label Studio Community posts each webhook once, inside the request that caused it, with a 1 s timeout and no
retry (ARCHITECTURE.md), so this view does no work beyond one insert: processing runs after the answer (an RQ
job, or in this process once the response is closed), and reconciliation recovers whatever was lost.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, sessionmaker

from medlabel.errors import (
    MedlabelError,
    UnknownRecordError,
    WebhookAuthError,
    WebhookError,
    WebhookTooLargeError,
)
from medlabel.projects import WEBHOOK_PATH
from medlabel.routing.label_studio import SECRET_HEADER
from medlabel.web.db import db_session, settings
from sync.operations import dispatch, receive

logger = logging.getLogger(__name__)
bp = Blueprint("sync", __name__)
#: Where Label Studio posts every event of a managed project (registered by medlabel.projects).
RECEIVER_PATH = WEBHOOK_PATH


def _check_secret(status_error: type[MedlabelError]) -> None:
    configured = settings().webhook_secret
    secret = request.headers.get(SECRET_HEADER, "")
    if not configured or not hmac.compare_digest(secret.encode(), configured.encode()):
        raise status_error(f"missing or wrong {SECRET_HEADER} header")


@bp.post(RECEIVER_PATH)
def receive_event() -> ResponseReturnValue:
    """Store one delivery in the inbox and answer; 4xx (nothing stored) for what can never be processed."""
    _check_secret(WebhookAuthError)
    limit = settings().webhook_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise WebhookTooLargeError(f"body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise WebhookTooLargeError(f"body larger than {limit} bytes")
    receipt = receive(db_session(), raw)
    response = jsonify(status=receipt.status, event=receipt.event_id)
    if receipt.status == "stored" and receipt.event_id is not None:
        configured = settings()
        maker: sessionmaker[Session] = current_app.extensions["medlabel_sessionmaker"]
        event_ids = [receipt.event_id]
        response.call_on_close(lambda: dispatch(configured, maker, event_ids))
    return response, 202 if receipt.status == "stored" else 200


class WebhookForbidden(MedlabelError):
    code = "forbidden"
    http_status = 403


@bp.post("/webhooks/label-studio/tasks-created")
def tasks_created() -> ResponseReturnValue:
    """Answer at once, then hand the tasks to `routing.operations.tasks_arrived`.

    The older, TASKS_CREATED-only hook (`medlabel.routing.label_studio.register_tasks_webhook`); new projects
    post every event to RECEIVER_PATH. Label Studio waits for this answer inside the request that created the
    tasks (1 s timeout, no retry), and ingest may be waiting on that same request; so nothing is routed before
    answering: an RQ job does it when Redis is configured, otherwise this process right after the response.
    """
    _check_secret(WebhookForbidden)
    configured = settings()
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
        raise WebhookError("body must be a JSON object")
    if payload.get("action") != "TASKS_CREATED":
        raise WebhookError(f"action must be TASKS_CREATED, not {payload.get('action')!r}")
    project = payload.get("project")
    project_id = project.get("id") if isinstance(project, dict) else None
    if not isinstance(project_id, int):
        raise WebhookError("project.id must be an integer")
    tasks = payload.get("tasks")
    if not isinstance(tasks, list) or not all(
        isinstance(t, dict) and isinstance(t.get("id"), int) for t in tasks
    ):
        raise WebhookError("tasks must be a list of objects with an integer id")
    return project_id, tasks
