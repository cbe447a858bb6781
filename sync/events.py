"""Label Studio webhook payloads as types: the actions we handle and a strict parser of their bodies.

Shapes were checked on Label Studio 1.23.2 (ARCHITECTURE.md, "Webhooks"): every body is
`{action, <key>, project}`; foreign keys are integer ids; ANNOTATIONS_CREATED carries lists;
ANNOTATIONS_DELETED and TASKS_DELETED carry ids only; "delete all tasks" sends TASKS_DELETED without `project`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from medlabel.errors import WebhookError


class LsAction(StrEnum):
    """Label Studio's WebhookAction names (label_studio/webhooks/models.py) that medlabel handles."""

    ANNOTATION_CREATED = "ANNOTATION_CREATED"
    ANNOTATION_UPDATED = "ANNOTATION_UPDATED"
    ANNOTATIONS_CREATED = "ANNOTATIONS_CREATED"
    ANNOTATIONS_DELETED = "ANNOTATIONS_DELETED"
    TASKS_CREATED = "TASKS_CREATED"
    TASKS_DELETED = "TASKS_DELETED"
    PROJECT_UPDATED = "PROJECT_UPDATED"
    PROJECT_DELETED = "PROJECT_DELETED"


@dataclass(frozen=True)
class LsEvent:
    """A parsed delivery: the action, its project and the objects it names (full dicts, or `{id}` only)."""

    action: LsAction
    ls_project_id: int | None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def parse_event(payload: Any) -> LsEvent:
    """Check a webhook body and type it; raises WebhookError (a 400) saying what is wrong."""
    if not isinstance(payload, dict):
        raise WebhookError("body must be a JSON object")
    raw_action = payload.get("action")
    try:
        action = LsAction(raw_action)
    except ValueError:
        raise WebhookError(f"unknown action {raw_action!r}") from None
    project = payload.get("project")
    ls_project_id = project.get("id") if isinstance(project, dict) else project
    if ls_project_id is None and action is LsAction.TASKS_DELETED:
        pass  # "delete all tasks": the task ids still say which project
    elif not isinstance(ls_project_id, int) or isinstance(ls_project_id, bool):
        raise WebhookError("project.id must be an integer")
    if action in (LsAction.ANNOTATION_CREATED, LsAction.ANNOTATION_UPDATED, LsAction.ANNOTATIONS_CREATED):
        annotations = _objects(payload.get("annotation"), "annotation", full=True)
        tasks = _objects(payload.get("task"), "task", full=False) if "task" in payload else []
        return LsEvent(action, ls_project_id, annotations=annotations, tasks=tasks)
    if action is LsAction.ANNOTATIONS_DELETED:
        return LsEvent(action, ls_project_id, annotations=_objects(payload.get("annotations"), "annotations"))
    if action in (LsAction.TASKS_CREATED, LsAction.TASKS_DELETED):
        return LsEvent(action, ls_project_id, tasks=_objects(payload.get("tasks"), "tasks"))
    return LsEvent(action, ls_project_id)


def _objects(value: Any, key: str, full: bool = False) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(
        isinstance(i, dict) and isinstance(i.get("id"), int) and not isinstance(i.get("id"), bool)
        for i in items
    ):
        raise WebhookError(f"{key} must be an object (or a list of objects) with an integer id")
    if full:
        for item in items:
            if not isinstance(item.get("task"), int):
                raise WebhookError(f"{key} {item['id']} must name its task by integer id")
            if not isinstance(item.get("result", []), list):
                raise WebhookError(f"{key} {item['id']}: result must be a list")
    return items


def ls_time(value: Any) -> datetime | None:
    """A Label Studio timestamp (ISO 8601, `Z` or offset) as an aware UTC datetime; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def user_id(value: Any) -> int | None:
    """`completed_by` is an id in webhooks and an expanded user object in `fields=all` task lists."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
