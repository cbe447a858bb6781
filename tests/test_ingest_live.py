"""`medlabel ingest` end to end on the live Label Studio: every real DICOM file, re-runs, failures, no PHI."""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest
import requests
from label_studio_sdk import LabelStudio
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.ingest.runner import IngestRun, ingest_folder, project_secret
from medlabel.ingest.sources import source_file
from medlabel.ls_server import LabelStudioServer
from medlabel.models import IngestedItem
from medlabel.projects import create_project
from medlabel.settings import Settings
from plugins.ingest.base import IngestContext, IngestOptions, TaskDraft
from plugins.ingest.dicom.plugin import DicomPlugin

pytestmark = pytest.mark.label_studio

#: Every file pydicom and pydicom-data ship (DICOM or not): one batch must survive all of them. The two long
#: ultrasound cine loops are left out: OCR reads each of their 150 distinct frames (tests/test_burned_in_ocr.py).
LONG_CINES = ("color3d_jpeg_baseline.dcm", "examples_ybr_color.dcm")
ALL_TEST_FILES = sorted(
    {
        str(Path(f).resolve())
        for f in get_testdata_files("**/*")
        if Path(f).is_file() and Path(f).name not in LONG_CINES
    }
)


@pytest.fixture
def session(platform_db) -> Session:
    with Session(platform_db, expire_on_commit=False) as s:
        yield s


def _project(client: LabelStudio, settings: Settings, session: Session, template: str, title: str) -> int:
    return create_project(client, settings, template, title, session=session).id


def _phi_strings(paths: list[str]) -> set[str]:
    """Original patient name, ID and birth date strings worth searching for (short ones match by chance)."""
    found: set[str] = set()
    for path in paths:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
            value = str(ds.get(keyword, "") or "").strip()
            for candidate in {value, *value.split("^")}:
                if _distinctive(candidate):
                    found.add(candidate)
    return found


def _distinctive(value: str) -> bool:
    """Long enough not to occur by chance (a 4-digit ID like "0010" is in any frame number); a name of empty
    components ("^^^^", in pydicom-data's image_dfl.dcm) is no value, and Python's tracebacks draw carets."""
    if value.upper() in {"ANONYMOUS", "ANONYMIZED", "NONE", "TEST"} or not value.strip("^ "):
        return False
    return len(value) >= (6 if value.isdigit() else 4)


def _task_urls(data: dict) -> list[str]:
    flat = [x for v in data.values() for x in (v if isinstance(v, list) else [v])]
    return [v for v in flat if isinstance(v, str) and v.startswith("/data/local-files/")]


