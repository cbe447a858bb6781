"""The ML backend's hardening: basic auth on every route but /health, a /health that tells nothing about the
file system, a request size limit, threads so /health answers during a long /predict, a refusal to start
without credentials, and no learning from physicians a task is not routed to."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from sqlalchemy import select

from config_templates import get_template
from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.errors import ConfigError
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import AssignmentState
from medlabel.projects import create_project
from medlabel.routing.service import TaskInfo, register_tasks
from medlabel.settings import PROJECT_ROOT, Settings, get_settings
from medlabel.stack import ml_credentials, start_ml_backend
from medlabel.synthetic import synthetic_note
from ml_backend import WSGI_APP
from ml_backend.api import create_ml_app
from tests.fixtures.label_studio import free_port, project_count
from tests.fixtures.ml_backend import ML_AUTH, ml_backend_env, ml_test_client, running_ml_backend
from tests.fixtures.ml_media import annotation, modality_config, tasks_for
from tests.fixtures.modality_images import modality_images

NER = get_template("clinical_ner_relations").render().xml
ROUTES = ("/setup", "/predict", "/train", "/webhook")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The backend under gunicorn as the stack runs it (no Label Studio needed: NER tasks carry their text)."""
    folder = tmp_path_factory.mktemp("ml-auth")
    settings = Settings(database_url=f"sqlite:///{folder / 'platform.db'}")
    with running_ml_backend(settings, folder) as url:
        yield url, folder


