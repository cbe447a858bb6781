"""The gateway's allow-list and payload filters, as pure functions: every row of the request table."""

from __future__ import annotations

import pytest

from medlabel.gateway import filters
from medlabel.gateway.grants import Grants
from medlabel.gateway.rules import Action, BodyRewrite, CheckKind, GatewayRequest, ResponseFilter, decide
from medlabel.gateway.upstream import media_paths

P, OTHER_P = 7, 8
OPEN_T, SUBMITTED_T, FOREIGN_T = 70, 71, 72
ME, SOMEONE = 501, 502


@pytest.fixture
def grants() -> Grants:
    return Grants(
        physician_id=3,
        ls_user_id=ME,
        tasks={OPEN_T: P, SUBMITTED_T: P},
        open_tasks=frozenset({OPEN_T}),
        shown_models={P: ("chexpert@",)},
    )


def req(method: str, path: str, **args: str) -> GatewayRequest:
    return GatewayRequest(method, path, args)


ALLOWED = [
    req("GET", "/static/js/main.js"),
    req("GET", "/react-app/index.js"),
    req("GET", "/favicon.ico"),
    req("GET", f"/projects/{P}/data", labeling="1"),
    req("GET", f"/projects/{P}/data", task=str(SUBMITTED_T)),
    req("GET", "/api/version"),
    req("GET", "/api/current-user/whoami"),
    req("GET", f"/api/projects/{P}"),
    req("GET", f"/api/projects/{P}/label-stream-history", project=str(P)),
    req("GET", "/api/dm/columns", project=str(P)),
    req("GET", "/api/dm/project", project=str(P)),
    req("GET", "/api/dm/views", project=str(P)),
    req("GET", f"/api/tasks/{OPEN_T}", project=str(P)),
    req("POST", f"/api/tasks/{OPEN_T}/annotations", project=str(P)),
    req("POST", f"/api/tasks/{OPEN_T}/drafts", project=str(P)),
    req("POST", "/api/dm/actions", id="next_task", project=str(P)),
]
REFUSED = [
    (req("GET", f"/projects/{P}/data"), "label stream"),
    (req("GET", f"/projects/{P}/data", task=str(FOREIGN_T)), "label stream"),
    (req("GET", f"/projects/{OTHER_P}/data", labeling="1"), "no task routed"),
    (req("GET", "/projects/"), "allow-list"),
    (req("GET", "/api/projects"), "allow-list"),
    (req("GET", f"/api/projects/{OTHER_P}"), "no task routed"),
    (req("GET", f"/api/projects/{P}/export", exportType="JSON"), "allow-list"),
    (req("POST", f"/api/projects/{P}/exports"), "allow-list"),
    (req("GET", "/api/invite"), "allow-list"),
    (req("GET", f"/api/tasks/{FOREIGN_T}"), "not routed"),
    (req("POST", f"/api/tasks/{FOREIGN_T}/annotations"), "not open"),
    (req("POST", f"/api/tasks/{SUBMITTED_T}/annotations"), "not open"),
    (req("DELETE", "/api/annotations/5"), "allow-list"),
    (req("POST", "/api/dm/actions", id="delete_tasks", project=str(P)), "next_task"),
    (req("POST", "/api/dm/actions", id="next_task", project=str(OTHER_P)), "no task routed"),
    (req("GET", "/api/dm/views", project=str(OTHER_P)), "no task routed"),
    (req("GET", "/api/dm/columns"), "project parameter"),
    (req("PATCH", f"/api/users/{SOMEONE}"), "allow-list"),
    (req("GET", f"/api/projects/{P}/next"), "allow-list"),
    (req("GET", "/user/signup/"), "allow-list"),
    (req("GET", "/x/health/y"), "allow-list"),  # LS's unanchored routes match anywhere; ours never do
    (req("GET", "/static"), "allow-list"),
    (req("GET", "/data/local-files/"), "which file"),
]


@pytest.mark.parametrize("call", ALLOWED, ids=lambda c: f"{c.method} {c.path} {dict(c.args)}")
def test_the_label_stream_requests_are_allowed(call: GatewayRequest, grants: Grants) -> None:
    assert decide(call, grants).action is not Action.DENY


@pytest.mark.parametrize(
    ("call", "reason"), REFUSED, ids=lambda c: f"{c}" if isinstance(c, str) else f"{c.method} {c.path}"
)
def test_everything_else_is_refused_with_a_reason(call: GatewayRequest, reason: str, grants: Grants) -> None:
    decision = decide(call, grants)
    assert decision.action is Action.DENY
    assert reason in decision.reason


