"""PHI review on the live Label Studio: held notes and images stay out of Label Studio until released, released
ones arrive and are routed like any ingest, rejected ones never arrive; the CLI drives it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel import settings as settings_module
from medlabel.cli import main
from medlabel.ingest.runner import IngestRun, ingest_folder
from medlabel.ls_server import LabelStudioServer
from medlabel.models import HeldItem, IngestedItem, RoutedTask
from medlabel.models.phi import HeldState
from medlabel.phi import operations, queries
from medlabel.projects import create_project
from medlabel.routing.demo import demo_pool_rows
from medlabel.routing.generator import to_csv
from medlabel.routing.pool import import_pool_csv
from medlabel.settings import Settings
from tests.fixtures.burned_text import make_set

pytestmark = pytest.mark.label_studio

HOSPITAL = "Seoul Example Hospital"
NOTES = [
    "Patient John Smith (MRN 12345678) seen 2024-03-05 for chest pain. Aspirin 100 mg daily.",
    "Patient Mary Johnson, phone 010-1234-5678, admitted 2023-11-02 with pneumonia. Ceftriaxone started.",
    "Follow-up of patient Robert Brown (MRN 87654321) on 2024-01-15: HbA1c 7.2%, metformin continued.",
]
ORIGINALS = (
    "John",
    "Smith",
    "12345678",
    "Mary",
    "Johnson",
    "010-1234-5678",
    "Robert",
    "87654321",
    "2024-03-05",
)


@pytest.fixture
def session(platform_db) -> Iterator[Session]:
    with Session(platform_db, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def cli_env(ls_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads its settings from the environment, like every medlabel process."""
    for key, value in {
        "LABEL_STUDIO_URL": ls_settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": ls_settings.label_studio_api_key,
        "MEDLABEL_STATE_DIR": str(ls_settings.state_dir),
        "MEDLABEL_MEDIA_ROOT": str(ls_settings.media_root),
        "MEDLABEL_DATABASE_URL": ls_settings.database_url,
    }.items():
        monkeypatch.setenv(key, value)
    settings_module.get_settings.cache_clear()
    yield
    settings_module.get_settings.cache_clear()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _ls_texts(client: LabelStudio, project_id: int) -> list[str]:
    return sorted(str(t.data["text"]) for t in client.tasks.list(project=project_id))


def test_held_notes_reach_label_studio_only_when_released_and_rejected_ones_never(
    ls_client: LabelStudio, ls_settings: Settings, session: Session, tmp_path: Path, cli_env: None
) -> None:
    assert import_pool_csv(session, to_csv(demo_pool_rows("internal_medicine", None, 12, 5))).errors == []
    project_id = create_project(
        ls_client, ls_settings, "clinical_ner_relations", "phi review notes", session=session, phi_review=True
    ).id
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"text": t}) + "\n" for t in NOTES))

    result = IngestRun(ls_client, ls_settings, session, project_id, source_institution=HOSPITAL).run([notes])
    assert result.held == 3 and result.ingested == 0 and result.exit_code(strict=False) == 0
    assert _ls_texts(ls_client, project_id) == []  # a new source: everything waits for review

    listed = _cli("phi", "review", "list", "--project", str(project_id))
    items = queries.list_items(session, project_id)
    assert len(items) == 3 and all(i.reasons == ["new_source"] for i in items)
    assert all(f"{i.id:>6}  held" in listed for i in items)
    # side by side: the scrubbed text and the kinds and places of what was removed, never the values
    shown = _cli("phi", "review", "show", str(items[0].id))
    view = queries.show(session, ls_settings, items[0].id)
    text = view.task["data"]["text"]
    assert view.removed["placeholders"] and "removed NAME" in shown
    for placeholder in view.removed["placeholders"]:
        assert text[placeholder["start"] : placeholder["end"]] == f"[{placeholder['kind']}]"
    stored = json.dumps([(i.task, i.removed, i.reasons) for i in items])
    assert not any(original in stored for original in ORIGINALS)

    first, second, third = (i.id for i in items)
    released = _cli("phi", "review", "release", str(first), str(second), "--by", "reviewer-a")
    assert "released 2 items" in released
    session.rollback()  # the CLI wrote through its own session: read afresh
    session.expire_all()
    in_ls = _ls_texts(ls_client, project_id)
    assert len(in_ls) == 2 and all("[NAME]" in t for t in in_ls)
    # released tasks went through routing's arrival path, with the facts ingest recorded
    task_ids = [
        i.ls_task_id for i in session.scalars(select(HeldItem).where(HeldItem.id.in_([first, second])))
    ]
    routed = session.scalars(select(RoutedTask).where(RoutedTask.ls_task_id.in_(task_ids))).all()
    assert len(routed) == 2 and {r.source_institution for r in routed} == {HOSPITAL}
    assert session.scalars(select(IngestedItem).where(IngestedItem.ls_task_id.in_(task_ids))).all()

    _cli("phi", "review", "reject", str(third), "--reason", "a name left in the text", "--by", "reviewer-a")
    session.rollback()
    session.expire_all()
    rejected = session.get(HeldItem, third)
    assert rejected.state == HeldState.REJECTED and rejected.decision_reason == "a name left in the text"
    decision = ls_settings.state_dir / "ingest" / "quarantine" / f"p{project_id}" / "phi_review_rejected"
    assert json.loads((decision / f"item-{third}" / "decision.json").read_text())["by"] == "reviewer-a"
    with pytest.raises(operations.PhiReviewError):
        operations.release(session, ls_client, ls_settings, [third], "reviewer-b")
    # a re-run of the same notes adds nothing: two are tasks, the rejected one stays out for good
    again = IngestRun(ls_client, ls_settings, session, project_id, source_institution=HOSPITAL).run([notes])
    assert again.ingested == 0 and again.held == 0 and again.duplicates == 1
    assert len(_ls_texts(ls_client, project_id)) == 2