def test_every_shipped_test_file_becomes_a_task_or_a_named_quarantine(
    ls_client: LabelStudio,
    ls_settings: Settings,
    label_studio: LabelStudioServer,
    session: Session,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project_id = _project(ls_client, ls_settings, session, "chest_xray_chexpert", "ingest all test files")
    inputs = tmp_path / "hospital"
    inputs.mkdir()
    for index, path in enumerate(ALL_TEST_FILES):
        shutil.copyfile(path, inputs / f"{index:03d}_{Path(path).name}")
    (inputs / "empty.dcm").write_bytes(b"")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.write(get_testdata_file("CT_small.dcm"), "../../outside.dcm")
        z.write(get_testdata_file("MR_small.dcm"), "series/MR_small.dcm")

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="PIL")
    result = IngestRun(ls_client, ls_settings, session, project_id).run([inputs, evil])

    # every source has exactly one final outcome; nothing stopped the batch
    assert result.sources == len(ALL_TEST_FILES) + 1 + 2
    for entry in result.entries:
        if entry.outcome in ("quarantined", "failed"):
            assert entry.reason and entry.detail, entry
    assert sum(result.buckets().values()) == result.sources  # each source in exactly one summary bucket
    reasons = result.reasons()
    assert "empty_file" in reasons and "archive_path_traversal" in reasons
    assert "truncated_pixel_data" in reasons  # MR_truncated.dcm reads fine; decoding finds it
    assert "failed" not in {e.outcome for e in result.entries if e.reason != "wrong_data_type"} or not [
        e for e in result.entries if e.outcome == "failed"
    ]
    assert result.ingested >= 60, reasons

    # Label Studio holds exactly the tasks the run reports, each with its rendered image served
    tasks = list(ls_client.tasks.list(project=project_id))
    assert sorted(t.id for t in tasks) == sorted(result.task_ids)
    headers = {"Authorization": f"Token {label_studio.api_key}"}
    for task in tasks[:25]:
        (url,) = _task_urls(task.data)
        served = requests.get(f"{label_studio.url}{url}", headers=headers, timeout=10)
        assert served.status_code == 200 and served.content.startswith(b"\x89PNG"), url
        assert {"modality", "study", "series"} <= task.data.keys()

    # no PHI anywhere that leaves ingest: task JSON, media bytes and names, logs
    phi = _phi_strings(ALL_TEST_FILES)
    assert len(phi) > 20
    task_json = json.dumps([t.data for t in tasks])
    media = [p for p in ingest_folder(ls_settings, project_id).rglob("*") if p.is_file()]
    assert len(media) >= result.ingested
    for path in media:
        Image.open(path).verify()
    blobs = {"task JSON": task_json, "logs": caplog.text, "media names": "\n".join(str(p) for p in media)}
    for value in phi:
        for where, text in blobs.items():
            assert value not in text, f"{value!r} found in {where}"
        needle = value.encode()
        for path in media:
            assert needle not in path.read_bytes(), f"{value!r} found in {path.name}"

    # quarantined files are kept with their reason for the operator; the manifest says what became of each
    manifest = json.loads(result.manifest.read_text())
    assert manifest["summary"]["tasks"] == result.ingested
    assert len(manifest["entries"]) == len(result.entries)
    quarantine = ls_settings.state_dir / "ingest" / "quarantine" / f"p{project_id}" / "truncated_pixel_data"
    assert any(p.suffix == "" for p in quarantine.iterdir())

    # the same input again creates nothing new
    again = IngestRun(ls_client, ls_settings, session, project_id).run([inputs, evil])
    assert again.ingested == 0 and again.duplicates >= result.ingested
    assert len(list(ls_client.tasks.list(project=project_id))) == len(tasks)
    assert again.exit_code(strict=False) == 0


def test_a_failed_import_leaves_nothing_behind(
    ls_client: LabelStudio, ls_settings: Settings, session: Session, tmp_path: Path
) -> None:
    project_id = _project(ls_client, ls_settings, session, "chest_xray_chexpert", "ingest undo")
    source = tmp_path / "in"
    source.mkdir()
    shutil.copyfile(get_testdata_file("CT_small.dcm"), source / "ct.dcm")
    run = IngestRun(ls_client, ls_settings, session, project_id)
    # Another ingest of the same content commits between our start and our import (a real race), so our
    # bookkeeping commit hits the unique content key: the tasks just imported must be deleted again.
    context = IngestContext(
        project_id, project_secret(session, project_id), tmp_path / "m", lambda p: str(p), run.options
    )
    (draft,) = DicomPlugin().convert([source_file(source / "ct.dcm", "ct.dcm")], context)
    assert isinstance(draft, TaskDraft)
    session.add(
        IngestedItem(
            ls_project_id=project_id,
            content_key=draft.content_key,
            ls_task_id=0,
            plugin="dicom",
            run_id="race",
        )
    )
    session.commit()

    result = run.run([source])
    assert result.ingested == 0
    assert [e.reason for e in result.entries] == ["import_failed"]
    assert list(ls_client.tasks.list(project=project_id)) == []
    assert not [p for p in ingest_folder(ls_settings, project_id).rglob("*") if p.is_file()]
    assert result.exit_code(strict=False) == 1


