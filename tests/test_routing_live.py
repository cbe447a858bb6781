"""Routing end to end on a live Label Studio: project from a template, tasks, pool, routing, worklists behind
the platform login (API and page in chromium), Data Manager tabs, and TASKS_CREATED webhooks routing new
tasks."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from rich.cells import cell_len
from sqlalchemy import Engine
from werkzeug.serving import make_server

from medlabel.accounts.passwords import hash_password
from medlabel.app import create_app
from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.models import Account, Role
from medlabel.projects import create_project, register_webhook
from medlabel.routing.demo import demo_pool_rows, seed_demo_routing
from medlabel.routing.generator import INSTITUTIONS, to_csv
from medlabel.routing.label_studio import open_tasks_by_physician
from medlabel.routing.operations import route_project_tasks
from medlabel.routing.policy import project_by_ls_id
from medlabel.routing.pool import import_pool_csv, list_physicians
from medlabel.settings import Settings
from tests.fixtures.label_studio import free_port
from tests.fixtures.web import PASSWORD, make_settings

pytestmark = pytest.mark.label_studio
TEMPLATE = "radiology_report_classification"


@pytest.fixture(scope="module")
def settings(ls_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The live Label Studio with a platform DB of this module's own: its pools are the only ones there."""
    folder = tmp_path_factory.mktemp("routing-db")
    web = make_settings(folder)
    return dataclasses.replace(
        ls_settings,
        webhook_secret="live-webhook-secret",
        database_url=f"sqlite:///{folder / 'platform.db'}",
        secret_key=web.secret_key,
        gateway_keys=web.gateway_keys,
    )


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def platform_url(settings: Settings) -> Iterator[str]:
    """The platform web app served for real (the browser and Label Studio's webhooks reach it)."""
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def task_ids_in_view(client: LabelStudio, ls_project_id: int, view_id: int) -> set[int]:
    return {int(t.id) for t in client.tasks.list(project=ls_project_id, view=view_id, page_size=500)}


def report_tasks(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "data": {"text": f"CT chest: {i} mm nodule in the right upper lobe."},
            "meta": {
                "source_institution": INSTITUTIONS[(i + offset) % 4],
                "content_key": f"report-{i + offset}",
            },
        }
        for i in range(n)
    ]


def test_routing_reaches_each_physician_through_worklists_and_data_manager_tabs(
    ls_client: LabelStudio,
    settings: Settings,
    engine: Engine,
    platform_url: str,
    ls_page: Any,
    unique_title: str,
) -> None:
    with make_sessionmaker(engine)() as session:
        created = create_project(ls_client, settings, TEMPLATE, unique_title, session=session)
        ls_client.projects.import_tasks(id=created.id, request=report_tasks(14))
        project = project_by_ls_id(session, created.id)

        report = import_pool_csv(session, to_csv(demo_pool_rows("radiology", None, size=12, seed=21)))
        assert report.errors == [] and report.created == 12
        physicians = list_physicians(session)
        assert all(p.ls_user_id is None for p in physicians)  # nobody has a Label Studio user before joining

        arrival = route_project_tasks(session, lambda: ls_client, settings, project)
        assert arrival.registered == 14 and arrival.publish_error is None
        assert arrival.route.assigned == 14 * 3 and arrival.route.shortfalls == {}
        views = arrival.views
        open_tasks = open_tasks_by_physician(session, project)
        assert set(views) == set(open_tasks) and len(views) >= 3
        emails = {p.id: p.email for p in physicians}
        for physician_id in views:
            session.add(
                Account(
                    email=emails[physician_id],
                    role=Role.PHYSICIAN.value,
                    physician_id=physician_id,
                    password_hash=hash_password(PASSWORD),
                )
            )
        session.commit()

    import httpx

    for physician_id, view_id in views.items():
        expected = set(open_tasks[physician_id])
        assert task_ids_in_view(ls_client, created.id, view_id) == expected
        with httpx.Client(base_url=platform_url) as client:
            form = client.get("/login").text
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
            assert token is not None
            login = {"email": emails[physician_id], "password": PASSWORD, "csrf_token": token[1]}
            assert client.post("/login", data=login).status_code == 302
            listed = client.get("/api/worklist").json()["projects"]
        assert [p["ls_project_id"] for p in listed] == [created.id]
        assert {t["ls_task_id"] for t in listed[0]["tasks"]} == expected

    context = ls_page.context
    for physician_id in sorted(views)[:2]:
        page = context.new_page()
        page.goto(f"{platform_url}/worklist")
        assert "/login" in page.url  # the worklist is behind the login
        page.fill("input[name=email]", emails[physician_id])
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/worklist")
        row = page.locator(f"#worklist tr[data-project='{created.id}']")
        assert row.locator(".count").inner_text() == str(len(open_tasks[physician_id]))
        assert (
            row.locator("a.open-project").get_attribute("href") == f"/projects/{created.id}/data?labeling=1"
        )
        page.click("#logout")
        page.wait_for_url("**/login")
        page.close()