def test_a_proven_source_is_sampled_and_flagged_drafts_are_always_held(
    ls_client: LabelStudio, ls_settings: Settings, session: Session, tmp_path: Path
) -> None:
    project_id = create_project(
        ls_client,
        ls_settings,
        "clinical_ner_relations",
        "phi review proven",
        session=session,
        phi_review=True,
    ).id
    operations.set_review(session, project_id, enabled=True, share=0.0, proven_after=2)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps({"text": t}) + "\n" for t in NOTES[:2]))
    IngestRun(ls_client, ls_settings, session, project_id, source_institution=HOSPITAL).run([first])
    operations.release(
        session, ls_client, ls_settings, [i.id for i in queries.list_items(session, project_id)], "r"
    )
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({"text": NOTES[2]}) + "\n")
    proven = IngestRun(ls_client, ls_settings, session, project_id, source_institution=HOSPITAL).run([later])
    assert proven.ingested == 1 and proven.held == 0  # proven, share 0: straight through
    other = IngestRun(ls_client, ls_settings, session, project_id, source_institution="Another Hospital")
    other_notes = tmp_path / "other.jsonl"
    other_notes.write_text(json.dumps({"text": "Patient Kim Minsu seen 2024-02-02; BP 120/80."}) + "\n")
    assert other.run([other_notes]).held == 1  # a new source is held again


def test_held_images_are_not_served_until_released(
    ls_client: LabelStudio,
    ls_settings: Settings,
    session: Session,
    tmp_path: Path,
    label_studio: LabelStudioServer,
) -> None:
    project_id = create_project(
        ls_client,
        ls_settings,
        "fetal_ultrasound_plane_biometry",
        "phi review images",
        session=session,
        phi_review=True,
    ).id
    (burned,) = make_set(tmp_path / "us", 1, seed=3)
    result = IngestRun(ls_client, ls_settings, session, project_id).run([burned.path])
    if result.held == 0:
        pytest.fail(f"the burned-in file was not held: {result.reasons()}")
    (item,) = queries.list_items(session, project_id)
    assert "burned_in_declared" in item.reasons and "new_source" in item.reasons
    view = queries.show(session, ls_settings, item.id)
    assert view.removed["burned_in"]["ocr_boxes"] and all(p.is_file() for p in view.media)
    assert not any(ingest_folder(ls_settings, project_id).rglob("*.png"))
    headers = {"Authorization": f"Token {label_studio.api_key}"}
    url = f"{label_studio.url}{item.task['data']['image']}"
    assert requests.get(url, headers=headers, timeout=10).status_code == 404
    assert list(ls_client.tasks.list(project=project_id)) == []

    operations.release(session, ls_client, ls_settings, [item.id], "reviewer")
    served = requests.get(url, headers=headers, timeout=10)
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
    assert not any(p.is_file() for p in view.media)  # moved, not copied
    assert len(list(ls_client.tasks.list(project=project_id))) == 1
    shutil.rmtree(tmp_path / "us")
