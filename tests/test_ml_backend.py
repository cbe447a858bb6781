"""The label-studio-ml server: served through its real Flask app, and connected by Label Studio itself."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio

from config_templates import get_template
from medlabel.stack import _gunicorn, _wait_healthy
from ml_backend.model import MedlabelBackend
from tests.fixtures.label_studio import free_port


@pytest.fixture(scope="module")
def ml_client():
    from ml_backend._wsgi import app

    return app.test_client()


def test_health_setup_predict_round_trip(ml_client) -> None:
    xml = get_template("chest_xray_chexpert").render().xml
    assert ml_client.get("/health").get_json()["status"] == "UP"
    assert ml_client.post("/setup", json={"project": "1.1", "schema": xml}).status_code == 200
    response = ml_client.post(
        "/predict",
        json={"tasks": [{"id": 1, "data": {"image": "/x.png"}}], "project": "1.1", "label_config": xml},
    )
    body = response.get_json()
    assert response.status_code == 200 and len(body["results"]) == 1 and "model_version" in body


def test_train_events_cover_what_label_studio_sends() -> None:
    # label-studio-ml 1.0.9 misses both; Label Studio's WebhookAction names them so.
    assert {"ANNOTATIONS_DELETED", "START_TRAINING"} <= set(MedlabelBackend.TRAIN_EVENTS)


def test_label_studio_connects_the_backend_on_loopback_through_ssrf_protection(
    ls_client: LabelStudio, unique_title: str, tmp_path: Path
) -> None:
    port = free_port()
    server = _gunicorn("ml_backend._wsgi:app", port, dict(os.environ), tmp_path / "ml.log")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server, "ML backend")
        project = ls_client.projects.create(
            title=unique_title, label_config=get_template("ktas_triage").render().xml
        )
        backend = ls_client.ml.create(url=f"http://127.0.0.1:{port}", project=project.id, title="medlabel")
        assert backend.id and ls_client.ml.get(backend.id).state in ("CO", "CONNECTED", "Connected")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
