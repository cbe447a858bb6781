"""Every way tasks arrive ends in the same state, on the live Label Studio: ingest in-process, ingest as an RQ
job run by a real worker process, ingest with the TASKS_CREATED webhook registered (it reports the tasks first,
from inside the import), `medlabel route --project`, and the demo's seeding.

The same state: each task registered with the facts ingest recorded (content key, source institution), k
holding reads by physicians none of whom is from the source institution, no shortfall, and every involved
physician's Data Manager tab showing exactly their open tasks.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from pydicom.data import get_testdata_file
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from medlabel.app import create_app
from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.ingest.handoff import route_ingested
from medlabel.ingest.runner import IngestRun
from medlabel.models import Assignment, IngestedItem, Physician, RoutedTask
from medlabel.models.routing import HOLDING_STATES
from medlabel.projects import WEBHOOK_PATH, create_project, register_webhook
from medlabel.routing.demo import demo_pool_rows, seed_demo_routing
from medlabel.routing.generator import to_csv
from medlabel.routing.label_studio import VIEW_PREFIX, open_tasks_by_physician
from medlabel.routing.policy import project_by_ls_id
from medlabel.routing.pool import import_pool_csv
from medlabel.settings import PROJECT_ROOT, Settings
from tests.fixtures.label_studio import free_port
from tests.fixtures.web import make_settings

pytestmark = pytest.mark.label_studio
TEMPLATE = "chest_xray_chexpert"  # radiology, resident or above, k=3
POOL_SEED = 42  # its specialists: 4 of 8 from one hospital, the source below


def source_hospital() -> str:
    rows = demo_pool_rows("radiology", None, 16, POOL_SEED)[:8]
    names = [r["institution"] for r in rows]
    return max(sorted(set(names)), key=names.count)


@pytest.fixture(scope="module")
def settings(ls_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("arrival-db")
    web = make_settings(folder)
    return dataclasses.replace(
        ls_settings,
        webhook_secret="arrival-secret",
        database_url=f"sqlite:///{folder / 'platform.db'}",
        secret_key=web.secret_key,
        gateway_keys=web.gateway_keys,
    )


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:  # the demo's pool, so its seeding changes nobody
        assert import_pool_csv(session, to_csv(demo_pool_rows("radiology", None, 16, POOL_SEED))).errors == []
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def platform(settings: Settings) -> Iterator[tuple[str, list[str]]]:
    """The platform web app served for real (Label Studio posts its webhooks here); records the paths hit."""
    app = create_app(settings)
    hits: list[str] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        hits.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", hits
    server.shutdown()
    thread.join(timeout=10)


def inputs(tmp_path: Path) -> Path:
    source = tmp_path / "in"
    for index, name in enumerate(("CT_small.dcm", "MR_small.dcm")):
        (source / f"series{index}").mkdir(parents=True)
        shutil.copyfile(get_testdata_file(name), source / f"series{index}" / name)
    return source


def state_of(session: Session, client: LabelStudio, ls_project_id: int) -> dict[str, Any]:
    """The routing state of a project, in terms that must not depend on how its tasks arrived."""
    session.rollback()  # see what other processes and threads committed
    project = project_by_ls_id(session, ls_project_id)
    ls_ids = sorted(int(t.id) for t in client.tasks.list(project=ls_project_id))
    recorded = dict(
        session.execute(
            select(IngestedItem.ls_task_id, IngestedItem.content_key).where(
                IngestedItem.ls_project_id == ls_project_id
            )
        ).all()
    )
    tasks = session.scalars(select(RoutedTask).where(RoutedTask.project_id == project.id)).all()
    holders = session.execute(
        select(Assignment.task_id, Physician.institution)
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(Assignment.task_id.in_([t.id for t in tasks]), Assignment.state.in_(HOLDING_STATES))
    ).all()
    open_tasks = open_tasks_by_physician(session, project)
    tabs = {
        int(str(v.data["title"]).removeprefix(VIEW_PREFIX).split()[0]): int(v.id)
        for v in client.views.list(project=ls_project_id)
        if isinstance(v.data, dict) and str(v.data.get("title", "")).startswith(VIEW_PREFIX)
    }
    tab_tasks = {
        pid: sorted(int(t.id) for t in client.tasks.list(project=ls_project_id, view=view_id))
        for pid, view_id in tabs.items()
    }
    return {
        "tasks": len(ls_ids),
        "registered": sorted(t.ls_task_id for t in tasks) == ls_ids,
        "content keys from ingest": all(t.content_key == recorded.get(t.ls_task_id) for t in tasks),
        "source institutions": sorted({str(t.source_institution) for t in tasks}),
        "holding reads per task": sorted(sum(1 for tid, _ in holders if tid == t.id) for t in tasks),
        "reads from the source institution": sum(1 for _, inst in holders if inst == source_hospital()),
        "shortfall": sum(t.shortfall for t in tasks),
        "tabs show open tasks": bool(tabs) and tab_tasks == {p: sorted(open_tasks.get(p, [])) for p in tabs},
    }


def expected_state() -> dict[str, Any]:
    return {
        "tasks": 2,
        "registered": True,
        "content keys from ingest": True,
        "source institutions": [source_hospital()],
        "holding reads per task": [3, 3],
        "reads from the source institution": 0,
        "shortfall": 0,
        "tabs show open tasks": True,
    }


def settled(read: Callable[[], dict[str, Any]], seconds: float = 30) -> dict[str, Any]:
    """The state once it stops changing as expected (work done after a webhook's answer lags a little)."""
    deadline = time.monotonic() + seconds
    state = read()
    while state != expected_state() and time.monotonic() < deadline:
        time.sleep(0.5)
        state = read()
    return state


def test_ingest_in_process(
    ls_client: LabelStudio, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pid = create_project(ls_client, settings, TEMPLATE, "arrival: ingest", session=session).id
        result = IngestRun(ls_client, settings, session, pid, source_institution=source_hospital()).run(
            [inputs(tmp_path)]
        )
        arrival = route_ingested(session, ls_client, settings, result)
        assert arrival is not None and arrival.registered == 2 and arrival.publish_error is None
        assert state_of(session, ls_client, pid) == expected_state()


def test_ingest_job_in_a_worker_process(
    ls_client: LabelStudio, settings: Settings, engine: Engine, tmp_path: Path, redis_url: str
) -> None:
    from medlabel.ingest.jobs import enqueue
    from plugins.ingest.base import IngestOptions

    with Session(engine, expire_on_commit=False) as session:
        pid = create_project(ls_client, settings, TEMPLATE, "arrival: ingest job", session=session).id
    queue_name = f"test-arrival-{pid}"
    jobs = enqueue(
        dataclasses.replace(settings, redis_url=redis_url),
        pid,
        [inputs(tmp_path)],
        IngestOptions(),
        queue_name=queue_name,
        source_institution=source_hospital(),
    )
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": settings.label_studio_api_key,
        "MEDLABEL_STATE_DIR": str(settings.state_dir),
        "MEDLABEL_MEDIA_ROOT": str(settings.media_root),
        "MEDLABEL_DATABASE_URL": settings.database_url,
        "MEDLABEL_REDIS_URL": redis_url,
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "rq"), "worker", "--burst", "--url", redis_url, queue_name],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        worker.wait(timeout=300)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=15)
    assert [j.get_status(refresh=True) for j in jobs] == ["finished"], log.read_text()[-3000:]
    assert jobs[0].return_value()["routed"] == 2
    with Session(engine) as session:
        assert state_of(session, ls_client, pid) == expected_state()


