"""`medlabel preannotate` on a live Label Studio with the ML backend as its own gunicorn process.

ECG strips are served by a Local Files storage, so the backend fetches them from Label Studio with the
token like in production; one task lacks its data key and must fail alone. The queued variant runs the
same batches as RQ jobs on a real Redis, executed by an in-process SimpleWorker.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio

from config_templates import Overrides
from medlabel.preannotate import QUEUE_NAME, lowest_prediction_scores, preannotate
from medlabel.projects import create_project, local_files_url
from medlabel.settings import PROJECT_ROOT, Settings, get_settings
from medlabel.synthetic import synthetic_ecg, synthetic_note
from tests.fixtures.ml_backend import running_ml_backend


@pytest.fixture(scope="module")
def ml_url(ls_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_ml_backend(ls_settings, tmp_path_factory.mktemp("ml")) as url:
        yield url


def _project(client: LabelStudio, settings: Settings, template: str, ml_url: str) -> int:
    created = create_project(
        client, settings, template, f"preannotate {uuid.uuid4().hex[:8]}", Overrides(language="both")
    )
    client.ml.create(url=ml_url, project=created.id, title="medlabel")  # Label Studio calls /health + /setup
    return created.id


def _predicted(client: LabelStudio, project: int) -> dict[int, list[dict]]:
    return {
        t.id: [p if isinstance(p, dict) else p.model_dump() for p in t.predictions or []]
        for t in client.tasks.list(project=project, fields="all")
    }


def test_preannotate_ecg_project_in_process(
    ls_client: LabelStudio, ls_settings: Settings, ml_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(ls_client, ls_settings, "ecg_rhythm_strip_beats", ml_url)
    folder = ls_settings.media_root / f"preannotate-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    strips = {
        "af.csv": synthetic_ecg("atrial_fibrillation", 95, seed=1),
        "pvc.csv": synthetic_ecg(pvc_every=3, seed=2),
    }
    for name, ecg in strips.items():
        ecg.write_csv(folder / name)
    (folder / "not_ecg.csv").write_text("time,x\n0,1\n0.5,2\n")
    ls_client.import_storage.local.create(
        project=project, path=str(folder), title="strips", use_blob_urls=True
    )
    ls_client.projects.import_tasks(
        id=project,
        request=[
            *(
                {"data": {"csv": local_files_url(f"{folder.name}/{name}")}}
                for name in [*strips, "not_ecg.csv"]
            ),
            {"data": {"csv": ""}},  # Label Studio refuses a missing key at import, not an empty one
        ],
    )
    # The CLI, as a manager runs it: in-process because MEDLABEL_REDIS_URL is unset.
    monkeypatch.setenv("LABEL_STUDIO_URL", ls_settings.label_studio_url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", ls_settings.label_studio_api_key)
    monkeypatch.delenv("MEDLABEL_REDIS_URL", raising=False)
    get_settings.cache_clear()
    from medlabel.cli import main

    result = CliRunner().invoke(main, ["preannotate", "--project", str(project), "--batch", "2"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "4 tasks without predictions: 2 predicted, 1 with no regions, 1 failed" in result.output
    assert "task data has no 'csv'" in result.output

    predicted = _predicted(ls_client, project)
    with_predictions = {task: preds for task, preds in predicted.items() if preds}
    assert len(with_predictions) == 2  # the two strips; neither the empty key nor the non-ECG CSV
    for preds in with_predictions.values():
        [prediction] = preds
        assert prediction["model_version"].startswith("beats@ecg_beats.")
        beats = [r for r in prediction["result"] if r["from_name"] == "beats"]
        assert len(beats) >= 10 and 0 < prediction["score"] <= 1
    choices = {
        c for preds in with_predictions.values() for r in preds[0]["result"] if r["type"] == "choices"
        for c in r["value"]["choices"]
    }  # fmt: skip
    assert "Atrial fibrillation / 심방세동" in choices and "Ventricular trigeminy / 심실 삼단맥" in choices

    # Active learning: the routing layer reads each task's lowest score; a second run has nothing left to do.
    scores = lowest_prediction_scores(ls_client, project)
    assert scores == pytest.approx({task: preds[0]["score"] for task, preds in with_predictions.items()})
    total, again = preannotate(ls_client, ls_settings, project)
    assert total == 2 and len(again.failed) == 1 and len(again.empty) == 1


def test_preannotate_through_rq_jobs(
    ls_client: LabelStudio, ls_settings: Settings, ml_url: str, tmp_path: Path, redis_url: str
) -> None:

    project = _project(ls_client, ls_settings, "clinical_ner_relations", ml_url)
    notes = [synthetic_note(seed) for seed in range(5)]
    ls_client.projects.import_tasks(id=project, request=[{"data": {"text": n.text}} for n in notes])
    # A real RQ worker process, as in production; it reads Label Studio's token from its own environment.
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": ls_settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": ls_settings.label_studio_api_key,
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "rq"), "worker", "--url", redis_url, QUEUE_NAME],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worked: list[int] = []
    try:
        settings = dataclasses.replace(ls_settings, redis_url=redis_url)
        total, outcome = preannotate(ls_client, settings, project, batch_size=2, progress=worked.append)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=15)
        print(log.read_text()[-3000:])
    assert total == 5 and sorted(worked) == [1, 2, 2]
    assert len(outcome.predicted) == 5 and not outcome.failed
    predicted = _predicted(ls_client, project)
    assert all(len(p) == 1 and p[0]["model_version"] == "entities@clinical_ner.0" for p in predicted.values())
    labels = {r["value"]["labels"][0] for p in predicted.values() for r in p[0]["result"]}
    assert {"Medication / 약물", "Strength / 함량", "Lab value / 검사 수치"} <= labels
