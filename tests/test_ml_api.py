"""The backend's HTTP protocol as Label Studio speaks it, through the real Flask app and label-studio-ml's
forked fit jobs (no Label Studio server: task media is served over HTTP from a temporary folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from medlabel.settings import Settings
from medlabel.stack import _wait_healthy
from tests.fixtures.label_studio import free_port
from tests.fixtures.ml_backend import ML_AUTH, ml_test_client
from tests.fixtures.ml_media import annotation, modality_config, tasks_for
from tests.fixtures.modality_images import modality_images


def _client(model_dir: Path) -> Any:
    return ml_test_client(Settings(model_dir=model_dir))


def _findings_version(client: Any, project: int) -> int:
    models = client.get("/health").get_json()["models"]
    return next(
        (int(m["version"]) for m in models if m["project"] == project and m["control"] == "findings"), 0
    )


def test_predict_before_setup_after_a_restart_is_served(tmp_path: Path) -> None:
    # label-studio-ml 1.0.9 answers 500 here; Label Studio may call /predict first after a backend restart
    response = _client(tmp_path).post(
        "/predict",
        json={
            "tasks": [{"id": 1, "data": {"image": "/x.png"}}],
            "project": "3.1",
            "label_config": modality_config(),
        },
    )
    assert response.status_code == 200 and response.get_json()["results"][0]["result"] == []


def test_annotation_webhooks_reach_fit_in_forked_jobs(media: tuple[Path, str], tmp_path: Path) -> None:
    client, xml = _client(tmp_path), modality_config()
    items = modality_images(2, seed=5)
    tasks = tasks_for(items, media, 1)
    project = {"id": 31, "label_config": xml}
    setup = client.post(
        "/setup", json={"project": "31.1", "schema": xml, "access_token": "t", "hostname": ""}
    )
    assert "findings@image_choices.0" in setup.get_json()["model_version"]
    for task, item in zip(tasks, items, strict=True):
        event = {
            "action": "ANNOTATION_CREATED",
            "project": project,
            "task": task,
            "annotation": annotation(item.modality),
        }
        assert client.post("/webhook", json=event).status_code == 201
    deadline = time.monotonic() + 60
    while _findings_version(client, 31) < len(tasks) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _findings_version(client, 31) == len(tasks)
    after = client.post("/setup", json={"project": "31.1", "schema": xml}).get_json()["model_version"]
    assert f"findings@image_choices.{len(tasks)}" in after
    # /health describes the models of the projects this worker serves, with their training-set size
    models = {m["control"]: m for m in client.get("/health").get_json()["models"] if m["project"] == 31}
    assert models["findings"]["kind"] == "image_choices" and models["findings"]["examples"] == len(tasks)


def test_train_endpoint_refits_from_the_annotated_tasks_it_is_sent(
    media: tuple[Path, str],
    tmp_path: Path,
) -> None:
    # Label Studio without the START_TRAINING webhook flag posts the annotated tasks to /train
    client, xml = _client(tmp_path), modality_config()
    items = modality_images(2, seed=6)
    annotated = [
        {**task, "annotations": [annotation(item.modality)]}
        for task, item in zip(tasks_for(items, media, 1), items, strict=True)
    ]
    response = client.post("/train", json={"annotations": annotated, "project": "32.1", "label_config": xml})
    assert response.status_code == 201 and "findings@image_choices.1" in response.get_json()["model_version"]
    assert _findings_version(client, 32) == 1


def test_medlabel_ml_serve_runs_the_backend_under_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MODEL_DIR": str(tmp_path / "models"),
        "MEDLABEL_STATE_DIR": str(tmp_path),
        "BASIC_AUTH_USER": ML_AUTH[0],
        "BASIC_AUTH_PASS": ML_AUTH[1],
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "medlabel"), "ml", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=(tmp_path / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server, "medlabel ml serve")
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.json()["status"] == "UP" and str(tmp_path) not in health.text
        assert requests.post(f"http://127.0.0.1:{port}/setup", json={}, timeout=5).status_code == 401
        # a worker still booting when SIGTERM arrives makes gunicorn wait its whole graceful timeout
        deadline = time.monotonic() + 30
        while (tmp_path / "serve.log").read_text().count(
            "Booting worker"
        ) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
