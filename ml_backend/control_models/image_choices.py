"""Image classification (`<Choices>` on an `<Image>`): classical features + a classifier learned from physicians.

Before the first physician annotations of at least two different answers there is no prediction at all: a
prior ("the most common class") would be drawn on every task and a physician would have to undo it, which
costs more than an empty task. After that, every task gets the most probable choice (single) or every
choice with probability ≥ 0.5 (multiple), `score` = the calibrated probability of the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ml_backend.control_models.base import ControlModel, Example, MediaError
from ml_backend.control_models.classifier import TrainingSet, fitted_classifier
from ml_backend.control_models.image_features import image_features

logger = logging.getLogger(__name__)

_FEATURE_WIDTH = image_features(np.zeros((32, 32), np.float32)).shape[0]


class ImageChoicesModel(ControlModel):
    kind = "image_choices"
    tag = "Choices"
    object_tags = ("Image",)

    @property
    def multiple(self) -> bool:
        return (self.control.attr or {}).get("choice") in ("multiple", "multiple-only")

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        classifier = fitted_classifier(self.store, self.labels, _FEATURE_WIDTH, self.multiple)
        if classifier is None:
            return []
        proba = classifier.probabilities(image_features(self.media.image(task, self.object))[None, :])[0]
        if self.multiple:
            known = ~np.isnan(proba)
            chosen = [j for j in np.flatnonzero(known) if proba[j] >= 0.5]
            if not chosen:
                chosen = [int(np.nanargmax(proba))]
            # joint confidence: the least certain yes/no decision among the labels the model knows
            score = float(np.min(np.maximum(proba[known], 1 - proba[known])))
        else:
            chosen = [int(np.argmax(proba))]
            score = float(proba[chosen[0]])
        return [self.region({"choices": [self.labels[j] for j in chosen]}, score=score)]

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        training = TrainingSet.load(self.store, self.labels, _FEATURE_WIDTH)
        before = len(training.keys)
        rows: dict[str, tuple[np.ndarray, list[str]]] = {}
        for example in examples:
            choices = [c for r in example.results for c in (r.get("value") or {}).get("choices", [])]
            if not choices:
                continue
            try:
                features = image_features(self.media.image(example.task, self.object))
            except MediaError as exc:
                logger.error(
                    "control %s: not learning from task %s: %s",
                    self.control.name,
                    example.task.get("id"),
                    exc,
                )
                continue
            rows[str(example.task.get("id"))] = (features, choices)
        # an annotation without this control's answer removes the task's earlier answer (it was withdrawn)
        training.drop_tasks(None if replace else {str(e.task.get("id")) for e in examples})
        training.add(rows)
        if not rows and len(training.keys) == before:
            return False
        training.save(self.store)
        return True

    def describe(self) -> dict[str, Any]:
        training = TrainingSet.load(self.store, self.labels, _FEATURE_WIDTH)
        return {**super().describe(), "examples": len(training.keys)}
