"""Batch pre-annotation of a project's existing tasks, driven by Label Studio, and the scores routing uses to
send uncertain tasks first.

Label Studio talks to the ML backend, the platform never does: each batch is one `retrieve_tasks_predictions`
Data Manager action on the batch's task ids, and Label Studio calls the backend's /setup and /predict through
its own ML connection (the credentials it holds, basic auth included) and stores the answers in bulk. So no API
token travels to the backend from here, and nothing is created one prediction at a time.

`preannotate` splits the tasks without predictions into batches; each batch is one job (`run_batch`): RQ on
Redis when MEDLABEL_REDIS_URL is set, in-process otherwise. A task that cannot be predicted (its data key is
missing, the backend fails on it) is reported and skipped; the others go on. Label Studio drops a whole batch
when the backend fails on one of its tasks, so the tasks of such a batch are retried one by one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk import LabelStudio

from medlabel.errors import MedlabelError
from medlabel.labeling_config import data_keys, parse
from medlabel.ls_client import call, make_client
from medlabel.settings import Settings, get_settings

QUEUE_NAME = "medlabel-preannotate"
#: Seconds one batch may take: Label Studio answers the action once the backend has predicted the batch.
PREDICT_TIMEOUT = 300.0
#: Label Studio's ML connection states (`ml/models.py::MLBackendState`) that mean no prediction was asked for.
BACKEND_DOWN = {
    "DI": "Label Studio cannot reach the ML backend",
    "ER": "the ML backend answers /setup with an error",
}


class PreannotateError(MedlabelError):
    """The project cannot be pre-annotated (no ML backend connected)."""

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


def connected_backend(client: LabelStudio, project_id: int) -> int:
    """Id of the ML connection Label Studio predicts the project's tasks with."""
    backends = call("list ML backends", lambda: client.ml.list(project=project_id))
    if not backends or backends[0].id is None:
        raise PreannotateError(
            f"project {project_id} has no ML backend connected (connect one in Label Studio)"
        )
    return int(backends[0].id)


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


# ------------------------------------------------------------------ one batch (the job)


def _retrieve(client: LabelStudio, project_id: int, task_ids: Sequence[int]) -> None:
    """Label Studio predicts these tasks with the project's ML backend and stores the predictions."""
    call(
        "retrieve predictions",
        lambda: client.actions.create(
            id="retrieve_tasks_predictions",
            project=project_id,
            selected_items={"all": False, "included": list(task_ids)},
            request_options={"timeout_in_seconds": int(PREDICT_TIMEOUT)},
        ),
    )


def _stored(client: LabelStudio, project_id: int, task_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    return {t["id"]: list(t.get("predictions") or []) for t in _tasks(client, project_id, task_ids)}


def _unanswered_reason(client: LabelStudio, project_id: int) -> str:
    """Why Label Studio stored no prediction, from its ML connection's state (asked only when one is missing)."""
    backend = call("read ML backend", lambda: client.ml.get(id=connected_backend(client, project_id)))
    return BACKEND_DOWN.get(str(backend.state), "the ML backend failed on this task (its log says why)")


def run_batch(project_id: int, task_ids: Sequence[int], settings: Settings | None = None) -> dict[str, Any]:
    """Have Label Studio predict one batch; the job RQ runs (its result is `BatchResult.as_dict()`, JSON only).

    The Label Studio token comes from the worker's own settings, never through the queue.
    """
    settings = settings or get_settings()
    client = make_client(settings, timeout=PREDICT_TIMEOUT)
    project = call("read project", lambda: client.projects.get(id=project_id))
    keys = data_keys(parse(str(project.label_config)))
    outcome = BatchResult()
    ready = []
    for task in _tasks(client, project_id, task_ids):
        missing = sorted(k for k in keys if (task.get("data") or {}).get(k) in (None, ""))
        if missing:
            outcome.failed[task["id"]] = f"task data has no {', '.join(map(repr, missing))}"
        else:
            ready.append(task["id"])
    for task_id in set(task_ids) - set(ready) - set(outcome.failed):
        outcome.failed[task_id] = "task not found in the project"
    if not ready:
        return outcome.as_dict()
    _retrieve(client, project_id, ready)
    stored = _stored(client, project_id, ready)
    unanswered = [t for t in ready if not stored.get(t)]
    if unanswered and len(ready) > 1:
        for task_id in unanswered:  # Label Studio dropped the batch: find the task(s) at fault one by one
            _retrieve(client, project_id, [task_id])
        stored.update(_stored(client, project_id, unanswered))
    reason = _unanswered_reason(client, project_id) if any(not stored.get(t) for t in ready) else ""
    for task_id in ready:
        predictions = stored.get(task_id)
        if not predictions:
            outcome.failed[task_id] = reason
        elif any(p.get("result") for p in predictions):
            outcome.predicted.append(task_id)
        else:
            outcome.empty.append(task_id)  # the backend logs why (e.g. media that does not decode)
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
    connected_backend(client, project_id)
    ids = tasks_without_predictions(client, project_id)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    if start:
        start(len(ids))
    outcome = BatchResult()
    if settings.redis_url:
        _run_queued(settings, project_id, batches, outcome, progress)
    else:
        for batch in batches:
            outcome.merge(BatchResult.from_dict(run_batch(project_id, batch, settings)))
            if progress:
                progress(len(batch))
    return len(ids), outcome


def _run_queued(
    settings: Settings,
    project_id: int,
    batches: list[list[int]],
    outcome: BatchResult,
    progress: Callable[[int], None] | None,
) -> None:
    """Enqueue one RQ job per batch and wait for the workers; a job that dies fails its tasks, not the run."""
    from redis import Redis
    from rq import Queue

    queue = Queue(QUEUE_NAME, connection=Redis.from_url(settings.redis_url))
    jobs = {
        queue.enqueue(run_batch, project_id, batch, job_timeout=int(PREDICT_TIMEOUT) * 2).id: batch
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