def test_a_series_template_gets_one_task_per_series_with_ordered_images(
    ls_client: LabelStudio,
    ls_settings: Settings,
    session: Session,
    tmp_path: Path,
    label_studio: LabelStudioServer,
) -> None:
    project_id = _project(ls_client, ls_settings, session, "brain_mri_tumor_segmentation", "ingest series")
    source = tmp_path / "mr"
    source.mkdir()
    template = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for number in range(1, 5):  # one series of four slices, stored out of order
        template.InstanceNumber = number
        template.SOPInstanceUID = f"1.2.3.4.{number}"
        template.ImagePositionPatient = [0.0, 0.0, 5.0 * number]
        template.save_as(source / f"slice{(number * 3) % 5}.dcm")
    result = IngestRun(ls_client, ls_settings, session, project_id).run([source])
    assert result.ingested == 1, result.reasons()
    (task,) = ls_client.tasks.list(project=project_id)
    images = task.data["images"]
    assert len(images) == 4 and all(u.startswith("/data/local-files/") for u in images)
    assert task.data["slice_positions_mm"] == sorted(task.data["slice_positions_mm"])
    headers = {"Authorization": f"Token {label_studio.api_key}"}
    assert all(
        requests.get(f"{label_studio.url}{u}", headers=headers, timeout=10).status_code == 200 for u in images
    )


def test_ecg_and_notes_reach_their_templates_and_wrong_kinds_are_refused(
    ls_client: LabelStudio,
    ls_settings: Settings,
    session: Session,
    tmp_path: Path,
    label_studio: LabelStudioServer,
) -> None:
    ecg_project = _project(ls_client, ls_settings, session, "ecg_rhythm_strip_beats", "ingest ecg")
    source = tmp_path / "ecg"
    source.mkdir()
    shutil.copyfile(get_testdata_file("waveform_ecg.dcm"), source / "ecg.dcm")
    shutil.copyfile(get_testdata_file("CT_small.dcm"), source / "ct.dcm")
    result = IngestRun(ls_client, ls_settings, session, ecg_project).run([source])
    assert result.ingested == 1 and result.reasons() == {"wrong_data_type": 1}
    (task,) = ls_client.tasks.list(project=ecg_project)
    csv = requests.get(
        f"{label_studio.url}{task.data['csv']}",
        headers={"Authorization": f"Token {label_studio.api_key}"},
        timeout=10,
    ).text
    header = csv.splitlines()[0].split(",")
    assert header[0] == "time" and {"II", "V1"} <= set(header)
    original = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    assert str(original.PatientName).split("^")[0] not in csv + json.dumps(task.data)

    notes_project = _project(ls_client, ls_settings, session, "clinical_ner_relations", "ingest notes")
    notes = tmp_path / "notes.jsonl"
    text = "Patient John Smith (MRN 12345678), seen 2024-03-05, phone 010-1234-5678. Metformin 500 mg bid."
    start, strength = text.index("Metformin"), text.index("500 mg")
    spans = [
        {"start": start, "end": start + 9, "label": "medication"},  # the catalog code
        {"start": strength, "end": strength + 6, "label": "Strength"},  # the label shown
        {"start": 0, "end": 7, "label": "demographics"},  # a label the project lacks: left out
        {"start": 8, "end": 18, "label": "Problem"},  # the name: overlaps an identifier, dropped
    ]
    notes.write_text(json.dumps({"text": text, "spans": spans}) + "\n")
    result = IngestRun(ls_client, ls_settings, session, notes_project).run([notes])
    assert result.ingested == 1, result.reasons()
    (task,) = ls_client.tasks.list(project=notes_project)
    scrubbed = task.data["text"]
    for identifier in ("John", "Smith", "12345678", "2024-03-05", "010-1234-5678"):
        assert identifier not in scrubbed
    assert "Metformin 500 mg bid" in scrubbed
    # the spans that came with the note arrive as a prediction, moved onto the scrubbed text
    (prediction,) = ls_client.predictions.list(task=task.id)
    assert prediction.model_version == "source-spans"
    regions = sorted((r["value"]["labels"][0], r["value"]["text"]) for r in prediction.result)
    assert regions == [("Medication", "Metformin"), ("Strength", "500 mg")]
    for region in prediction.result:
        assert scrubbed[region["value"]["start"] : region["value"]["end"]] == region["value"]["text"]


