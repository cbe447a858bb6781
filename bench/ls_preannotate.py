"""Pre-annotation rate through a live Label Studio: predictions stored one at a time (before) vs Label Studio's
`retrieve_tasks_predictions` action driven by `medlabel.preannotate` (after), in the same run.

    .venv/bin/python -m bench.preannotate --only label-studio [--ls-tasks 60]

Both flows run against one Label Studio (started here from `.ls-venv`, on SQLite, like the local stack) and one ML
backend process (gunicorn, threaded, basic auth, as the stack runs it), on fresh projects with fresh tasks, so no
prediction, model or media cache is shared. Each flow runs twice, interleaved, and the faster run counts: the
machine is shared and the other load hits both alike. Tasks per second = tasks predicted / wall time of the whole
command path (listing the tasks without predictions, predicting, storing, and for "after" reading back).

- before: the flow `medlabel preannotate` had before issue 17 (`run_batch` at commit 0024f81), restated here: per
  batch of 20, the platform POSTs /setup and /predict to the backend itself, then creates each prediction with
  the SDK's `predictions.create`, one request per task. (It also posted the admin's API token to /setup; here the
  token is left out, which changes nothing in the timing.)
- after: `medlabel.preannotate.preannotate`, batches of 20: one Data Manager action per batch; Label Studio calls
  the backend with its own ML connection and stores the batch's predictions within that one request.

Two task kinds: clinical notes (NER, ~3 ms per /predict: the rate is what the plumbing costs) and ECG strips
(beats, ~60 ms per /predict plus fetching the CSV from Label Studio's local-files storage: the model's share).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from label_studio_sdk import LabelStudio

from config_templates import Overrides
from medlabel.db import make_engine, upgrade
from medlabel.ls_server import LabelStudioServer, ensure_label_studio_venv
from medlabel.preannotate import preannotate, tasks_without_predictions
from medlabel.projects import connect_ml_backend, create_project, local_files_url
from medlabel.settings import PROJECT_ROOT, Settings
from medlabel.stack import _wait_healthy, start_ml_backend
from medlabel.synthetic import synthetic_ecg, synthetic_note

BATCH = 20  # `medlabel preannotate --batch` default, before and after
KINDS = {"clinical_ner": "clinical_ner_relations", "ecg_beats": "ecg_rhythm_strip_beats"}
ECG_CASES: list[dict[str, Any]] = [
    {"rhythm": "sinus_rhythm", "heart_rate": 72},
    {"rhythm": "atrial_fibrillation", "heart_rate": 90},
    {"rhythm": "sinus_rhythm", "heart_rate": 80, "pvc_every": 4},
    {"rhythm": "sinus_rhythm", "heart_rate": 115},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def services(root: Path, auth: tuple[str, str]) -> Iterator[tuple[Settings, str]]:
    """A hardened Label Studio and the ML backend wired to it; yields (platform settings, backend URL)."""
    server = LabelStudioServer(
        executable=ensure_label_studio_venv(PROJECT_ROOT / ".ls-venv"),
        home=root / "label-studio",
        media_root=root / "media",
        port=free_port(),
    )
    server.start()
    settings = dataclasses.replace(
        Settings(),
        label_studio_url=server.url,
        label_studio_api_key=server.api_key,
        state_dir=root,
        media_root=server.media_root,
        database_url=f"sqlite:///{root / 'platform.db'}",
        ml_basic_auth_user=auth[0],
        ml_basic_auth_pass=auth[1],
    )
    engine = make_engine(settings.database_url)  # the backend reads routing from the platform DB
    upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": settings.label_studio_api_key,
        "MEDLABEL_STATE_DIR": str(root),
        "MEDLABEL_DATABASE_URL": settings.database_url,
        "MODEL_DIR": str(root / "models"),
        "BASIC_AUTH_USER": auth[0],
        "BASIC_AUTH_PASS": auth[1],
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    port = free_port()
    backend = start_ml_backend(port, env, root / "ml-backend.log")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", backend, "ML backend", timeout=120)
        yield settings, f"http://127.0.0.1:{port}"
    finally:
        os.killpg(backend.pid, signal.SIGTERM)
        backend.wait(timeout=30)
        server.stop()


def make_project(
    client: LabelStudio, settings: Settings, ml_url: str, kind: str, count: int, seed: int
) -> int:
    """A new project of `kind` with `count` fresh tasks and the backend connected (through Label Studio)."""
    created = create_project(client, settings, KINDS[kind], f"bench {kind} {seed}", Overrides(language="en"))
    connect_ml_backend(client, settings, created.id, ml_url)
    if kind == "clinical_ner":
        tasks = [{"data": {"text": synthetic_note(seed + i).text}} for i in range(count)]
    else:
        folder = settings.media_root / f"bench-{seed}"
        folder.mkdir(parents=True)
        for i in range(count):
            synthetic_ecg(**ECG_CASES[i % len(ECG_CASES)], seed=seed + i).write_csv(folder / f"{i}.csv")
        client.import_storage.local.create(project=created.id, path=str(folder), use_blob_urls=True)
        tasks = [{"data": {"csv": local_files_url(f"{folder.name}/{i}.csv")}} for i in range(count)]
    client.projects.import_tasks(id=created.id, request=tasks)
    return created.id


def _task_dicts(client: LabelStudio, project_id: int, ids: list[int]) -> list[dict[str, Any]]:
    query = json.dumps({"selectedItems": {"all": False, "included": ids}})
    listed = client.tasks.list(project=project_id, fields="all", query=query, page_size=100)
    return [t.model_dump(mode="json") for t in listed if t.id in set(ids)]


def one_at_a_time(client: LabelStudio, settings: Settings, project_id: int, ml_url: str) -> int:
    """The pre-issue-17 flow: the platform calls the backend, then stores each prediction with its own request."""
    project = client.projects.get(id=project_id)
    xml = str(project.label_config)
    key = f"{project_id}.{int(project.created_at.timestamp()) if project.created_at else 0}"
    auth = (settings.ml_basic_auth_user, settings.ml_basic_auth_pass)
    ids = tasks_without_predictions(client, project_id)
    stored = 0
    for start in range(0, len(ids), BATCH):
        tasks = _task_dicts(client, project_id, ids[start : start + BATCH])
        setup = {"project": key, "schema": xml, "hostname": settings.label_studio_url, "access_token": ""}
        requests.post(f"{ml_url}/setup", json=setup, auth=auth, timeout=300).raise_for_status()
        body = {"tasks": tasks, "project": key, "label_config": xml, "params": {}}
        answer = requests.post(f"{ml_url}/predict", json=body, auth=auth, timeout=300)
        answer.raise_for_status()
        for task, prediction in zip(tasks, answer.json()["results"], strict=True):
            if prediction.get("result"):
                client.predictions.create(
                    task=task["id"],
                    result=prediction["result"],
                    score=float(prediction.get("score") or 0.0),
                    model_version=str(prediction.get("model_version") or "medlabel"),
                )
                stored += 1
    return stored


def label_studio_action(client: LabelStudio, settings: Settings, project_id: int, _ml_url: str) -> int:
    """The current flow: `medlabel preannotate` in-process, Label Studio calling the backend."""
    _, outcome = preannotate(client, settings, project_id, batch_size=BATCH)
    if outcome.failed:
        raise RuntimeError(f"pre-annotation failed on {len(outcome.failed)} tasks: {outcome.failed}")
    return len(outcome.predicted)


Flow = Callable[[LabelStudio, Settings, int, str], int]


def measure(count: int) -> dict[str, dict[str, float]]:
    """kind → {"before": tasks/s, "after": tasks/s}, the faster of two interleaved runs each."""
    rates: dict[str, dict[str, float]] = {kind: {"before": 0.0, "after": 0.0} for kind in KINDS}
    flows: dict[str, Flow] = {"before": one_at_a_time, "after": label_studio_action}
    with tempfile.TemporaryDirectory(prefix="bench-ls-preannotate-") as tmp:
        with services(Path(tmp), ("bench", secrets.token_urlsafe(24))) as (settings, ml_url):
            client = LabelStudio(base_url=settings.label_studio_url, api_key=settings.label_studio_api_key)
            seed = 0
            for kind in KINDS:
                for name in ("before", "after", "before", "after"):
                    seed += 1000
                    project = make_project(client, settings, ml_url, kind, count, seed)
                    started = time.perf_counter()
                    done = flows[name](client, settings, project, ml_url)
                    elapsed = time.perf_counter() - started
                    if done != count:
                        raise RuntimeError(f"{name} {kind}: {done} of {count} tasks got a prediction")
                    rates[kind][name] = max(rates[kind][name], count / elapsed)
    return rates


def report(count: int) -> None:
    """Print the before/after rates and their ratio per task kind."""
    load = os.getloadavg()[0]
    rates = measure(count)
    print(
        f"\npre-annotation through Label Studio, {count} tasks per run, batches of {BATCH}, best of 2 runs "
        f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores shared)"
    )
    print(f"{'task kind':<14}{'before tasks/s':>16}{'after tasks/s':>15}{'ratio':>8}")
    for kind, rate in rates.items():
        print(
            f"{kind:<14}{rate['before']:>16.1f}{rate['after']:>15.1f}{rate['after'] / rate['before']:>7.1f}x"
        )
