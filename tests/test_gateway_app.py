"""The gateway's refusals and faults through the real Flask app: no session, wrong role, paused physician,
cross-origin writes, and Label Studio down (a closed port: a real fault, not a mock)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from medlabel.models import Physician
from tests.fixtures.web import db, email_of, log_in

JSON = {"Accept": "application/json"}
PAGE = {"Accept": "text/html,application/xhtml+xml"}
SAME_ORIGIN = {"Origin": "http://localhost"}


def test_without_a_session_pages_go_to_login_and_api_calls_get_401(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/projects/77/data?labeling=1", headers=PAGE)
    assert page.status_code == 302 and page.location.startswith("/login?next=/projects/77/data")
    api = client.get("/api/tasks/701", headers=JSON)
    assert api.status_code == 401 and api.json["error"] == "unauthorized"


def test_only_physicians_pass_the_gateway(web_app: Flask) -> None:
    client = web_app.test_client()
    log_in(client, "pm@example.org")
    answer = client.get("/api/tasks/701", headers=JSON)
    assert answer.status_code == 403 and "for physicians" in answer.json["detail"]


def test_refusals_are_logged_with_physician_method_and_path(
    web_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    with caplog.at_level(logging.WARNING, logger="medlabel.gateway.blueprint"):
        answer = client.get("/api/tasks/703?secret=1", headers=JSON)
        page = client.get("/api/invite", headers=PAGE)
    assert answer.status_code == 403 and answer.json["detail"] == "task 703 is not routed to you"
    assert page.status_code == 403 and "gateway-error" in page.get_data(as_text=True)
    assert "refused physician 1: GET /api/tasks/703 (task 703 is not routed to you)" in caplog.text
    assert "refused physician 1: GET /api/invite" in caplog.text
    assert "secret=1" not in caplog.text


def test_a_paused_physician_loses_access_at_the_next_request(web_app: Flask) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    assert client.get("/api/tasks/703", headers=JSON).status_code == 403  # refused by the allow-list first
    with db(web_app) as session:
        physician = session.get(Physician, 1)
        assert physician is not None
        physician.active = False
        session.commit()
    answer = client.get("/api/tasks/701", headers=JSON)
    assert answer.status_code == 403 and "paused" in answer.json["detail"]
    assert 'id="paused"' in client.get("/worklist").get_data(as_text=True)


def test_writes_from_another_origin_are_refused(web_app: Flask) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    for headers in ({"Origin": "https://evil.example"}, {}, {"Referer": "https://evil.example/page"}):
        answer = client.post(
            "/api/tasks/701/annotations?project=77", json={"result": []}, headers={**JSON, **headers}
        )
        assert answer.status_code == 403 and answer.json["detail"] == "cross-origin write"


def test_label_studio_down_is_a_502_with_a_clear_page(
    web_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    api = client.get("/api/tasks/701?project=77", headers=JSON)
    assert api.status_code == 502 and api.json["error"] == "bad_gateway"
    page = client.get("/projects/77/data?labeling=1", headers=PAGE)
    assert page.status_code == 502 and "Label Studio" in page.get_data(as_text=True)
    write = client.post(
        "/api/tasks/701/annotations?project=77", json={"result": []}, headers={**JSON, **SAME_ORIGIN}
    )
    assert write.status_code == 502


def test_synthetic_answers_need_no_label_studio(web_app: Flask) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    users = client.get("/api/users?project=77", headers=JSON)
    assert users.status_code == 200 and [u["id"] for u in users.json] == [901]
    assert users.json[0]["email"] == email_of(web_app, 1)
    tasks = client.get("/api/tasks?project=77&page=1", headers=JSON)
    assert tasks.status_code == 200 and tasks.json["tasks"] == []
