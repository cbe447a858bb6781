"""Physicians reach exactly their routed tasks: invite → password → worklist → Label Studio's own editor
through the gateway → submit, in Debian's chromium against the live Label Studio and the platform's gunicorn;
then everything else refused, in the browser and by direct request, and blind reads between two readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from label_studio_sdk import LabelStudio
from sqlalchemy import Engine

from medlabel.accounts import operations
from medlabel.db import make_sessionmaker
from medlabel.models import Physician, ProjectRecord
from medlabel.projects import create_project
from tests.fixtures.platform import PASSWORD, Platform, Reader, RoutedWorld, build_routed_world

pytestmark = [pytest.mark.label_studio, pytest.mark.browser]
NEW_PASSWORD = "my own long password"


@pytest.fixture(scope="module")
def world(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> RoutedWorld:
    inputs = tmp_path_factory.mktemp("gateway-inputs")
    return build_routed_world(
        ls_client, platform.settings, platform_db, inputs, "gateway live", seed=101, with_accounts=0
    )


@pytest.fixture(scope="module")
def other_project(ls_client: LabelStudio, platform: Platform, platform_db: Engine) -> int:
    with make_sessionmaker(platform_db)() as session:
        return create_project(
            ls_client,
            platform.settings,
            "chest_xray_chexpert",
            "gateway other",
            with_sample_task=True,
            session=session,
        ).id


def _context(browser: Any, platform: Platform) -> Any:
    return browser.new_context(viewport={"width": 1400, "height": 900}, locale="ko-KR", base_url=platform.url)


def _log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/worklist")


def _ls_user(platform_db: Engine, physician_id: int) -> int:
    with make_sessionmaker(platform_db)() as session:
        physician = session.get(Physician, physician_id)
        assert physician is not None and physician.ls_user_id is not None
        return physician.ls_user_id


@pytest.fixture(scope="module")
def first_read(
    browser: Any, platform: Platform, platform_db: Engine, world: RoutedWorld, screenshot_dir: Path
) -> dict[str, Any]:
    """The first reader is invited, sets a password, opens their worklist and submits a read in the editor."""
    reader = next(
        r for r in world.readers if len(r.tasks) < len(world.media)
    )  # someone with an unrouted task
    with make_sessionmaker(platform_db)() as session:
        invite = operations.invite_physician(session, platform.settings, reader.physician_id)
    context = _context(browser, platform)
    page = context.new_page()
    page.goto(invite.url)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=confirm]", NEW_PASSWORD)
    page.click("#invite-form button[type=submit]")
    page.wait_for_url("**/worklist")
    assert page.locator("tr[data-project] .count").first.inner_text() == str(len(reader.tasks))
    page.screenshot(path=str(screenshot_dir / "gateway-worklist.png"))
    page.click("a.open-project")
    submit = page.get_by_test_id("bottombar-submit-button")
    submit.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].some(i => i.naturalWidth > 0 && i.src.startsWith('blob:') || i.src.includes('local-files'))",
        timeout=30_000,
    )
    page.keyboard.press("Escape")  # the project's instructions open first
    page.get_by_text("Labeling Instructions").wait_for(state="hidden")
    page.screenshot(path=str(screenshot_dir / "gateway-editor.png"))
    page.get_by_text("No Finding").first.click()
    with page.expect_response(lambda r: r.request.method == "POST" and "/annotations" in r.url) as posted:
        submit.click()
    answer = posted.value
    assert answer.status == 201, answer.text()
    annotation = answer.json()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshot_dir / "gateway-after-submit.png"))
    return {
        "reader": reader,
        "context": context,
        "page": page,
        "annotation": annotation,
        "task": int(annotation["task"]),
    }


def test_an_invited_physician_labels_their_routed_task_as_their_own_label_studio_user(
    first_read: dict[str, Any], ls_client: LabelStudio, platform_db: Engine, world: RoutedWorld
) -> None:
    reader: Reader = first_read["reader"]
    task = first_read["task"]
    assert task in reader.tasks
    stored = ls_client.annotations.get(id=first_read["annotation"]["id"])
    assert stored.completed_by == _ls_user(platform_db, reader.physician_id)
    assert stored.result and stored.result[0]["value"]["choices"] == ["No Finding"]


def test_the_physician_cannot_reach_anything_else(
    first_read: dict[str, Any],
    world: RoutedWorld,
    other_project: int,
    platform: Platform,
    screenshot_dir: Path,
) -> None:
    reader: Reader = first_read["reader"]
    page, request = first_read["page"], first_read["context"].request
    p = world.ls_project_id
    unrouted = world.task_not_routed_to(reader)
    attempts = {
        "unrouted task": (f"/projects/{p}/data?task={unrouted}", f"/api/tasks/{unrouted}?project={p}"),
        "another project": (f"/projects/{other_project}/data?labeling=1", f"/api/projects/{other_project}"),
        "project list": ("/projects/", "/api/projects"),
        "export": (f"/api/projects/{p}/export?exportType=JSON", f"/api/projects/{p}/exports"),
        "users list": ("/people/", "/api/users/"),
        "invite link": ("/organization/", "/api/invite"),
        "other task's media": (
            f"/data/local-files/?d={world.media[unrouted]}",
            f"/data/local-files/?d={world.media[unrouted]}",
        ),
    }
    for name, (in_browser, direct) in attempts.items():
        shown = page.goto(in_browser)
        assert shown is not None and shown.status == 403, (name, in_browser, shown and shown.status)
        if in_browser.startswith("/projects/") or in_browser in ("/people/", "/organization/"):
            assert page.locator("#gateway-error").is_visible(), name
        answer = request.get(direct, headers={"Accept": "application/json"})
        if name == "users list":  # answered, but with nobody else in it
            assert answer.status == 200 and [u["email"] for u in answer.json()] == [reader.email.lower()]
        else:
            assert answer.status == 403, (name, direct, answer.status)
            assert answer.json()["error"] == "forbidden"
    page.goto(f"/projects/{p}/data?task={unrouted}")
    page.screenshot(path=str(screenshot_dir / "gateway-refused.png"))
    action = request.post(
        f"/api/dm/actions?id=delete_tasks&project={p}",
        data={"selectedItems": {"all": True}},
        headers={"Origin": platform.url},
    )
    assert action.status == 403
    own_media = request.get(f"/data/local-files/?d={world.media[first_read['task']]}")
    assert own_media.status == 200 and own_media.headers["content-type"] == "image/png"
    log = platform.log_text()
    for path in (
        "/api/invite",
        f"/api/projects/{other_project}",
        f"/api/tasks/{unrouted}",
        "/api/projects/",
        "/data/local-files/",
    ):
        assert f"gateway refused physician {reader.physician_id}: GET {path}" in log, path
    assert "set-cookie" not in {k.lower() for k in own_media.headers}


def test_a_second_reader_of_the_same_task_does_not_see_the_first_read(
    first_read: dict[str, Any],
    browser: Any,
    ls_client: LabelStudio,
    platform: Platform,
    platform_db: Engine,
    world: RoutedWorld,
    screenshot_dir: Path,
) -> None:
    task = first_read["task"]
    second = next(r for r in world.readers if task in r.tasks and r is not first_read["reader"])
    with make_sessionmaker(platform_db)() as session:
        account = operations.account_for_physician(session, session.get(Physician, second.physician_id))  # type: ignore[arg-type]
        operations.set_password(session, platform.settings, account, PASSWORD)
    assert len(ls_client.annotations.list(id=task)) == 1  # Label Studio has the first read
    context = _context(browser, platform)
    page = context.new_page()
    _log_in(page, second.email)
    seen: list[dict[str, Any]] = []
    page.on("response", lambda r: seen.append(r.json()) if "next_task" in r.url and r.status == 200 else None)
    page.click("a.open-project")
    page.get_by_test_id("bottombar-submit-button").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "gateway-second-reader.png"))
    assert seen and all(t["annotations"] == [] for t in seen)
    direct = context.request.get(f"/api/tasks/{task}?project={world.ls_project_id}").json()
    assert direct["annotations"] == [] and direct["total_annotations"] == 0
    assert "annotators" not in direct and json.dumps(first_read["annotation"]["result"]) not in json.dumps(
        direct
    )
    context.close()


def test_predictions_of_unapproved_models_are_not_shown(
    first_read: dict[str, Any], ls_client: LabelStudio, platform_db: Engine, world: RoutedWorld
) -> None:
    task = first_read["task"]
    result = [
        {"from_name": "findings", "to_name": "image", "type": "choices", "value": {"choices": ["Edema"]}}
    ]
    ls_client.predictions.create(task=task, result=result, model_version="client-model-v1", score=0.5)
    request = first_read["context"].request
    url = f"/api/tasks/{task}?project={world.ls_project_id}"
    assert [p["model_version"] for p in request.get(url).json()["predictions"]] == ["client-model-v1"]
    with make_sessionmaker(platform_db)() as session:
        record = session.query(ProjectRecord).filter_by(ls_project_id=world.ls_project_id).one()
        record.shown_models = ["chexpert"]
        session.commit()
    assert request.get(url).json()["predictions"] == []