# ------------------------------------------------------------------ basic auth, /health


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "auth",
    [None, (ML_AUTH[0], "wrong-password"), ("someone", ML_AUTH[1])],
    ids=["no-credentials", "wrong-password", "wrong-user"],
)
def test_every_route_but_health_refuses_missing_or_wrong_credentials(
    backend: tuple[str, Path], route: str, auth: tuple[str, str] | None
) -> None:
    url, _ = backend
    response = requests.post(f"{url}{route}", json={"project": "1.1", "schema": NER}, auth=auth, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="medlabel-ml"'
    assert response.json()["error"] == "unauthorized" and response.json()["detail"]


def test_unknown_routes_are_refused_too(backend: tuple[str, Path]) -> None:
    url, _ = backend
    assert requests.get(f"{url}/versions", timeout=10).status_code == 401
    assert requests.get(f"{url}/versions", auth=ML_AUTH, timeout=10).status_code == 404


def test_health_is_open_and_tells_nothing_about_the_file_system(backend: tuple[str, Path]) -> None:
    url, folder = backend
    setup = requests.post(f"{url}/setup", json={"project": "41.1", "schema": NER}, auth=ML_AUTH, timeout=30)
    assert setup.status_code == 200 and setup.json()["model_version"] == "entities@clinical_ner.0"
    for path in ("/health", "/"):
        response = requests.get(f"{url}{path}", timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "UP" and "model_dir" not in body
        assert str(folder) not in response.text and str(Path.home()) not in response.text
        # what Label Studio and managers use stays: each project's model kinds and versions
        [model] = [m for m in body["models"] if m["project"] == 41]
        assert model["kind"] == "clinical_ner" and int(model["version"]) == 0


# ------------------------------------------------------------------ concurrency


def test_health_keeps_answering_while_a_long_predict_runs(backend: tuple[str, Path]) -> None:
    url, _ = backend
    # 400 long notes (three discharge summaries each): the /predict lasts seconds, long enough for /health to
    # find the GIL free between tasks even on a loaded machine
    tasks = [
        {"id": i, "data": {"text": "\n\n".join(synthetic_note(i + k).text for k in range(3))}}
        for i in range(400)
    ]
    body = {"tasks": tasks, "project": "42.1", "label_config": NER, "params": {}}
    requests.post(f"{url}/setup", json={"project": "42.1", "schema": NER}, auth=ML_AUTH, timeout=30)
    requests.get(f"{url}/health", timeout=10)  # warm: /health describes the project's models once loaded
    done: dict[str, Any] = {}

    def predict() -> None:
        response = requests.post(f"{url}/predict", json=body, auth=ML_AUTH, timeout=300)
        done["at"], done["response"] = time.perf_counter(), response

    thread = threading.Thread(target=predict)
    thread.start()
    time.sleep(0.1)  # the /predict request is in the worker
    samples: list[tuple[float, float]] = []  # (latency, finished at)
    while thread.is_alive():
        started = time.perf_counter()
        assert requests.get(f"{url}/health", timeout=10).status_code == 200
        samples.append((time.perf_counter() - started, time.perf_counter()))
        time.sleep(0.02)
    thread.join()
    assert done["response"].status_code == 200 and len(done["response"].json()["results"]) == 400
    # calls answered while /predict still ran: with one sync worker there are none (each waits for /predict).
    # A call that arrives while the predict thread holds the GIL inside C code can still wait ~0.2 s (README).
    during = [latency for latency, finished in samples if finished < done["at"]]
    print(
        f"/health during a 400-task /predict: {len(during)} calls, max {max(during, default=0) * 1000:.0f} ms"
    )
    # Functional, not timed (latency targets live in bench/): /health is answered while /predict still runs;
    # with one sync worker it would wait for the whole /predict. Measured: 20 ms to 0.7 s per call, since the
    # predict thread holds the GIL inside C code (one process; see the closing note of issue 10).
    assert during, "/health was not answered while /predict ran"


# ------------------------------------------------------------------ size limit, fail closed


def test_an_oversized_body_gets_413_with_a_json_message(tmp_path: Path) -> None:
    client = ml_test_client(Settings(model_dir=tmp_path, ml_max_request_bytes=4096))
    small = client.post("/setup", json={"project": "43.1", "schema": NER})
    assert small.status_code == 200
    big = client.post(
        "/predict", json={"tasks": [{"id": 1, "data": {"text": "x" * 5000}}], "project": "43.1"}
    )
    assert big.status_code == 413
    assert big.get_json() == {
        "error": "request_too_large",
        "detail": "request body over 4096 bytes (MEDLABEL_ML_MAX_REQUEST_BYTES)",
    }


def test_the_size_limit_and_credentials_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "MEDLABEL_STATE_DIR": str(tmp_path),
        "BASIC_AUTH_PASS": "s3cret-value",
        "MEDLABEL_ML_MAX_REQUEST_BYTES": "1000",
    }
    settings = Settings.from_env(env)
    assert settings.ml_basic_auth() == ("medlabel", "s3cret-value") and settings.ml_max_request_bytes == 1000
    assert "s3cret-value" not in repr(settings)
    with pytest.raises(ConfigError, match="MEDLABEL_ML_MAX_REQUEST_BYTES"):
        Settings.from_env({**env, "MEDLABEL_ML_MAX_REQUEST_BYTES": "32MB"})
    with pytest.raises(ConfigError, match="BASIC_AUTH_USER"):
        Settings.from_env({**env, "BASIC_AUTH_USER": "a:b"})


def test_compose_runs_the_threaded_backend_with_credentials_from_the_environment() -> None:
    compose_file = PROJECT_ROOT / "docker-compose.yml"
    service = yaml.safe_load(compose_file.read_text())["services"]["ml-backend"]
    command = service["command"]
    assert command[-1] == WSGI_APP and command[command.index("--worker-class") + 1] == "gthread"
    assert int(command[command.index("--threads") + 1]) > 1
    assert service["environment"]["BASIC_AUTH_PASS"] == "${BASIC_AUTH_PASS:?set BASIC_AUTH_PASS}"


def test_the_local_stack_generates_the_password_once_where_medlabel_commands_find_it(tmp_path: Path) -> None:
    user, password = ml_credentials(Settings(state_dir=tmp_path))
    stored = tmp_path / "secrets" / "ml_basic_auth_pass"
    assert stored.read_text() == password and stored.stat().st_mode & 0o777 == 0o600 and len(password) >= 32
    assert ml_credentials(Settings(state_dir=tmp_path)) == (user, password)  # reused on the next start
    assert Settings.from_env({"MEDLABEL_STATE_DIR": str(tmp_path)}).ml_basic_auth() == (user, password)


def test_without_credentials_the_backend_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(model_dir=tmp_path)
    with pytest.raises(ConfigError, match="BASIC_AUTH_PASS"):
        create_ml_app(settings)
    # gunicorn, as the stack and production start it: no worker boots, the process exits
    env = ml_backend_env(settings, tmp_path)
    del env["BASIC_AUTH_PASS"]
    log = tmp_path / "refused.log"
    server = start_ml_backend(free_port(), env, log)
    try:
        assert server.wait(timeout=60) != 0
    finally:
        if server.poll() is None:
            server.kill()
    assert "BASIC_AUTH_PASS" in log.read_text()
    # `medlabel ml serve` says so in one line before gunicorn starts
    from medlabel.cli import main

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            main, ["ml", "serve"], env={"MEDLABEL_STATE_DIR": str(tmp_path), "BASIC_AUTH_PASS": ""}
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "BASIC_AUTH_PASS" in result.output


def test_project_creation_needs_the_credentials_before_creating_anything(
    ls_client: LabelStudio, ls_settings: Settings, unique_title: str
) -> None:
    before = project_count(ls_client)
    with pytest.raises(ConfigError, match="BASIC_AUTH_PASS"):
        create_project(
            ls_client,
            ls_settings,
            "ktas_triage",
            unique_title,
            ml_backend_url=f"http://127.0.0.1:{free_port()}",
        )
    assert project_count(ls_client) == before


# ------------------------------------------------------------------ learning only from routed physicians


def _platform_db(folder: Path) -> str:
    """A platform DB where task 1 is routed to physician LS user 501 (assigned) and task 2 was routed to LS
    user 502 but their lease expired; LS user 900 is not a physician (a project manager)."""
    url = f"sqlite:///{folder / 'platform.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        project = ProjectRecord(
            ls_project_id=51,
            title="routed",
            template_id="chest_xray_chexpert",
            template_version=1,
            language="en",
            label_codes={},
            reads=1,
        )
        session.add(project)
        session.flush()
        physicians = {
            user: Physician(
                license_number=f"L{user}",
                name=f"Reader {user}",
                email=f"r{user}@example.org",
                tier="specialist",
                institution="Hospital",
                daily_capacity=10,
                ls_user_id=user,
            )
            for user in (501, 502)
        }
        session.add_all(physicians.values())
        register_tasks(session, project, [TaskInfo(1), TaskInfo(2), TaskInfo(3)])
        session.flush()
        task_ids = dict(session.execute(select(RoutedTask.ls_task_id, RoutedTask.id)).tuples().all())
        lease = datetime.now(UTC) + timedelta(days=1)
        session.add_all(
            [
                Assignment(task_id=task_ids[1], physician_id=physicians[501].id, leased_until=lease),
                Assignment(
                    task_id=task_ids[2],
                    physician_id=physicians[502].id,
                    leased_until=lease,
                    state=AssignmentState.EXPIRED.value,
                ),
            ]
        )
        session.commit()
    engine.dispose()
    return url


