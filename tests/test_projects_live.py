"""Every catalog template becomes a real Label Studio project with its sample task imported."""

from __future__ import annotations

import pytest
import requests
from label_studio_sdk import LabelStudio
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from config_templates import list_templates
from medlabel.ls_server import LabelStudioServer
from medlabel.models import ProjectRecord
from medlabel.projects import create_project
from medlabel.settings import Settings

TEMPLATES = list_templates()


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.id for t in TEMPLATES])
def test_every_template_becomes_a_project_with_its_sample_task(
    template, ls_client: LabelStudio, ls_settings: Settings, label_studio: LabelStudioServer, platform_db
) -> None:
    with Session(platform_db) as session:
        created = create_project(
            ls_client,
            ls_settings,
            template.id,
            f"catalog {template.id}",
            with_sample_task=True,
            session=session,
        )
        record = session.scalars(select(ProjectRecord).where(ProjectRecord.ls_project_id == created.id)).one()
    assert record.template_id == template.id and record.label_codes.keys() == template.labelsets.keys()
    project = ls_client.projects.get(created.id)
    assert project.label_config.strip().startswith("<View")
    tasks = list(ls_client.tasks.list(project=created.id))
    assert [t.id for t in tasks] == [created.sample_task_id]
    # every media URL of the sample task is served by Label Studio to an authenticated user, and only then
    for value in _urls(tasks[0].data):
        url = f"{label_studio.url}{value}"
        served = requests.get(url, headers={"Authorization": f"Token {label_studio.api_key}"}, timeout=10)
        assert served.status_code == 200 and served.content, url
        assert requests.get(url, timeout=10, allow_redirects=False).status_code in (401, 302, 403)


def _urls(data: dict) -> list[str]:
    values = [v for v in data.values()]
    flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
    return [v for v in flat if isinstance(v, str) and v.startswith("/data/local-files/")]


def test_failure_after_creation_leaves_no_half_made_project(
    ls_client: LabelStudio, ls_settings: Settings, tmp_path
) -> None:
    """The DB record is written last; when it fails (here: an unmigrated database) the project is deleted."""
    before = {p.id for p in ls_client.projects.list()}
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with Session(engine) as session, pytest.raises(Exception, match="no such table"):
        create_project(
            ls_client, ls_settings, "ktas_triage", "half made", with_sample_task=True, session=session
        )
    assert {p.id for p in ls_client.projects.list()} == before
