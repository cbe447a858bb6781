"""The local stack's demo on the live Label Studio: four projects ingested, routed and pre-annotated, twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio
from sqlalchemy import select

from medlabel.accounts import operations
from medlabel.db import platform_session
from medlabel.demo import DEMOS, run_demo
from medlabel.models import Account, Adjudication, MirrorAnnotation, Physician
from medlabel.quality.report import gather, write_report
from medlabel.settings import Settings
from tests.fixtures.ml_backend import running_ml_backend, with_ml_auth
from tests.fixtures.web import make_settings

pytestmark = pytest.mark.label_studio


@pytest.fixture
def demo_settings(ls_settings: Settings, tmp_path: Path) -> Settings:
    """Its own platform DB and state: the demo's pools are the only ones there."""
    web = make_settings(tmp_path)
    return with_ml_auth(
        dataclasses.replace(
            ls_settings,
            state_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'demo.db'}",
            secret_key=web.secret_key,
            gateway_keys=web.gateway_keys,
        )
    )


@pytest.fixture
def ml_url(demo_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with running_ml_backend(demo_settings, tmp_path) as url:
        yield url


def test_demo_feeds_every_project_through_ingest_routing_and_preannotation(
    ls_client: LabelStudio, demo_settings: Settings, ml_url: str
) -> None:
    demo = run_demo(ls_client, demo_settings, ml_url)
    projects = demo.projects
    assert [p.title for p in projects] == [d.title for d in DEMOS]
    by_template = {d.template_id: p for d, p in zip(DEMOS, projects, strict=True)}
    for project in projects:
        assert project.tasks > 0 and project.routed == project.tasks, project
    # day-one pre-annotation where a model needs no physician labels; the image classifier waits for them
    for template in ("ecg_rhythm_strip_beats", "clinical_ner_relations"):
        assert by_template[template].predictions == by_template[template].tasks, by_template[template]
    assert by_template["chest_xray_chexpert"].predictions == 0
    # the demo's real head CT slices hold no acute blood: the hemorrhage model shows no region on them
    assert by_template["intracranial_hemorrhage_ct"].predictions == 0
    # the head CT inputs hold one image twice (two encodings): one task
    assert by_template["intracranial_hemorrhage_ct"].tasks == 2

    # the printed physician login is real: the busiest reader, with a password and a Label Studio user
    assert demo.login is not None and demo.login.open_tasks > 0
    with platform_session(demo_settings) as session:
        account = session.scalar(select(Account).where(Account.email == demo.login.email))
        assert account is not None and operations.authenticate(session, demo.login.email, demo.login.password)
        assert account.physician is not None and account.physician.ls_refresh_token is not None

    # partly labelled: routed physicians read in the first project as themselves, an unrouted one too; the
    # mirror holds the reads, sync quarantined the unrouted one, and one task's 2–1 split on "certainty" went
    # to a reviewer
    reads = {r.ls_project_id: (r.annotations, r.quarantined, r.reviews) for r in demo.reads}
    annotations, quarantined, reviews = reads[projects[0].id]
    assert annotations >= 4 and (quarantined, reviews) == (1, 1)
    assert all(reads[p.id] == (0, 0, 0) for p in projects[1:])
    with platform_session(demo_settings) as session:
        review = session.scalar(select(Adjudication).where(Adjudication.ls_project_id == projects[0].id))
        assert review is not None and review.reviewer_id is not None and "certainty" in review.trigger
        page = write_report(gather(session, projects[0].id), demo_settings.state_dir / "report")[0]
    assert "<svg" in page.read_text() and str(review.ls_task_id) in page.read_text()
    with platform_session(demo_settings) as session:
        stored = session.scalars(
            select(MirrorAnnotation).where(MirrorAnnotation.ls_project_id == projects[0].id)
        ).all()
        assert {a.completed_by for a in stored} <= {p.ls_user_id for p in session.scalars(select(Physician))}
        assert sum(1 for a in stored if a.quarantined) == 1

    again = run_demo(ls_client, demo_settings, ml_url)
    assert [(p.id, p.tasks, p.routed) for p in again.projects] == [
        (p.id, p.tasks, p.routed) for p in projects
    ]
    assert again.login == demo.login  # a restart prints the same login
    assert again.reads == demo.reads  # and submits no new reads
