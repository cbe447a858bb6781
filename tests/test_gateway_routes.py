"""Every route of Label Studio 1.23.2's URL map (read from its installed source), sent through the gateway
as a physician with one routed task: allowed only where the allow-list says, refused (403) everywhere else,
never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio
from sqlalchemy import Engine
from werkzeug.exceptions import MethodNotAllowed

from medlabel.app import create_app
from medlabel.db import make_sessionmaker
from medlabel.gateway.grants import load_grants
from medlabel.gateway.rules import Action, GatewayRequest, decide
from medlabel.ls_server import hardened_environment
from medlabel.models import Physician
from medlabel.settings import PROJECT_ROOT
from tests.fixtures.ls_routes import LsRoute, example_path, label_studio_routes
from tests.fixtures.platform import Platform, Reader, RoutedWorld, build_routed_world, logged_in_client

pytestmark = [pytest.mark.label_studio]

#: The routes a physician's label stream may reach: the request table of ARCHITECTURE.md, written out here
#: independently of the gateway's own rules (method, Django pattern).
ALLOWED = {
    ("GET", r"static/(?P<path>.*)$"),
    ("GET", "static/fonts/roboto/roboto.css$"),
    ("GET", r"react-app/(?P<path>.*)$"),
    ("GET", r"sw\.js$"),
    ("GET", r"favicon\.ico$"),
    ("GET", "projects/<int:pk>/data/"),  # with ?labeling=1 or ?task=<routed task> only
    ("GET", "api/current-user/whoami"),
    ("GET", "api/projects/<int:pk>/"),
    ("GET", "api/projects/<int:pk>/label-stream-history/"),
    ("GET", "api/dm/columns/"),
    ("GET", "api/dm/project/"),
    ("GET", "api/dm/views/$"),
    ("GET", "api/tasks/"),  # answered by the gateway: an empty list
    ("GET", "api/users/$"),  # answered by the gateway: the physician alone
    ("GET", "api/ml/"),  # answered by the gateway: none
    ("GET", "api/label_links/$"),  # answered by the gateway: none
    ("GET", "api/tasks/<int:pk>/"),
    ("GET", "data/local-files/"),
    ("POST", "api/tasks/<int:pk>/annotations/"),
    ("PATCH", "api/annotations/<int:pk>/"),
    ("PUT", "api/annotations/<int:pk>/"),
    ("POST", "api/tasks/<int:pk>/drafts"),
    ("POST", "api/tasks/<int:pk>/annotations/<int:annotation_id>/drafts"),
    ("PATCH", "api/drafts/<int:pk>/"),
    ("PUT", "api/drafts/<int:pk>/"),
    ("DELETE", "api/drafts/<int:pk>/"),
    ("POST", "api/dm/actions/"),  # id=next_task only, pinned to the physician's open tasks
}


@pytest.fixture(scope="module")
def routes(label_studio: Any) -> list[LsRoute]:
    env = hardened_environment(label_studio.data_dir, label_studio.media_root, label_studio.secrets_dir)
    return label_studio_routes(PROJECT_ROOT / ".ls-venv" / "bin" / "python", env)


@pytest.fixture(scope="module")
def reader_world(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RoutedWorld, Reader]:
    inputs = tmp_path_factory.mktemp("route-table-inputs")
    world = build_routed_world(
        ls_client, platform.settings, platform_db, inputs, "gateway routes", seed=102, with_accounts=1
    )
    return world, world.readers[0]


@pytest.fixture(scope="module")
def physician(platform: Platform, reader_world: tuple[RoutedWorld, Reader]) -> Iterator[httpx.Client]:
    client = logged_in_client(platform, reader_world[1].email)
    yield client
    client.close()


def _ids(route: LsRoute, world: RoutedWorld, reader: Reader) -> dict[str, int | str]:
    task = reader.tasks[0]
    pk = world.ls_project_id if "project" in route.pattern or route.view.startswith("projects.") else task
    return {"pk": pk, "id": pk, "project_id": world.ls_project_id, "task_id": task, "d": world.media[task]}


def _endpoint(adapter: Any, path: str, method: str) -> str:
    """Which of the platform's views answers; a 405 means a platform page owns the path for other methods."""
    try:
        return str(adapter.match(path, method=method)[0])
    except MethodNotAllowed:
        return "platform page, other method"


def test_every_label_studio_route_is_refused_unless_the_allow_list_names_it(
    routes: list[LsRoute],
    physician: httpx.Client,
    platform: Platform,
    platform_db: Engine,
    reader_world: tuple[RoutedWorld, Reader],
) -> None:
    world, reader = reader_world
    platform_app = create_app(platform.settings)
    adapter = platform_app.url_map.bind("localhost")
    with make_sessionmaker(platform_db)() as session:
        grants = load_grants(session, session.get(Physician, reader.physician_id))  # type: ignore[arg-type]
    passed: set[tuple[str, str]] = set()
    checked = 0
    for route in routes:
        if route.problem:  # Django sends this route's paths elsewhere: nothing to reach
            continue
        path = example_path(route, _ids(route, world, reader))
        methods = (
            [m for m in route.methods if m not in ("OPTIONS", "HEAD")]
            if route.methods_known
            else ["GET", "POST"]
        )
        for method in methods:
            endpoint = _endpoint(adapter, path, method)
            args = {"project": str(world.ls_project_id), "d": world.media[reader.tasks[0]], "id": "next_task"}
            headers = {"Origin": platform.url} if method not in ("GET", "HEAD") else {}
            answer = physician.request(
                method, path, params=args, headers=headers, json={} if headers else None
            )
            checked += 1
            assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:300])
            if endpoint != "gateway.proxy":
                continue  # a platform page has this path (e.g. /health, /api/templates): not Label Studio's
            decision = decide(GatewayRequest(method, path, args), grants)
            refused = answer.status_code == 403 and answer.json().get("error") == "forbidden"
            if decision.action is Action.DENY or not decision.checks:  # checks need Label Studio's facts
                assert refused == (decision.action is Action.DENY), (
                    method,
                    path,
                    answer.status_code,
                    answer.text[:200],
                )
            if not refused:
                passed.add((method, route.pattern))
    assert checked > 300
    assert passed <= ALLOWED, sorted(passed - ALLOWED)
    assert {
        ("GET", "api/tasks/<int:pk>/"),
        ("POST", "api/tasks/<int:pk>/annotations/"),
        ("POST", "api/dm/actions/"),
    } <= passed
