"""MedlabelBackend: reads the project's labeling config and runs one control model per supported control."""

from __future__ import annotations

import logging
from typing import Any

from label_studio_ml.model import LabelStudioMLBase
from label_studio_sdk.label_interface import LabelInterface

from ml_backend.control_models import CONTROL_MODELS

logger = logging.getLogger(__name__)


class MedlabelBackend(LabelStudioMLBase):
    # label-studio-ml 1.0.9 listens for ANNOTATION_DELETED, but Label Studio sends ANNOTATIONS_DELETED, and the
    # "train" button sends START_TRAINING: both must reach fit().
    TRAIN_EVENTS = (
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "ANNOTATIONS_DELETED",
        "START_TRAINING",
        "PROJECT_UPDATED",
    )

    def __init__(
        self, label_config: str | None = None, train_output: dict | None = None, **kwargs: Any
    ) -> None:
        super().__init__(label_config=label_config, train_output=train_output, **kwargs)
        self.interface = LabelInterface(label_config) if label_config else None

    def supported_controls(self) -> list[str]:
        """Names of the controls of this config that some control model serves."""
        if self.interface is None:
            return []
        return [c.name for c in self.interface.controls if any(m.matches(c) for m in CONTROL_MODELS)]

    def predict(self, tasks: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
        predictions = []
        for task in tasks:
            result: list[dict[str, Any]] = []
            for control in self.interface.controls if self.interface else []:
                for model_class in CONTROL_MODELS:
                    if model_class.matches(control):
                        try:
                            result.extend(model_class().predict(task))  # type: ignore[call-arg]
                        except Exception:
                            logger.exception(
                                "control model %s failed on task %s", model_class.__name__, task.get("id")
                            )
            scores = [r["score"] for r in result if "score" in r]
            predictions.append({"result": result, "score": min(scores) if scores else 0.0})
        return predictions
