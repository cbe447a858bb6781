"""Pure rewrites of Label Studio payloads for one physician: blind reads, no foreign ids, no borrowed names."""

from __future__ import annotations

from typing import Any

from medlabel.gateway.grants import Grants

#: Task fields that name or count other readers' work.
_FOREIGN_TASK_FIELDS = (
    "annotators",
    "annotators_count",
    "updated_by",
    "comment_authors",
    "annotations_results",
    "annotations_ids",
    "predictions_results",
    "predictions_model_versions",
    "reviewers",
)
#: Fields a physician's write must not set: authorship is the gateway's user, ground truth is the manager's.
_AUTHORSHIP_FIELDS = ("completed_by", "updated_by", "ground_truth", "user", "created_by")


def _user_id(value: Any) -> Any:
    """LS sends a user as an id or as an expanded object, depending on the endpoint."""
    return value.get("id") if isinstance(value, dict) else value


def shown(prediction: dict[str, Any], prefixes: tuple[str, ...] | None) -> bool:
    if prefixes is None:
        return True
    version = str(prediction.get("model_version") or "")
    return any(version.startswith(prefix) for prefix in prefixes)


def task_for(task: dict[str, Any], grants: Grants, ls_project_id: int) -> dict[str, Any]:
    """The task as this physician may see it: their own annotations and drafts, approved predictions only."""
    own = grants.ls_user_id
    result = {k: v for k, v in task.items() if k not in _FOREIGN_TASK_FIELDS}
    if isinstance(task.get("annotations"), list):
        result["annotations"] = [a for a in task["annotations"] if _user_id(a.get("completed_by")) == own]
        result["total_annotations"] = len(result["annotations"])
        result["cancelled_annotations"] = sum(1 for a in result["annotations"] if a.get("was_cancelled"))
    if isinstance(task.get("drafts"), list):
        result["drafts"] = [d for d in task["drafts"] if str(_user_id(d.get("user"))) in (str(own), "")]
    if isinstance(task.get("predictions"), list):
        prefixes = grants.shown_models.get(ls_project_id)
        result["predictions"] = [p for p in task["predictions"] if shown(p, prefixes)]
        result["total_predictions"] = len(result["predictions"])
    return result


def project_for(project: dict[str, Any]) -> dict[str, Any]:
    """The project without its creator's identity."""
    result = dict(project)
    creator = project.get("created_by")
    if isinstance(creator, dict):
        result["created_by"] = {"id": creator.get("id"), "first_name": "", "last_name": "", "email": ""}
    return result


def views_for(views: Any, physician_id: int, own_prefix: str) -> Any:
    """Data Manager tabs without other physicians' worklist tabs (their titles carry names)."""
    if not isinstance(views, list):
        return views
    mine = f"{own_prefix}{physician_id} "
    return [
        v
        for v in views
        if not str((v.get("data") or {}).get("title", "")).startswith(own_prefix)
        or str((v.get("data") or {}).get("title", "")).startswith(mine)
    ]


def authored_by_gateway(body: Any) -> Any:
    """A write body with every authorship field removed: Label Studio then credits the token's user."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in _AUTHORSHIP_FIELDS}
    return body


def next_task_request(body: Any, open_tasks: list[int]) -> dict[str, Any]:
    """The label stream's `next_task` action, pinned to the physician's open tasks: no filters, no `all`."""
    pinned: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    pinned.pop("filters", None)
    pinned["selectedItems"] = {"all": False, "included": open_tasks}
    return pinned


def self_only(grants: Grants, email: str, name: str) -> list[dict[str, Any]]:
    """The user list a physician's editor gets: just them."""
    first, _, last = name.partition(" ")
    return [
        {
            "id": grants.ls_user_id,
            "first_name": first,
            "last_name": last,
            "username": email,
            "email": email,
            "avatar": None,
            "initials": (first[:1] + last[:1]).upper(),
        }
    ]
