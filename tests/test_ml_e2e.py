"""End to end on a live Label Studio: the backend learns from physicians' annotations and gets better.

A project from the CheXpert chest template whose findings label set is replaced by the image's modality (CT, MR,
CR: a fact from the DICOM header, independent of any model); the backend runs as its own gunicorn process and is
connected through Label Studio's ML API by `create_project`; Label Studio itself fetches the predictions (Data
Manager action) and forwards annotations to the backend's /webhook, which re-fits in a forked process.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from label_studio_sdk import LabelStudio

from config_templates import LabelEntry, Overrides
from medlabel.errors import LabelStudioError
from medlabel.projects import create_project, local_files_url
from medlabel.settings import Settings
from tests.fixtures.label_studio import free_port, project_count
from tests.fixtures.ml_backend import running_ml_backend
from tests.fixtures.ml_media import MODALITIES
from tests.fixtures.modality_images import modality_images


@pytest.fixture
def ml_backend(ls_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with running_ml_backend(ls_settings, tmp_path) as url:
        yield url


def _import(client: LabelStudio, settings: Settings, project: int, items: list[Any], name: str) -> list[int]:
    """Save images under the media root, serve them through a Local Files storage, import one task each."""
    folder = settings.media_root / f"ml-e2e-{uuid.uuid4().hex[:8]}-{name}"
    folder.mkdir(parents=True)
    data = []
    for i, item in enumerate(items):
        item.image.save(folder / f"{i}.png")
        data.append(
            {"data": {"image": local_files_url(f"{folder.name}/{i}.png")}, "meta": {"truth": item.modality}}
        )
    client.import_storage.local.create(project=project, path=str(folder), title=name, use_blob_urls=True)
    before = {t.id for t in client.tasks.list(project=project)}
    client.projects.import_tasks(id=project, request=data)
    return sorted({t.id for t in client.tasks.list(project=project)} - before)


def _retrieve_and_score(
    client: LabelStudio, project: int, held_out: dict[int, str]
) -> tuple[str, float, int]:
    """Let Label Studio fetch predictions; the newest model_version's accuracy on the held-out tasks."""
    client.actions.create(
        id="retrieve_tasks_predictions",
        project=project,
        selected_items={"all": False, "included": list(held_out)},
    )
    latest: dict[int, dict[str, Any]] = {}
    for task in client.tasks.list(project=project, fields="all"):
        if task.id in held_out and task.predictions:
            latest[task.id] = max(task.predictions, key=lambda p: p.id if hasattr(p, "id") else p["id"])
    predictions = [p if isinstance(p, dict) else p.model_dump() for p in latest.values()]
    version = max((p["model_version"] for p in predictions), key=lambda v: v or "", default="")
    correct = 0
    for task_id, p in zip(latest, predictions, strict=True):
        answer = [c for r in p["result"] or [] if r["from_name"] == "findings" for c in r["value"]["choices"]]
        correct += answer == [held_out[task_id]]
    return version, correct / len(held_out), len(predictions)


def _annotate(client: LabelStudio, tasks: list[tuple[int, str]]) -> None:
    for task_id, modality in tasks:
        client.annotations.create(
            id=task_id,
            result=[
                {
                    "from_name": "findings",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": [modality]},
                },
                {
                    "from_name": "certainty",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": ["All certain"]},
                },
            ],
        )


def _wait_for_examples(ml_url: str, project: int, count: int, timeout: float = 60) -> None:
    """Fit runs in a forked process per event: wait until the findings model has seen `count` annotations."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        models = requests.get(f"{ml_url}/health", timeout=5).json()["models"]
        found = [m for m in models if m.get("project") == project and m.get("control") == "findings"]
        if found and int(found[0]["version"]) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"the backend did not learn {count} annotations in {timeout} s: {models}")


def test_backend_learns_from_annotations_through_label_studio(
    ls_client: LabelStudio, ls_settings: Settings, ml_backend: str, unique_title: str
) -> None:
    entries = [LabelEntry(code=m.lower(), en=m, ko=m) for m in MODALITIES]
    created = create_project(
        ls_client,
        ls_settings,
        "chest_xray_chexpert",
        unique_title,
        Overrides(language="en", labels={"findings": entries}),
        ml_backend_url=ml_backend,
    )
    project = created.id
    backends = list(ls_client.ml.list(project=project))
    assert len(backends) == 1 and backends[0].url == ml_backend

    train, test = modality_images(5, seed=12), modality_images(8, seed=112)
    train_ids = _import(ls_client, ls_settings, project, train, "train")
    test_ids = _import(ls_client, ls_settings, project, test, "held-out")
    held_out = dict(zip(test_ids, [item.modality for item in test], strict=True))
    labelled = list(zip(train_ids, [item.modality for item in train], strict=True))

    version0, accuracy0, count0 = _retrieve_and_score(ls_client, project, held_out)
    assert count0 == len(held_out) and accuracy0 == 0.0  # predictions exist but are empty before training
    assert "findings@image_choices.0" in version0

    first_of_each = [next(t for t in labelled if t[1] == m) for m in MODALITIES]
    _annotate(ls_client, first_of_each)
    _wait_for_examples(ml_backend, project, len(first_of_each))
    version1, accuracy1, _ = _retrieve_and_score(ls_client, project, held_out)

    _annotate(ls_client, [t for t in labelled if t not in first_of_each])
    _wait_for_examples(ml_backend, project, len(labelled))
    version2, accuracy2, _ = _retrieve_and_score(ls_client, project, held_out)

    print(
        f"held-out accuracy: {accuracy0:.2f} ({version0}) → {accuracy1:.2f} ({version1}) → {accuracy2:.2f} ({version2})"
    )
    assert len({version0, version1, version2}) == 3
    assert accuracy0 < accuracy1 < accuracy2 and accuracy2 >= 0.8


def test_project_with_an_unreachable_backend_is_not_left_behind(
    ls_client: LabelStudio, ls_settings: Settings, unique_title: str
) -> None:
    before = project_count(ls_client)
    with pytest.raises(LabelStudioError, match="connect ML backend"):
        create_project(
            ls_client,
            ls_settings,
            "chest_xray_chexpert",
            unique_title,
            ml_backend_url=f"http://127.0.0.1:{free_port()}",
        )
    assert project_count(ls_client) == before
