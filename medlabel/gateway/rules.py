"""The allow-list: what each request of Label Studio 1.23.2's label stream may do, decided without I/O.

Deny by default. Every rule below is one row of the request table in ARCHITECTURE.md ("Access control"),
recorded from the 1.23.2 front end: an upgrade that sends new requests breaks (403s in the log), it never
leaks. Decisions that need a fact only Label Studio has (who wrote annotation A, which media a task names)
carry a `Check` the blueprint resolves before proxying.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from medlabel.gateway.grants import Grants


class Action(StrEnum):
    PASS = "pass"  # proxy to Label Studio as the physician's user
    DENY = "deny"  # 403 with the reason
    ANSWER = "answer"  # answer without Label Studio: a synthetic, minimal payload


class ResponseFilter(StrEnum):
    TASK = "task"
    PROJECT = "project"
    VIEWS = "views"
    NEXT_TASK = "next_task"


class BodyRewrite(StrEnum):
    AUTHORED = "authored"  # strip completed_by & co.
    NEXT_TASK = "next_task"  # pin selectedItems to the open tasks


class CheckKind(StrEnum):
    ANNOTATION = "annotation"
    DRAFT = "draft"
    MEDIA = "media"


@dataclass(frozen=True)
class Check:
    """A fact the decision depends on that only Label Studio knows; the blueprint resolves it."""

    kind: CheckKind
    key: str
    ls_project_id: int | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    answer: Any = None
    status: int = 200
    response: ResponseFilter | None = None
    body: BodyRewrite | None = None
    checks: tuple[Check, ...] = ()
    #: The project the request is about, when it names one.
    ls_project_id: int | None = None


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    path: str
    #: First value of each query parameter.
    args: Mapping[str, str]


def deny(reason: str) -> Decision:
    return Decision(Action.DENY, reason)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


Handler = Callable[[GatewayRequest, "re.Match[str]", Grants], Decision]
_RULES: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []


def rule(methods: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for these methods and this path (anchored; an optional trailing slash)."""

    def register(handler: Handler) -> Handler:
        _RULES.append((frozenset(methods.split()), re.compile(f"^(?:{pattern})/?$"), handler))
        return handler

    return register


def _project_arg(request: GatewayRequest, grants: Grants) -> int | Decision:
    project = _int(request.args.get("project"))
    if project is None:
        return deny("a project parameter is required")
    if project not in grants.projects:
        return deny(f"project {project} holds no task routed to you")
    return project


# ------------------------------------------------------------------ the page and its assets


ASSETS = r"/(?:static|react-app)/.+|/favicon\.ico|/sw\.js"
_ASSETS = re.compile(f"^(?:{ASSETS})$")


def is_asset(request: GatewayRequest) -> bool:
    """Label Studio's public front-end files: the same for everyone, so no grants are needed."""
    return request.method in ("GET", "HEAD") and _ASSETS.match(request.path) is not None


@rule("GET HEAD", ASSETS)
def assets(_request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.PASS)


