"""The local stack's demo on the live Label Studio: four projects ingested, routed and pre-annotated, twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio

from medlabel.demo import DEMOS, run_demo
from medlabel.settings import Settings
from tests.fixtures.ml_backend import running_ml_backend

pytestmark = pytest.mark.label_studio


@pytest.fixture
def demo_settings(ls_settings: Settings, tmp_path: Path) -> Settings:
    """Its own platform DB and state: the demo's pools are the only ones there."""
    return dataclasses.replace(
        ls_settings, state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'demo.db'}"
    )


@pytest.fixture
def ml_url(ls_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with running_ml_backend(ls_settings, tmp_path) as url:
        yield url


def test_demo_feeds_every_project_through_ingest_routing_and_preannotation(
    ls_client: LabelStudio, demo_settings: Settings, ml_url: str
) -> None:
    projects = run_demo(ls_client, demo_settings, ml_url)
    assert [p.title for p in projects] == [d.title for d in DEMOS]
    by_template = {d.template_id: p for d, p in zip(DEMOS, projects, strict=True)}
    for project in projects:
        assert project.tasks > 0 and project.routed == project.tasks, project
        assert project.worklists, project
    # day-one pre-annotation where a model needs no physician labels; the image classifier waits for them
    for template in ("intracranial_hemorrhage_ct", "ecg_rhythm_strip_beats", "clinical_ner_relations"):
        assert by_template[template].predictions == by_template[template].tasks, by_template[template]
    assert by_template["chest_xray_chexpert"].predictions == 0
    # the head CT inputs hold one image twice (two encodings): one task
    assert by_template["intracranial_hemorrhage_ct"].tasks == 2

    again = run_demo(ls_client, demo_settings, ml_url)
    assert [(p.id, p.tasks, p.routed) for p in again] == [(p.id, p.tasks, p.routed) for p in projects]