def test_ingest_with_the_webhook_registered_keeps_the_conflict_of_interest_rule(
    ls_client: LabelStudio,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    platform: tuple[str, list[str]],
) -> None:
    """Label Studio posts TASKS_CREATED from inside ingest's import request, before ingest has recorded the
    source institution: whichever of the webhook's routing and ingest's own call runs first, the end state
    has no reader from the source institution."""
    url, hits = platform
    with Session(engine, expire_on_commit=False) as session:
        pid = create_project(ls_client, settings, TEMPLATE, "arrival: webhook", session=session).id
        register_webhook(ls_client, dataclasses.replace(settings, webhook_url=url), pid)
        before = hits.count(WEBHOOK_PATH)
        result = IngestRun(ls_client, settings, session, pid, source_institution=source_hospital()).run(
            [inputs(tmp_path)]
        )
        assert hits.count(WEBHOOK_PATH) > before  # the webhook did report them
        route_ingested(session, ls_client, settings, result)
        assert settled(lambda: state_of(session, ls_client, pid)) == expected_state()


def test_route_command(
    monkeypatch: pytest.MonkeyPatch,
    ls_client: LabelStudio,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
) -> None:
    from medlabel import cli
    from medlabel.routing import cli as routing_cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(routing_cli, "get_settings", lambda: settings)
    with Session(engine, expire_on_commit=False) as session:
        pid = create_project(ls_client, settings, TEMPLATE, "arrival: route", session=session).id
        IngestRun(ls_client, settings, session, pid, source_institution=source_hospital()).run(
            [inputs(tmp_path)]
        )
    routed = CliRunner().invoke(cli.main, ["route", "--project", str(pid)], catch_exceptions=False)
    assert routed.exit_code == 0 and f"project {pid}: 2 new tasks" in routed.output, routed.output
    with Session(engine) as session:
        assert state_of(session, ls_client, pid) == expected_state()


def test_demo_seeding(ls_client: LabelStudio, settings: Settings, engine: Engine, tmp_path: Path) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pid = create_project(ls_client, settings, TEMPLATE, "arrival: demo", session=session).id
        IngestRun(ls_client, settings, session, pid, source_institution=source_hospital()).run(
            [inputs(tmp_path)]
        )
        demo = seed_demo_routing(session, ls_client, settings, pid, size=16, seed=POOL_SEED)
        assert demo.report.assigned == 6
        assert state_of(session, ls_client, pid) == expected_state()
