"""MedlabelBackend: reads the project's labeling config and runs one control model per supported control."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from label_studio_ml.model import LabelStudioMLBase
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface

from medlabel.errors import MedlabelError
from medlabel.settings import Settings, get_settings
from ml_backend.control_models import CONTROL_MODELS
from ml_backend.control_models.base import ControlModel, ControlModelError, Example, MediaResolver, ModelStore
from ml_backend.routed import routed_only

logger = logging.getLogger(__name__)

#: Events whose payload carries the annotation itself; every other training event re-reads the project.
_INCREMENTAL_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")


def project_id_of(project: Any) -> int:
    """Label Studio's project id from what it sends: "12.1700000000" (/setup, /predict), 12, or {"id": 12}."""
    if isinstance(project, dict):
        project = project.get("id")
    try:
        return int(str(project).split(".")[0])
    except ValueError:
        raise ControlModelError(f"cannot read a project id from {project!r}") from None


class MedlabelBackend(LabelStudioMLBase):
    """One instance per request; all state lives in the control models' stores under `model_dir`."""

    # label-studio-ml 1.0.9 listens for ANNOTATION_DELETED, but Label Studio sends ANNOTATIONS_DELETED, and the
    # "train" button sends START_TRAINING: both must reach fit().
    TRAIN_EVENTS = (
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "ANNOTATIONS_DELETED",
        "START_TRAINING",
        "PROJECT_UPDATED",
    )

    #: Label Studio API token per project, as the last /setup of this process sent it. Kept in memory only
    #: (never written or logged); fit jobs are forked from the worker and inherit it. Shared by the worker's
    #: threads: single-key reads and writes of a dict are atomic in CPython, and the last /setup wins anyway.
    tokens: dict[int, str] = {}

    def __init__(
        self,
        label_config: str | None = None,
        train_output: dict | None = None,
        project: Any = None,
        model_dir: Path | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label_config=label_config, train_output=train_output, **kwargs)
        self.settings = settings or get_settings()
        self.interface = LabelInterface(label_config) if label_config else None
        self.model_dir = Path(model_dir or self.settings.model_dir)
        self.project_id = project_id_of(project) if project is not None else None

    # ------------------------------------------------------------------ wiring

    def _client_credentials(self) -> tuple[str, str]:
        """Where and how to reach Label Studio. The URL is always LABEL_STUDIO_URL: the hostname /setup sends is
        Label Studio's view of itself (HOSTNAME, else http://localhost:<port>), unreachable from a backend in
        another container; the token is the one /setup sent for the project, else LABEL_STUDIO_API_KEY."""
        token = (
            self.access_token or self.tokens.get(self.project_id or -1) or self.settings.label_studio_api_key
        )
        return self.settings.label_studio_url, token

    def control_models(self) -> list[ControlModel]:
        """One model per control this backend can serve, first match of CONTROL_MODELS."""
        if self.interface is None or self.project_id is None:
            return []
        hostname, token = self._client_credentials()
        media = MediaResolver(hostname, token, self.model_dir / "media-cache")
        models = []
        for control in self.interface.controls:
            store = ModelStore(self.model_dir, self.project_id, control.name)
            for model_class in CONTROL_MODELS:
                if model_class.matches(control, self.interface, store):
                    models.append(model_class(control, self.interface, store, media))
                    break
        return models

    @staticmethod
    def version_of(models: Iterable[ControlModel]) -> str:
        """The model_version: every served control with its model kind and re-fit count."""
        parts = sorted(f"{m.control.name}@{m.kind}.{m.version}" for m in models)
        return ";".join(parts) if parts else "none"

    @property
    def model_version(self) -> str:
        return self.version_of(self.control_models())

    # ------------------------------------------------------------------ predict

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """One prediction per task; a task a model cannot handle gets an empty result and a log line."""
        models = self.control_models()
        version = self.version_of(models)
        if not models:
            logger.error(
                "project %s: the labeling config has no control this backend can pre-annotate",
                self.project_id,
            )
        predictions = []
        for task in tasks:
            result: list[dict[str, Any]] = []
            for model in models:
                result.extend(self._predict_one(model, task, context))
            scores = [r["score"] for r in result]
            predictions.append(
                {"result": result, "score": min(scores) if scores else 0.0, "model_version": version}
            )
        return predictions

    def _predict_one(
        self, model: ControlModel, task: dict[str, Any], context: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        where = f"project {self.project_id} task {task.get('id')} control {model.control.name}"
        try:
            regions = model.predict(task, context)
        except MedlabelError as exc:
            logger.error("%s: %s", where, exc)
            return []
        except Exception:
            logger.exception("%s: %s failed", where, model.kind)
            return []
        valid = []
        assert self.interface is not None
        for index, region in enumerate(regions):
            errors = self.interface.validate_region(region, return_errors=True, region_index=index)
            if errors or "score" not in region:
                logger.error("%s: dropped an invalid region: %s", where, "; ".join(errors) or "no score")
            else:
                valid.append(region)
        return valid

    # ------------------------------------------------------------------ fit

    def fit(self, tasks: Any = (), workdir: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Learn from a Label Studio training event (in a process forked per webhook event by api.webhook)."""
        event = kwargs.get("event", "")
        data = kwargs.get("data") or {}
        self.project_id = project_id_of(data.get("project"))
        if self.interface is None:
            config = (data.get("project") or {}).get("label_config") or self._client().projects.get(
                self.project_id
            ).label_config
            self.interface = LabelInterface(config)
        if event in _INCREMENTAL_EVENTS:
            annotated = [(data.get("task") or {}, data.get("annotation") or {})]
            versions = self.fit_annotations(annotated, replace=False)
        else:
            versions = self.fit_annotations(self._all_annotations(), replace=True)
        logger.info("project %s: %s → model_version %s", self.project_id, event, versions)
        return {"model_version": versions}

    def fit_annotations(
        self, annotated: Iterable[tuple[dict[str, Any], dict[str, Any]]], *, replace: bool
    ) -> str:
        """Feed (task, annotation) pairs to every control model; returns the resulting model_version.

        Skipped tasks (`was_cancelled`) and annotations by physicians the task is not routed to are left
        out (`routed.routed_only`).
        """
        pairs = routed_only(
            [(t, a) for t, a in annotated if not a.get("was_cancelled")],
            self.settings.database_url,
            self.project_id,
        )
        models = self.control_models()
        for model in models:
            examples = [
                Example(
                    task=task,
                    results=[r for r in a.get("result") or [] if r.get("from_name") == model.control.name],
                    annotation_id=a.get("id"),
                )
                for task, a in pairs
            ]
            with model.store.lock():
                try:
                    changed = model.fit(examples, replace=replace)
                except MedlabelError as exc:
                    logger.error("project %s control %s: fit: %s", self.project_id, model.control.name, exc)
                    continue
                if changed:
                    model.store.bump_version(model.kind)
        return self.version_of(models)

    def _client(self) -> LabelStudio:
        hostname, token = self._client_credentials()
        return LabelStudio(base_url=hostname, api_key=token)

    def _all_annotations(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (task, annotation) of the project, read through the SDK (START_TRAINING carries none)."""
        client = self._client()
        pairs = []
        for task in client.tasks.list(project=self.project_id, fields="all"):
            task_dict = task.model_dump()
            for annotation in task_dict.get("annotations") or []:
                pairs.append((task_dict, annotation))
        return pairs