def test_large_ingests_run_as_queue_jobs(
    ls_client: LabelStudio,
    ls_settings: Settings,
    session: Session,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis import Redis
    from rq import SimpleWorker

    from medlabel import settings as settings_module
    from medlabel.ingest.jobs import enqueue, queue

    project_id = _project(ls_client, ls_settings, session, "chest_xray_chexpert", "ingest queued")
    for index, name in enumerate(("CT_small.dcm", "MR_small.dcm", "MR2_UNCR.dcm")):
        folder = tmp_path / "in" / f"series{index}"
        folder.mkdir(parents=True)
        shutil.copyfile(get_testdata_file(name), folder / name)
    environment = {
        "LABEL_STUDIO_URL": ls_settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": ls_settings.label_studio_api_key,
        "MEDLABEL_STATE_DIR": str(ls_settings.state_dir),
        "MEDLABEL_MEDIA_ROOT": str(ls_settings.media_root),
        "MEDLABEL_DATABASE_URL": ls_settings.database_url,
        "MEDLABEL_REDIS_URL": redis_url,
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings_module.get_settings.cache_clear()
    settings = settings_module.get_settings()
    name = f"test-ingest-{project_id}"
    try:
        jobs = enqueue(settings, project_id, [tmp_path / "in"], IngestOptions(), queue_name=name)
        SimpleWorker([queue(settings, name)], connection=Redis.from_url(redis_url)).work(burst=True)
    finally:
        settings_module.get_settings.cache_clear()
    assert all(job.get_status(refresh=True) == "finished" for job in jobs)
    created = sum(job.return_value()["tasks"] for job in jobs)
    assert created == 3
    assert len(list(ls_client.tasks.list(project=project_id))) == 3


def test_ingested_tasks_are_routed_at_once_never_to_the_source_institution(
    ls_client: LabelStudio, ls_settings: Settings, session: Session, tmp_path: Path
) -> None:
    from medlabel.ingest.handoff import route_ingested
    from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
    from medlabel.routing.demo import demo_pool_rows
    from medlabel.routing.generator import to_csv
    from medlabel.routing.pool import import_pool_csv

    project_id = _project(ls_client, ls_settings, session, "chest_xray_chexpert", "ingest then route")
    rows = demo_pool_rows("radiology", None, size=16, seed=31)
    hospital = rows[0]["institution"]
    assert import_pool_csv(session, to_csv(rows)).errors == []
    source = tmp_path / "in"
    source.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copyfile(get_testdata_file(name), source / name)
    result = IngestRun(ls_client, ls_settings, session, project_id, source_institution=hospital).run([source])
    arrival = route_ingested(session, ls_client, ls_settings, result)
    assert arrival is not None and arrival.route.tasks_routed == 2
    report = arrival.route

    project = session.scalars(select(ProjectRecord).where(ProjectRecord.ls_project_id == project_id)).one()
    for task_id in result.task_ids:
        task = session.scalars(select(RoutedTask).where(RoutedTask.ls_task_id == task_id)).one()
        assert task.content_key == result.content_keys[task_id] and task.source_institution == hospital
        readers = session.scalars(
            select(Physician)
            .join(Assignment, Assignment.physician_id == Physician.id)
            .where(Assignment.task_id == task.id)
        ).all()
        assert len({p.id for p in readers}) + report.shortfalls.get(task_id, 0) == project.reads
        assert readers and all(p.institution != hospital for p in readers)


def test_a_plugin_bug_quarantines_its_files_and_the_other_plugins_go_on(
    ls_client: LabelStudio,
    ls_settings: Settings,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fault no real file causes (a bug in a plugin), so the plugin is made to fail."""

    def broken(self, sources, context):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")
        yield  # a generator, like the real convert

    monkeypatch.setattr(DicomPlugin, "convert", broken)
    project_id = _project(ls_client, ls_settings, session, "chest_xray_chexpert", "ingest plugin bug")
    source = tmp_path / "in"
    source.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copyfile(get_testdata_file(name), source / name)
    result = IngestRun(ls_client, ls_settings, session, project_id).run([source])
    assert result.reasons() == {"plugin_error": 2} and result.ingested == 0
    assert {e.source for e in result.entries} == {"in/CT_small.dcm", "in/MR_small.dcm"}
