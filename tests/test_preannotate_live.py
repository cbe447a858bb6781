"""`medlabel preannotate` on a live Label Studio with the ML backend as its own gunicorn process.

Label Studio drives: it calls the backend through its ML connection, which holds the backend's basic-auth
credentials. The CLI and the RQ worker run without those credentials, so predictions can only arrive if Label
Studio fetched them (the backend answers 401 to anyone else). ECG strips are served by a Local Files storage, so
the backend fetches them from Label Studio like in production; one task lacks its data key and must fail alone.
The queued variant runs the same batches as RQ jobs on a real Redis, executed by a real `rq worker` process.
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
from medlabel.projects import connect_ml_backend, create_project, local_files_url
from medlabel.settings import PROJECT_ROOT, Settings, get_settings
from medlabel.synthetic import synthetic_ecg, synthetic_note
from tests.fixtures.ml_backend import running_ml_backend, with_ml_auth


@pytest.fixture(scope="module")
def ml_url(ls_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_ml_backend(ls_settings, tmp_path_factory.mktemp("ml")) as url:
        yield url


def _project(client: LabelStudio, settings: Settings, template: str, ml_url: str) -> int:
    created = create_project(
        client, settings, template, f"preannotate {uuid.uuid4().hex[:8]}", Overrides(language="both")
    )
    connect_ml_backend(client, with_ml_auth(settings), created.id, ml_url)  # Label Studio: /health + /setup
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
    monkeypatch.delenv("BASIC_AUTH_USER", raising=False)
    monkeypatch.delenv("BASIC_AUTH_PASS", raising=False)
    monkeypatch.delenv("MEDLABEL_REDIS_URL", raising=False)
    get_settings.cache_clear()
    from medlabel.cli import main

    result = CliRunner().invoke(main, ["preannotate", "--project", str(project), "--batch", "2"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "4 tasks without predictions: 2 predicted, 1 with no regions, 1 failed" in result.output
    assert "task data has no 'csv'" in result.output

    predicted = _predicted(ls_client, project)
    with_predictions = {task: preds for task, preds in predicted.items() if any(p["result"] for p in preds)}
    assert len(with_predictions) == 2  # the two strips; neither the empty key nor the non-ECG CSV
    # Label Studio stored the backend's empty answer for the non-ECG CSV and nothing for the empty key.
    assert sorted(len(preds) for task, preds in predicted.items() if task not in with_predictions) == [0, 1]
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

    # Active learning: the routing layer reads each task's lowest score; a second run only meets the task whose
    # data key is empty (the backend's empty answer is a prediction: asking again would give the same).
    scores = lowest_prediction_scores(ls_client, project)
    assert {t: scores[t] for t in with_predictions} == pytest.approx(
        {task: preds[0]["score"] for task, preds in with_predictions.items()}
    )
    total, again = preannotate(ls_client, ls_settings, project)
    assert total == 1 and list(again.failed.values()) == ["task data has no 'csv'"] and not again.predicted


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
    for name in ("BASIC_AUTH_USER", "BASIC_AUTH_PASS"):
        env.pop(name, None)
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
