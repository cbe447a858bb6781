"""End to end on a live Label Studio: the backend learns from physicians' annotations and gets better.

A project from the CheXpert chest template whose findings label set is replaced by the image's modality (CT, MR,
CR: a fact from the DICOM header, independent of any model); the backend runs as its own gunicorn process and is
connected through Label Studio's ML API by `create_project`; Label Studio itself fetches the predictions (Data
Manager action) and forwards annotations to the backend's /webhook, which re-fits in a forked process.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from label_studio_sdk import LabelStudio
from sqlalchemy import select

from config_templates import LabelEntry, Overrides
from medlabel.db import platform_session
from medlabel.errors import LabelStudioError
from medlabel.models import Physician
from medlabel.projects import create_project, local_files_url
from medlabel.routing.demo import seed_demo_routing
from medlabel.routing.service import reads_of
from medlabel.settings import Settings
from tests.fixtures.label_studio import free_port, project_count
from tests.fixtures.ml_backend import running_ml_backend, with_ml_auth
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


def _annotate(client: LabelStudio, tasks: list[tuple[int, str]], **author: int) -> list[int]:
    """Annotate each task with its modality, by the API's user or, with `completed_by`, credited to another."""
    return [
        client.annotations.create(
            id=task_id,
            **author,
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
        ).id
        for task_id, modality in tasks
    ]


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
        with_ml_auth(ls_settings),
        "chest_xray_chexpert",
        unique_title,
        Overrides(language="en", labels={"findings": entries}),
        ml_backend_url=ml_backend,
    )
    project = created.id
    backends = list(ls_client.ml.list(project=project))
    assert len(backends) == 1 and backends[0].url == ml_backend and backends[0].auth_method == "BASIC_AUTH"

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
            with_ml_auth(ls_settings),
            "chest_xray_chexpert",
            unique_title,
            ml_backend_url=f"http://127.0.0.1:{free_port()}",
        )
    assert project_count(ls_client) == before


def _until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.3)


def test_backend_learns_only_from_physicians_routed_to_the_task(
    ls_client: LabelStudio, ls_settings: Settings, unique_title: str, tmp_path: Path
) -> None:
    # Community lets any member annotate any task; an annotation credited to a physician who holds no
    # assignment of the task must not shape the model, while routed physicians and the admin teach it.
    settings = with_ml_auth(
        dataclasses.replace(
            ls_settings, state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'platform.db'}"
        )
    )
    entries = [LabelEntry(code=m.lower(), en=m, ko=m) for m in MODALITIES]
    with running_ml_backend(settings, tmp_path) as ml_url, platform_session(settings) as session:
        created = create_project(
            ls_client,
            settings,
            "chest_xray_chexpert",
            unique_title,
            Overrides(language="en", labels={"findings": entries}),
            session=session,
            ml_backend_url=ml_url,
        )
        project = created.id
        items = modality_images(1, seed=21)  # one image per modality
        tasks = _import(ls_client, settings, project, items, "routed")
        seed_demo_routing(session, ls_client, settings, project, size=12, seed=31)  # 3 reads of 6 qualified
        physicians = list(session.scalars(select(Physician)))
        reads = reads_of(session, tasks[:2])
        unrouted = next(p for p in physicians if (tasks[0], p.id) not in reads)
        routed = next(p for p in physicians if (tasks[1], p.id) in reads)
        for physician in (
            unrouted,
            routed,
        ):  # their Label Studio users (the invite flow makes them in production)
            email = f"ml-routed-{uuid.uuid4().hex[:8]}@example.org"
            physician.ls_user_id = ls_client.users.create(username=email, email=email).id
        session.commit()
        log = tmp_path / "ml-backend.log"

        def findings() -> dict[str, Any]:
            models = requests.get(f"{ml_url}/health", timeout=5).json()["models"]
            found = [m for m in models if m.get("project") == project and m.get("control") == "findings"]
            return found[0] if found else {"examples": 0, "version": "0"}

        def skipped(annotation_id: int) -> int:
            lines = log.read_text().splitlines()
            return sum("not routed to" in line and f"'{annotation_id}'" in line for line in lines)

        [by_unrouted] = _annotate(
            ls_client, [(tasks[0], items[0].modality)], completed_by=unrouted.ls_user_id
        )
        _until(lambda: skipped(by_unrouted) >= 1, "the unrouted physician's annotation is skipped")
        _annotate(ls_client, [(tasks[1], items[1].modality)], completed_by=routed.ls_user_id)
        _until(lambda: findings()["examples"] == 1, "the routed physician's annotation is learned")
        _annotate(ls_client, [(tasks[2], items[2].modality)])  # the admin: not a physician
        _until(lambda: findings()["examples"] == 2, "the admin's annotation is learned")
        runs = skipped(by_unrouted)

        # "Train" re-reads every annotation of the project (START_TRAINING or /train): still not that one
        version = int(findings()["version"])
        [backend] = ls_client.ml.list(project=project)
        ls_client.ml.train(id=backend.id)
        _until(lambda: int(findings()["version"]) > version, "the re-fit from all annotations")
        assert findings()["examples"] == 2 and skipped(by_unrouted) > runs