@rule("GET", r"/projects/(\d+)/data")
def labeling_page(request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    project = int(match[1])
    if project not in grants.projects:
        return deny(f"project {project} holds no task routed to you")
    task = _int(request.args.get("task"))
    if request.args.get("labeling") == "1" and task is None:
        return Decision(Action.PASS, ls_project_id=project)
    if task is not None and grants.holds(task, project):
        return Decision(Action.PASS, ls_project_id=project)
    return deny("only the label stream (?labeling=1) or a task routed to you (?task=) opens here")


@rule("GET", r"/api/version|/api/current-user/whoami")
def about(_request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.PASS)


# ------------------------------------------------------------------ the project, as the editor reads it


@rule("GET", r"/api/projects/(\d+)")
def project_detail(_request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    project = int(match[1])
    if project not in grants.projects:
        return deny(f"project {project} holds no task routed to you")
    return Decision(Action.PASS, response=ResponseFilter.PROJECT, ls_project_id=project)


@rule("GET", r"/api/projects/(\d+)/label-stream-history")
def stream_history(_request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    project = int(match[1])
    if project not in grants.projects:
        return deny(f"project {project} holds no task routed to you")
    return Decision(Action.PASS, ls_project_id=project)


@rule("GET", r"/api/dm/(columns|project|views)")
def data_manager_meta(request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    project = _project_arg(request, grants)
    if isinstance(project, Decision):
        return project
    views = match[1] == "views"
    return Decision(Action.PASS, response=ResponseFilter.VIEWS if views else None, ls_project_id=project)


@rule("GET", r"/api/tasks")
def task_list(request: GatewayRequest, _match: re.Match[str], grants: Grants) -> Decision:
    project = _project_arg(request, grants)
    if isinstance(project, Decision):
        return project
    empty = {"tasks": [], "total": 0, "total_annotations": 0, "total_predictions": 0}
    return Decision(Action.ANSWER, answer=empty, ls_project_id=project)


@rule("GET", r"/api/users")
def user_list(_request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.ANSWER, answer="self")  # the blueprint fills in the physician


@rule("GET", r"/api/ml")
def ml_backends(_request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.ANSWER, answer=[])


@rule("GET", r"/api/label_links")
def label_links(_request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.ANSWER, answer={"count": 0, "next": None, "previous": None, "results": []})


# ------------------------------------------------------------------ tasks, annotations, drafts, media


@rule("GET", r"/api/tasks/(\d+)")
def task_detail(request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    task = int(match[1])
    if not grants.holds(task):
        return deny(f"task {task} is not routed to you")
    return Decision(Action.PASS, response=ResponseFilter.TASK, ls_project_id=grants.tasks[task])


@rule("POST", r"/api/tasks/(\d+)/annotations")
def submit(_request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    task = int(match[1])
    if task not in grants.open_tasks:
        return deny(f"task {task} is not open for you")
    return Decision(Action.PASS, body=BodyRewrite.AUTHORED, ls_project_id=grants.tasks[task])


@rule("PATCH PUT", r"/api/annotations/(\d+)")
def edit_annotation(_request: GatewayRequest, match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(
        Action.PASS,
        body=BodyRewrite.AUTHORED,
        checks=(Check(CheckKind.ANNOTATION, match[1]),),
    )


@rule("POST", r"/api/tasks/(\d+)/drafts")
def new_draft(_request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    task = int(match[1])
    if not grants.holds(task):
        return deny(f"task {task} is not routed to you")
    return Decision(Action.PASS, body=BodyRewrite.AUTHORED, ls_project_id=grants.tasks[task])


@rule("POST", r"/api/tasks/(\d+)/annotations/(\d+)/drafts")
def draft_of_annotation(_request: GatewayRequest, match: re.Match[str], grants: Grants) -> Decision:
    task = int(match[1])
    if not grants.holds(task):
        return deny(f"task {task} is not routed to you")
    return Decision(
        Action.PASS,
        body=BodyRewrite.AUTHORED,
        checks=(Check(CheckKind.ANNOTATION, match[2]),),
        ls_project_id=grants.tasks[task],
    )


@rule("PATCH PUT DELETE", r"/api/drafts/(\d+)")
def edit_draft(_request: GatewayRequest, match: re.Match[str], _grants: Grants) -> Decision:
    return Decision(Action.PASS, body=BodyRewrite.AUTHORED, checks=(Check(CheckKind.DRAFT, match[1]),))


@rule("GET HEAD", r"/data/local-files")
def media(request: GatewayRequest, _match: re.Match[str], _grants: Grants) -> Decision:
    path = request.args.get("d", "")
    if not path:
        return deny("which file? (d=)")
    return Decision(Action.PASS, checks=(Check(CheckKind.MEDIA, path),))


# ------------------------------------------------------------------ the label stream


@rule("POST", r"/api/dm/actions")
def actions(request: GatewayRequest, _match: re.Match[str], grants: Grants) -> Decision:
    if request.args.get("id") != "next_task":
        return deny("the only Data Manager action a physician may run is the label stream's next_task")
    project = _project_arg(request, grants)
    if isinstance(project, Decision):
        return project
    if not grants.open_in(project):
        answer = {"detail": "There are no more tasks routed to you in this project."}
        return Decision(Action.ANSWER, answer=answer, status=404, ls_project_id=project)
    return Decision(
        Action.PASS, body=BodyRewrite.NEXT_TASK, response=ResponseFilter.NEXT_TASK, ls_project_id=project
    )


def decide(request: GatewayRequest, grants: Grants) -> Decision:
    """The first rule whose method and path match decides; none matching is a refusal."""
    for methods, pattern, handler in _RULES:
        match = pattern.match(request.path)
        if match and request.method in methods:
            return handler(request, match, grants)
    return deny("not on the gateway's allow-list")
