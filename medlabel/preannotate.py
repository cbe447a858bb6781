"""Batch pre-annotation of a project's existing tasks through its connected ML backend, and the scores
routing uses to send uncertain tasks first.

`preannotate` splits the tasks without predictions into batches; each batch is one job (`run_batch`): RQ on
Redis when MEDLABEL_REDIS_URL is set, in-process otherwise. A batch calls the backend's /setup and /predict
the way Label Studio does and stores what comes back with `predictions.create`. A task that cannot be
predicted (its data key is missing, the backend fails on it) is reported and skipped; the others go on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface

from medlabel.errors import LabelStudioError, MedlabelError
from medlabel.ls_client import call, make_client
from medlabel.settings import Settings, get_settings

QUEUE_NAME = "medlabel-preannotate"
PREDICT_TIMEOUT = 300.0


class PreannotateError(MedlabelError):
    """The project cannot be pre-annotated (no ML backend connected, backend unreachable)."""

    code = "preannotate_error"
    http_status = 400
    exit_code = 2


@dataclass
class BatchResult:
    """What happened to each task of a batch: predicted, answered with no region, or failed (with why)."""

    predicted: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> None:
        self.predicted += other.predicted
        self.empty += other.empty
        self.failed.update(other.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "predicted": self.predicted,
            "empty": self.empty,
            "failed": {str(k): v for k, v in self.failed.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchResult:
        return cls(
            list(data["predicted"]), list(data["empty"]), {int(k): v for k, v in data["failed"].items()}
        )


# ------------------------------------------------------------------ reading the project


def ml_backend_url(client: LabelStudio, project_id: int) -> str:
    """URL of the ML backend connected to the project in Label Studio."""
    backends = call("list ML backends", lambda: client.ml.list(project=project_id))
    if not backends or not backends[0].url:
        raise PreannotateError(
            f"project {project_id} has no ML backend connected (connect one in Label Studio)"
        )
    return str(backends[0].url).rstrip("/")


def _tasks(client: LabelStudio, project_id: int, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    # Listing, not tasks.get: reading a single task through the API makes Label Studio predict it itself.
    query = None if ids is None else json.dumps({"selectedItems": {"all": False, "included": list(ids)}})
    tasks = call(
        "list tasks",
        lambda: [
            t.model_dump(mode="json")
            for t in client.tasks.list(project=project_id, fields="all", query=query, page_size=100)
        ],
    )
    return tasks if ids is None else [t for t in tasks if t["id"] in set(ids)]


def tasks_without_predictions(client: LabelStudio, project_id: int) -> list[int]:
    return [
        t["id"]
        for t in _tasks(client, project_id)
        if not t.get("total_predictions") and not t.get("predictions")
    ]


def _data_keys(label_config: str) -> set[str]:
    """The task data keys the config's object tags read (`$csv` → "csv")."""
    return {obj.value_name for obj in LabelInterface(label_config).objects if obj.value_name}


# ------------------------------------------------------------------ one batch (the job)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(url, json=body, timeout=PREDICT_TIMEOUT)
    if response.status_code != 200:
        raise PreannotateError(f"{url} answered {response.status_code}")
    return dict(response.json())