def test_tasks_created_webhook_routes_new_tasks_and_updates_tabs(
    ls_client: LabelStudio, settings: Settings, engine: Engine, platform_url: str, unique_title: str
) -> None:
    with make_sessionmaker(engine)() as session:
        created = create_project(ls_client, settings, TEMPLATE, unique_title, session=session)
        project = project_by_ls_id(session, created.id)
        import_pool_csv(session, to_csv(demo_pool_rows("radiology", None, size=12, seed=21)))
        hooked = dataclasses.replace(settings, webhook_url=platform_url)
        assert register_webhook(ls_client, hooked, created.id) == register_webhook(
            ls_client, hooked, created.id
        )

    ls_client.projects.import_tasks(id=created.id, request=report_tasks(5, offset=100))
    ls_ids = {int(t.id) for t in ls_client.tasks.list(project=created.id)}
    assert len(ls_ids) == 5
    deadline = time.monotonic() + 20
    with make_sessionmaker(engine)() as session:
        project = project_by_ls_id(session, created.id)
        while True:  # routed once the webhook has answered
            session.rollback()
            open_tasks = open_tasks_by_physician(session, project)
            routed = sorted(t for ids in open_tasks.values() for t in ids)
            if routed == sorted(list(ls_ids) * 3) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert routed == sorted(list(ls_ids) * 3)
        while True:  # tabs are written after the webhook answered
            tabs = {
                int(str(v.data["title"]).split("#")[1].split()[0]): int(v.id)
                for v in ls_client.views.list(project=created.id)
                if isinstance(v.data, dict) and str(v.data.get("title", "")).startswith("medlabel worklist #")
            }
            if set(tabs) == set(open_tasks) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert set(tabs) == set(open_tasks)
        for physician_id, view_id in tabs.items():
            assert task_ids_in_view(ls_client, created.id, view_id) == set(open_tasks[physician_id])


def test_demo_seeding_routes_the_demo_project(
    ls_client: LabelStudio, settings: Settings, engine: Engine, unique_title: str
) -> None:
    with make_sessionmaker(engine)() as session:
        created = create_project(
            ls_client, settings, "chest_xray_chexpert", unique_title, with_sample_task=True, session=session
        )
        first = seed_demo_routing(session, ls_client, settings, created.id)
        again = seed_demo_routing(session, ls_client, settings, created.id)
        project = project_by_ls_id(session, created.id)
        open_tasks = open_tasks_by_physician(session, project)
    assert first.report.assigned == 3 and again.report.assigned == 0
    assert set(first.views) == set(open_tasks) == set(again.views)
    for view_id in again.views.values():
        assert task_ids_in_view(ls_client, created.id, view_id) == {created.sample_task_id}


def test_pool_and_route_commands(
    monkeypatch: pytest.MonkeyPatch,
    ls_client: LabelStudio,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    unique_title: str,
) -> None:
    from medlabel import cli
    from medlabel.routing import cli as routing_cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(routing_cli, "get_settings", lambda: settings)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)

    rows = demo_pool_rows("radiology", None, size=10, seed=33)
    rows[0]["name"] = "김민준"  # two terminal columns per syllable
    good = to_csv(rows)
    bad_row = "KMA-9-1,Han Jiwoo,han@example.org,specialist,radiology,dermatology,,ko,Severance Hospital,20\n"
    csv_file = tmp_path / "physicians.csv"
    csv_file.write_text(good + bad_row, encoding="utf-8")
    first = run("pool", "import", str(csv_file))
    assert first.exit_code == 2
    assert (
        "physicians.csv: row 12, board_certified: 'dermatology' is not among the row's specialties"
        in first.output
    )
    assert "pool import: 10 created, 0 updated, 0 unchanged, 1 rows with errors" in first.output
    csv_file.write_text(good, encoding="utf-8")
    again = run("pool", "import", str(csv_file))
    assert again.exit_code == 0 and "0 created, 0 updated, 10 unchanged" in again.output

    listed = run("pool", "list", "--specialty", "radiology")
    assert listed.exit_code == 0 and "radiology*" in listed.output and "김민준" in listed.output
    rows_shown = [line for line in listed.output.splitlines() if "radiology" in line]
    tier_columns = {
        cell_len(line[: re.search(r" (specialist|resident|labeler) ", line).start()]) for line in rows_shown
    }
    assert len(rows_shown) >= 10 and len(tier_columns) == 1, listed.output  # lined up on the display
    assert run("pool", "list", "--specialty", "astrology").exit_code == 2

    with make_sessionmaker(engine)() as session:
        created = create_project(ls_client, settings, TEMPLATE, unique_title, session=session)
    ls_client.projects.import_tasks(id=created.id, request=report_tasks(6, offset=500))
    bad_policy = run("route", "policy", "--project", str(created.id), "--min-tier", "labeler")
    assert bad_policy.exit_code == 2 and "below the template's minimum resident" in bad_policy.output
    policy = run("route", "policy", "--project", str(created.id), "--reads", "2", "--client", "Acme AI")
    assert policy.exit_code == 0 and "Acme AI" in policy.output
    assert ls_client.projects.get(id=created.id).maximum_annotations == 2

    routed = run("route", "--project", str(created.id))
    assert routed.exit_code == 0, routed.output
    assert (
        f"project {created.id}: 6 new tasks" in routed.output
        and "12 reads assigned on 6 tasks" in routed.output
    )
    task_id = min(int(t.id) for t in ls_client.tasks.list(project=created.id))
    explained = run("route", "explain", str(task_id))
    assert explained.exit_code == 0
    chosen = [line.split()[0] for line in explained.output.splitlines() if " assigned " in line]
    assert len(chosen) == 2
    assert "physicians: wrong_specialty" in explained.output or "physicians: tier_too_low" in explained.output

    paused = run("pool", "pause", chosen[0])
    assert paused.exit_code == 0 and f"physician {chosen[0]} paused" in paused.output
    after = run("route", "explain", str(task_id))
    assert f"{chosen[0]:>5}" in after.output and "read_before" in after.output
    shown = run("pool", "show", chosen[0])
    assert "paused" in shown.output and "rerouted" in shown.output
    assert run("pool", "resume", chosen[0]).exit_code == 0
    assert run("pool", "show", "999999").exit_code == 2
