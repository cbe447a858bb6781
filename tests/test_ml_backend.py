"""The label-studio-ml server: served through its real Flask app, and connected by Label Studio itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio

from config_templates import get_template
from medlabel.projects import connect_ml_backend
from medlabel.settings import Settings
from ml_backend.model import MedlabelBackend
from tests.fixtures.ml_backend import ml_test_client, running_ml_backend, with_ml_auth


@pytest.fixture(scope="module")
def ml_client(tmp_path_factory: pytest.TempPathFactory):
    return ml_test_client(Settings(model_dir=tmp_path_factory.mktemp("models")))


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
    ls_client: LabelStudio, ls_settings: Settings, unique_title: str, tmp_path: Path
) -> None:
    with running_ml_backend(ls_settings, tmp_path) as url:
        project = ls_client.projects.create(
            title=unique_title, label_config=get_template("ktas_triage").render().xml
        )
        connect_ml_backend(ls_client, with_ml_auth(ls_settings), project.id, url)
        [backend] = ls_client.ml.list(project=project.id)
        assert backend.id and ls_client.ml.get(backend.id).state in ("CO", "CONNECTED", "Connected")