def _predict(
    ml_url: str, project: str, label_config: str, tasks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    body = _post(
        f"{ml_url}/predict", {"tasks": tasks, "project": project, "label_config": label_config, "params": {}}
    )
    results = body.get("results") or []
    if len(results) != len(tasks):
        raise PreannotateError(f"the ML backend answered {len(results)} predictions for {len(tasks)} tasks")
    for prediction in results:
        prediction.setdefault("model_version", body.get("model_version"))
    return results


def run_batch(
    project_id: int, task_ids: Sequence[int], ml_url: str, settings: Settings | None = None
) -> dict[str, Any]:
    """Predict and store one batch; the job RQ runs (its result is `BatchResult.as_dict()`, JSON only).

    The Label Studio token comes from the worker's own settings, never through the queue.
    """
    settings = settings or get_settings()
    client = make_client(settings)
    project = call("read project", lambda: client.projects.get(id=project_id))
    label_config = str(project.label_config)
    keys = _data_keys(label_config)
    outcome = BatchResult()
    ready = []
    for task in _tasks(client, project_id, task_ids):
        missing = sorted(k for k in keys if (task.get("data") or {}).get(k) in (None, ""))
        if missing:
            outcome.failed[task["id"]] = f"task data has no {', '.join(map(repr, missing))}"
        else:
            ready.append(task)
    for task_id in set(task_ids) - {t["id"] for t in ready} - set(outcome.failed):
        outcome.failed[task_id] = "task not found in the project"
    if not ready:
        return outcome.as_dict()
    created = project.created_at.timestamp() if project.created_at else 0
    key = f"{project_id}.{int(created)}"  # Label Studio's own form of the project key
    try:
        _post(f"{ml_url}/setup", {"project": key, "schema": label_config, "hostname": settings.label_studio_url,
                                  "access_token": settings.label_studio_api_key})  # fmt: skip
        pairs = list(zip(ready, _predict(ml_url, key, label_config, ready), strict=True))
    except (PreannotateError, requests.RequestException, ValueError):
        pairs = []
        for task in ready:  # the batch failed as a whole: find the task(s) at fault one by one
            try:
                pairs.append((task, _predict(ml_url, key, label_config, [task])[0]))
            except (PreannotateError, requests.RequestException, ValueError) as exc:
                outcome.failed[task["id"]] = f"ML backend: {exc.__class__.__name__}: {exc}"
    for task, prediction in pairs:
        if not prediction.get("result"):
            outcome.empty.append(task["id"])  # the backend logs why (e.g. media that does not decode)
            continue
        try:
            call(
                "store prediction",
                lambda t=task, p=prediction: client.predictions.create(
                    task=t["id"], result=p["result"], score=float(p.get("score") or 0.0),
                    model_version=str(p.get("model_version") or "medlabel"),
                ),
            )  # fmt: skip
        except LabelStudioError as exc:
            # e.g. the task was deleted meanwhile: this task fails, the rest of the batch goes on
            outcome.failed[task["id"]] = str(exc)
            continue
        outcome.predicted.append(task["id"])
    return outcome.as_dict()


# ------------------------------------------------------------------ the whole project


def preannotate(
    client: LabelStudio,
    settings: Settings,
    project_id: int,
    batch_size: int = 20,
    progress: Callable[[int], None] | None = None,
    start: Callable[[int], None] | None = None,
) -> tuple[int, BatchResult]:
    """Pre-annotate every task of the project that has no prediction yet; returns (task count, outcome).

    `start(total)` is called once the tasks are counted, `progress(n)` with the task count of each finished batch.
    """
    if batch_size < 1:
        raise PreannotateError("--batch must be at least 1")
    ml_url = ml_backend_url(client, project_id)
    try:
        requests.get(f"{ml_url}/health", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        raise PreannotateError(f"the ML backend at {ml_url} does not answer /health: {exc}") from exc
    ids = tasks_without_predictions(client, project_id)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    if start:
        start(len(ids))
    outcome = BatchResult()
    if settings.redis_url:
        _run_queued(settings, project_id, batches, ml_url, outcome, progress)
    else:
        for batch in batches:
            outcome.merge(BatchResult.from_dict(run_batch(project_id, batch, ml_url, settings)))
            if progress:
                progress(len(batch))
    return len(ids), outcome


def _run_queued(
    settings: Settings,
    project_id: int,
    batches: list[list[int]],
    ml_url: str,
    outcome: BatchResult,
    progress: Callable[[int], None] | None,
) -> None:
    """Enqueue one RQ job per batch and wait for the workers; a job that dies fails its tasks, not the run."""
    from redis import Redis
    from rq import Queue

    queue = Queue(QUEUE_NAME, connection=Redis.from_url(settings.redis_url))
    jobs = {
        queue.enqueue(run_batch, project_id, batch, ml_url, job_timeout=int(PREDICT_TIMEOUT) * 2).id: batch
        for batch in batches
    }
    pending = dict(jobs)
    while pending:
        for job in queue.job_class.fetch_many(list(pending), connection=queue.connection):
            if job is None:
                continue
            status = job.get_status(refresh=False)
            batch = pending[job.id]
            if status == "finished":
                outcome.merge(BatchResult.from_dict(job.return_value()))
            elif status in ("failed", "stopped", "canceled"):
                result = job.latest_result()
                reason = ((result.exc_string if result else None) or status).strip().splitlines()[-1]
                outcome.failed.update({task_id: f"job {status}: {reason}" for task_id in batch})
            else:
                continue
            del pending[job.id]
            if progress:
                progress(len(batch))
        if pending:
            time.sleep(0.2)


# ------------------------------------------------------------------ active learning


def lowest_prediction_scores(client: LabelStudio, project_id: int) -> dict[int, float]:
    """Label Studio task id → the lowest score among its latest predictions (the most recent model_version).

    Routing sends the lowest first: the model is least sure there, so a physician's read teaches it most.
    Tasks without a scored prediction are left out.
    """
    latest: dict[int, tuple[Any, list[float]]] = {}
    predictions = call("list predictions", lambda: client.predictions.list(project=project_id))
    for prediction in sorted(predictions, key=lambda p: (p.created_at is not None, p.created_at, p.id or 0)):
        if prediction.score is None or prediction.task is None:
            continue
        version, scores = latest.get(prediction.task, (None, []))
        if version != prediction.model_version:
            scores = []  # a newer model version supersedes what older ones said
        latest[prediction.task] = (prediction.model_version, [*scores, float(prediction.score)])
    return {task: min(scores) for task, (_, scores) in latest.items()}