def test_lists_are_answered_without_label_studio(grants: Grants) -> None:
    tasks = decide(req("GET", "/api/tasks", project=str(P), page="1"), grants)
    assert tasks.action is Action.ANSWER and tasks.answer["tasks"] == []
    assert decide(req("GET", "/api/users", project=str(P)), grants).answer == "self"
    assert decide(req("GET", "/api/ml", project=str(P)), grants).answer == []
    assert decide(req("GET", "/api/label_links", project=str(P)), grants).answer["results"] == []


def test_writes_and_reads_carry_the_rewrites_and_checks_they_need(grants: Grants) -> None:
    submit = decide(req("POST", f"/api/tasks/{OPEN_T}/annotations"), grants)
    assert submit.body is BodyRewrite.AUTHORED
    edit = decide(req("PATCH", "/api/annotations/44", taskID=str(OPEN_T)), grants)
    assert [(c.kind, c.key) for c in edit.checks] == [(CheckKind.ANNOTATION, "44")]
    draft = decide(req("DELETE", "/api/drafts/9"), grants)
    assert [(c.kind, c.key) for c in draft.checks] == [(CheckKind.DRAFT, "9")]
    media = decide(req("GET", "/data/local-files/", d="ingest/p7/a.png"), grants)
    assert [(c.kind, c.key) for c in media.checks] == [(CheckKind.MEDIA, "ingest/p7/a.png")]
    stream = decide(req("POST", "/api/dm/actions", id="next_task", project=str(P)), grants)
    assert stream.body is BodyRewrite.NEXT_TASK and stream.response is ResponseFilter.NEXT_TASK
    assert decide(req("GET", f"/api/tasks/{OPEN_T}"), grants).response is ResponseFilter.TASK


def test_label_stream_with_nothing_open_is_a_404_answered_here() -> None:
    done = Grants(3, ME, {SUBMITTED_T: P}, frozenset(), {P: None})
    decision = decide(req("POST", "/api/dm/actions", id="next_task", project=str(P)), done)
    assert decision.action is Action.ANSWER and decision.status == 404


def test_task_filter_keeps_only_own_work_and_approved_predictions(grants: Grants) -> None:
    task = {
        "id": OPEN_T,
        "data": {"image": "/data/local-files/?d=a.png"},
        "annotations": [
            {"id": 1, "completed_by": ME, "result": []},
            {"id": 2, "completed_by": {"id": SOMEONE, "email": "b@x"}, "result": [{"v": 1}]},
        ],
        "drafts": [{"id": 5, "user": str(SOMEONE)}, {"id": 6, "user": ME}],
        "predictions": [
            {"model_version": "chexpert@1", "result": []},
            {"model_version": "client-x", "result": []},
        ],
        "annotators": [ME, SOMEONE],
        "updated_by": [{"user_id": SOMEONE}],
        "total_annotations": 2,
    }
    shown = filters.task_for(task, grants, P)
    assert [a["id"] for a in shown["annotations"]] == [1] and shown["total_annotations"] == 1
    assert [d["id"] for d in shown["drafts"]] == [6]
    assert [p["model_version"] for p in shown["predictions"]] == ["chexpert@1"]
    assert "annotators" not in shown and "updated_by" not in shown
    assert shown["data"] == task["data"]


def test_writes_lose_every_authorship_field() -> None:
    body = {"result": [], "completed_by": SOMEONE, "ground_truth": True, "lead_time": 3.2}
    assert filters.authored_by_gateway(body) == {"result": [], "lead_time": 3.2}


def test_next_task_is_pinned_to_open_tasks_and_loses_filters() -> None:
    body = {"filters": {"items": [1]}, "selectedItems": {"all": True, "excluded": []}, "ordering": ["x"]}
    pinned = filters.next_task_request(body, [OPEN_T])
    assert pinned == {"selectedItems": {"all": False, "included": [OPEN_T]}, "ordering": ["x"]}


def test_other_physicians_tabs_are_hidden() -> None:
    views = [
        {"id": 1, "data": {"title": "Default"}},
        {"id": 2, "data": {"title": "medlabel worklist #3 Kim"}},
        {"id": 3, "data": {"title": "medlabel worklist #33 Lee"}},
    ]
    assert [v["id"] for v in filters.views_for(views, 3, "medlabel worklist #")] == [1, 2]


def test_media_paths_are_read_from_relative_and_absolute_urls() -> None:
    data = {
        "image": "/data/local-files/?d=ingest/p1/a%20b.png",
        "series": ["http://ls:8080/data/local-files/?d=ingest/p1/c.png", "plain text"],
        "meta": {"csv": "/data/local-files/?d=ecg/1.csv&x=1"},
    }
    assert media_paths(data) == {"ingest/p1/a b.png", "ingest/p1/c.png", "ecg/1.csv"}
