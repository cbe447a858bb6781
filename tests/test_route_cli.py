"""`medlabel route --project P` as a script runs it: a real process, a live Label Studio, a platform DB on disk.

A routing run that leaves tasks short of readers still stores what it could, but must say so through its exit
code (`SHORTFALL_EXIT`, documented in README.md), so that cron jobs and pipelines notice a pool that is too small.
The command runs as its own process through the installed `medlabel` entry point: the exit code is the one a
shell sees, not what click's test runner makes of a SystemExit.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio
from sqlalchemy import select

from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.models import Assignment, RoutedTask
from medlabel.projects import create_project
from medlabel.routing.cli import SHORTFALL_EXIT
from medlabel.routing.policy import project_by_ls_id
from medlabel.routing.pool import import_pool_csv
from medlabel.settings import Settings

pytestmark = pytest.mark.label_studio

#: A template whose policy wants k = 3 readers (its meta.toml `reads`), at least resident tier, radiology.
TEMPLATE = "radiology_report_classification"
POOL_HEADER = (
    "license_number,name,email,tier,specialties,board_certified,subspecialties,languages,institution,"
    "daily_capacity\n"
)
RADIOLOGISTS = [
    "KMA-70001,Kim Minjun,minjun.kim@example.org,specialist,radiology,radiology,,ko,Asan Medical Center,40\n",
    "KMA-70002,Lee Sua,sua.lee@example.org,specialist,radiology,radiology,,ko,Severance Hospital,40\n",
    "KMA-70003,Park Jiho,jiho.park@example.org,resident,radiology,,,ko,Samsung Medical Center,40\n",
]


def medlabel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `medlabel` command configured by environment variables only, as a script would."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MEDLABEL_", "LABEL_STUDIO_", "BASIC_AUTH_"))
    }
    env.update(
        LABEL_STUDIO_URL=settings.label_studio_url,
        LABEL_STUDIO_API_KEY=settings.label_studio_api_key,
        MEDLABEL_STATE_DIR=str(settings.state_dir),
        MEDLABEL_DATABASE_URL=settings.database_url,
        LATEST_VERSION_CHECK="false",
    )
    return subprocess.run(
        [str(Path(sys.executable).parent / "medlabel"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def settings(ls_settings: Settings, tmp_path: Path) -> Settings:
    """The live Label Studio with a platform DB of this test's own, so the pool holds only its radiologists."""
    (tmp_path / "state").mkdir()
    return dataclasses.replace(
        ls_settings, state_dir=tmp_path / "state", database_url=f"sqlite:///{tmp_path / 'platform.db'}"
    )


def test_route_with_shortfalls_exits_with_the_documented_code(
    ls_client: LabelStudio, settings: Settings, unique_title: str
) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        created = create_project(ls_client, settings, TEMPLATE, unique_title, session=session)
        assert project_by_ls_id(session, created.id).reads == 3
        report = import_pool_csv(session, POOL_HEADER + "".join(RADIOLOGISTS[:2]))
        assert report.created == 2 and not report.errors
    reports = [
        {"data": {"text": f"CT chest: {i} mm nodule."}, "meta": {"source_institution": "Ewha Mokdong"}}
        for i in range(4)
    ]
    ls_client.projects.import_tasks(id=created.id, request=reports)
    task_ids = sorted(int(t.id) for t in ls_client.tasks.list(project=created.id))
    assert len(task_ids) == 4

    short = medlabel(settings, "route", "--project", str(created.id))
    assert short.returncode == SHORTFALL_EXIT == 4, short.stdout + short.stderr
    assert f"project {created.id}: 4 new tasks" in short.stdout
    assert "8 reads assigned on 4 tasks" in short.stdout  # what could be routed was routed and stored
    for task_id in task_ids:
        assert f"task {task_id}: short of 1 eligible physician(s)" in short.stdout
    assert "4 tasks could not get all their reads" in short.stdout
    with sessions() as session:
        project = project_by_ls_id(session, created.id)
        shortfalls = session.scalars(select(RoutedTask.shortfall).where(RoutedTask.project_id == project.id))
        assert sorted(shortfalls) == [1, 1, 1, 1]
        held = session.scalars(
            select(Assignment.id)
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(RoutedTask.project_id == project.id)
        ).all()
        assert len(held) == 8

    # A third eligible radiologist joins: the next run fills every task and the exit code says all is well.
    with sessions() as session:
        assert import_pool_csv(session, POOL_HEADER + "".join(RADIOLOGISTS)).created == 1
    full = medlabel(settings, "route", "--project", str(created.id))
    assert full.returncode == 0, full.stdout + full.stderr
    assert "0 new tasks" in full.stdout and "4 reads assigned on 4 tasks" in full.stdout
    assert "short of" not in full.stdout
    engine.dispose()