def _annotated(media: tuple[Path, str], authors: list[Any]) -> list[dict[str, Any]]:
    items = modality_images(1, seed=8)[: len(authors)]  # one image per modality
    return [
        {**task, "annotations": [{**annotation(item.modality), "id": 70 + i, "completed_by": who}]}
        for i, (task, item, who) in enumerate(zip(tasks_for(items, media, 1), items, authors, strict=True))
    ]


def _examples(client: Any, project: int) -> int:
    models = client.get("/health").get_json()["models"]
    return next(m["examples"] for m in models if m["project"] == project and m["control"] == "findings")


def test_train_learns_from_routed_physicians_and_others_but_not_from_unrouted_physicians(
    media: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = ml_test_client(Settings(model_dir=tmp_path, database_url=_platform_db(tmp_path)))
    xml = modality_config()
    client.post("/setup", json={"project": "51.1", "schema": xml})
    # task 1 by its routed physician (a user id, as webhooks send it), task 2 by a physician whose lease on it
    # expired, task 3 by a project manager (a user object, as task listings and /train send it)
    annotated = _annotated(media, [501, {"id": 502, "email": "r502@example.org"}, {"id": 900}])
    with caplog.at_level(logging.INFO, logger="ml_backend.routed"):
        response = client.post(
            "/train", json={"annotations": annotated, "project": "51.1", "label_config": xml}
        )
    assert response.status_code == 201
    assert _examples(client, 51) == 2
    assert (
        "not learning from 1 annotation(s) by physicians the task is not routed to: ids ['71']" in caplog.text
    )
    # an unrouted physician editing a routed read makes it theirs too
    edited = _annotated(media, [501])
    edited[0]["annotations"][0]["updated_by"] = 502
    client.post("/train", json={"annotations": edited, "project": "51.1", "label_config": xml})
    assert _examples(client, 51) == 0


def test_without_the_platform_db_physician_annotations_are_not_learned_from(
    media: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    client = ml_test_client(Settings(model_dir=tmp_path, database_url=unmigrated))
    xml = modality_config()
    client.post("/setup", json={"project": "52.1", "schema": xml})
    annotated = _annotated(media, [501, None])  # an identified author, and one deleted (completed_by null)
    with caplog.at_level(logging.WARNING, logger="ml_backend.routed"):
        client.post("/train", json={"annotations": annotated, "project": "52.1", "label_config": xml})
    assert _examples(client, 52) == 1
    assert "platform DB unavailable" in caplog.text and "1 annotation(s) by identified users" in caplog.text
