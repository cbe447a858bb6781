"""Logging in, invites, sessions, CSRF, rate limits and languages, through the real Flask app on SQLite."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import itsdangerous.timed
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select

from medlabel.accounts import operations
from medlabel.app import create_app
from medlabel.models import Account, Physician
from medlabel.settings import Settings
from medlabel.web.extensions import TRANSLATIONS_SOURCE
from tests.fixtures.web import PASSWORD, csrf_token, db, email_of, log_in


def test_worklist_needs_a_login_and_then_shows_only_ones_own_open_tasks(web_app: Flask) -> None:
    client = web_app.test_client()
    answer = client.get("/worklist")
    assert answer.status_code == 302 and answer.location.startswith("/login?next=")
    assert client.get("/api/worklist").status_code in (302, 401)
    assert log_in(client, email_of(web_app, 1)) == 302
    listed = client.get("/api/worklist").json
    assert listed["physician"]["id"] == 1
    assert [p["ls_project_id"] for p in listed["projects"]] == [77]
    assert sorted(t["ls_task_id"] for t in listed["projects"][0]["tasks"]) == [701, 702]
    assert listed["projects"][0]["url"] == "/projects/77/data?labeling=1"
    page = client.get("/worklist").get_data(as_text=True)
    assert 'href="/projects/77/data?labeling=1"' in page and "703" not in page


def test_wrong_password_and_unknown_email_get_the_same_answer(web_app: Flask) -> None:
    client = web_app.test_client()
    wrong = client.post(
        "/login",
        data={
            "email": email_of(web_app, 1),
            "password": "nope" * 4,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    unknown = client.post(
        "/login",
        data={"email": "who@x.org", "password": "nope" * 4, "csrf_token": csrf_token(client, "/login")},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert client.get("/worklist").status_code == 302


def test_forms_without_the_csrf_token_are_refused(web_app: Flask) -> None:
    client = web_app.test_client()
    answer = client.post("/login", data={"email": email_of(web_app, 1), "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/worklist").status_code == 302


def test_session_cookie_is_httponly_and_samesite_and_secure_behind_tls(
    tmp_path: Path, web_app: Flask
) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    cookie = client.get_cookie("medlabel_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    settings: Settings = web_app.extensions["medlabel_settings"]
    tls = create_app(dataclasses.replace(settings, public_url="https://label.example.org"))
    assert tls.config["SESSION_COOKIE_SECURE"] is True


def test_login_is_rate_limited_per_client(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client, "/login")
    codes = [
        client.post(
            "/login", data={"email": "x@y.org", "password": "wrong" * 3, "csrf_token": token}
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


def test_a_revoked_account_loses_its_open_session_at_the_next_request(web_app: Flask) -> None:
    client = web_app.test_client()
    log_in(client, email_of(web_app, 1))
    assert client.get("/worklist").status_code == 200
    with db(web_app) as session:
        account_id = session.scalar(select(Account.id).where(Account.physician_id == 1))
        operations.revoke(session, account_id)  # type: ignore[arg-type]
    answer = client.get("/worklist")
    assert answer.status_code == 302 and "/login" in answer.location
    assert log_in(client, email_of(web_app, 1)) == 401


def test_an_expired_session_goes_back_to_the_login_page(
    web_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = web_app.test_client()
    past = time.time() - 13 * 3600  # sessions last 12 h
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: past)
    log_in(client, email_of(web_app, 1))
    monkeypatch.undo()
    answer = client.get("/worklist")
    assert answer.status_code == 302 and answer.location.startswith("/login")


def test_after_login_only_same_site_paths_are_followed(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client, "/login")
    data = {"email": email_of(web_app, 1), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login?next=//evil.example/x", data=data).location == "/worklist"
    client = web_app.test_client()
    data["csrf_token"] = csrf_token(client, "/login")
    assert (
        client.post("/login?next=/projects/77/data?labeling=1", data=data).location
        == "/projects/77/data?labeling=1"
    )


def test_invite_sets_a_password_once_and_logs_in(web_app: Flask) -> None:
    settings: Settings = web_app.extensions["medlabel_settings"]
    with db(web_app) as session:
        issued = operations.create_staff_account(
            session, settings, "Client@Example.org", operations.Role.CLIENT
        )
    path = issued.url.removeprefix(settings.public_url)
    assert path.startswith("/invite/") and issued.email == "client@example.org"
    client = web_app.test_client()
    token = csrf_token(client, path)
    weak = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert weak.status_code == 400
    good = "correct horse battery staple"
    done = client.post(path, data={"password": good, "confirm": good, "csrf_token": token})
    assert done.status_code == 302
    with db(web_app) as session:
        account = session.scalar(select(Account).where(Account.email == "client@example.org"))
        assert account is not None and (account.password_hash or "").startswith("$argon2id$")
    assert web_app.test_client().get(path).status_code == 410  # used up
    assert log_in(web_app.test_client(), "client@example.org", good) == 302


def test_an_expired_or_replaced_invite_is_refused(web_app: Flask) -> None:
    settings: Settings = web_app.extensions["medlabel_settings"]
    with db(web_app) as session:
        first = operations.create_staff_account(session, settings, "pm2@example.org", operations.Role.MANAGER)
        second = operations.create_staff_account(
            session, settings, "pm2@example.org", operations.Role.MANAGER
        )
    client = web_app.test_client()
    assert client.get(first.url.removeprefix(settings.public_url)).status_code == 410
    assert client.get(second.url.removeprefix(settings.public_url)).status_code == 200
    expired_app = create_app(dataclasses.replace(settings, invite_hours=1))
    with db(web_app) as session:
        late = operations.invite(
            session,
            dataclasses.replace(settings, invite_hours=1),
            session.scalar(select(Account).where(Account.email == "pm2@example.org")),
        )  # type: ignore[arg-type]
        invite = operations.pending_invite(session, late.url.rsplit("/", 1)[1])
        invite.expires_at = invite.created_at
        session.commit()
    assert expired_app.test_client().get(late.url.removeprefix(settings.public_url)).status_code == 410


def test_a_physician_invite_leaves_the_link_usable_when_label_studio_is_down(web_app: Flask) -> None:
    settings: Settings = web_app.extensions["medlabel_settings"]
    with db(web_app) as session:
        issued = operations.invite_physician(session, settings, 5)  # no LS user yet; LS is down
    path = issued.url.removeprefix(settings.public_url)
    client = web_app.test_client()
    good = "correct horse battery staple"
    answer = client.post(
        path, data={"password": good, "confirm": good, "csrf_token": csrf_token(client, path)}
    )
    assert answer.status_code == 502
    with db(web_app) as session:
        account = session.scalar(select(Account).where(Account.physician_id == 5))
        physician = session.get(Physician, 5)
        assert account is not None and account.password_hash is None
        assert physician is not None and physician.ls_user_id is None
    assert client.get(path).status_code == 200  # still usable


def test_pages_speak_korean_by_default_and_english_on_request(web_app: Flask) -> None:
    client = web_app.test_client()
    assert "로그인" in client.get("/login").get_data(as_text=True)
    assert "Log in" in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    log_in(client, email_of(web_app, 1))
    assert "작업 목록" in client.get("/worklist").get_data(
        as_text=True
    )  # the pool's accounts start in Korean
    client.post(
        "/language",
        data={"language": "en", "next": "/worklist", "csrf_token": csrf_token(client, "/worklist")},
    )
    assert "Worklist of" in client.get("/worklist").get_data(as_text=True)
    with db(web_app) as session:
        assert session.scalar(select(Account.language).where(Account.physician_id == 1)) == "en"


def test_every_message_of_the_pages_has_a_korean_translation() -> None:
    source = Path(TRANSLATIONS_SOURCE).parent
    method_map = [("**.py", "python"), ("web/pages/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    extracted = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            source, method_map, keywords=keywords
        )
    }
    with (TRANSLATIONS_SOURCE / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    assert extracted and not (extracted - translated)
