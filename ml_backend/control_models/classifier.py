"""Online-trained label classifier on feature vectors: the training set on disk, calibrated models in memory.

Only the training set (features + multi-hot targets, .npz) is persisted; the scikit-learn model is re-fitted
from it when a process first needs a version (milliseconds at labeling-set sizes). That keeps pickles out
of MODEL_DIR, which also holds client-supplied BYOM files, and makes every version reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ml_backend.control_models.base import ModelStore

#: Below this many examples of the rarest class, probabilities come from the logistic model alone
#: (CalibratedClassifierCV needs several examples per class in each fold).
_MIN_PER_CLASS_FOR_CALIBRATION = 4

_FITTED: dict[tuple[str, int], LabelClassifier | None] = {}


@dataclass
class TrainingSet:
    """Examples keyed by a string (a task id, or "task:region"): feature rows and multi-hot label rows."""

    labels: list[str]
    keys: list[str]
    features: np.ndarray
    targets: np.ndarray

    @classmethod
    def load(cls, store: ModelStore, labels: list[str], width: int) -> TrainingSet:
        """The stored set, re-indexed to the control's current labels (a config edit may reorder them)."""
        data = store.read_npz("training_set.npz")
        if data is None:
            return cls(labels, [], np.zeros((0, width), np.float32), np.zeros((0, len(labels)), np.int8))
        stored_labels = [str(x) for x in data["labels"]]
        targets = np.zeros((len(data["keys"]), len(labels)), np.int8)
        for j, label in enumerate(labels):
            if label in stored_labels:
                targets[:, j] = data["targets"][:, stored_labels.index(label)]
        return cls(labels, [str(k) for k in data["keys"]], data["features"], targets)

    def save(self, store: ModelStore) -> None:
        store.write_npz(
            "training_set.npz",
            labels=np.asarray(self.labels, dtype=str),
            keys=np.asarray(self.keys, dtype=str),
            features=self.features.astype(np.float32),
            targets=self.targets.astype(np.int8),
        )

    def drop_tasks(self, tasks: set[str] | None) -> None:
        """Forget the examples of these task ids (keys "<task>" or "<task>:<n>"); None forgets all."""
        keep = [i for i, k in enumerate(self.keys) if tasks is not None and k.split(":")[0] not in tasks]
        self.keys = [self.keys[i] for i in keep]
        self.features = self.features[keep]
        self.targets = self.targets[keep]

    def add(self, rows: dict[str, tuple[np.ndarray, list[str]]]) -> None:
        """Append examples: key → (feature row, label names); names not in `labels` are ignored."""
        if not rows:
            return
        targets = np.zeros((len(rows), len(self.labels)), np.int8)
        for i, (_, names) in enumerate(rows.values()):
            for name in names:
                if name in self.labels:
                    targets[i, self.labels.index(name)] = 1
        self.keys = self.keys + list(rows)
        self.features = np.concatenate([self.features, np.stack([f for f, _ in rows.values()])])
        self.targets = np.concatenate([self.targets, targets])


class LabelClassifier:
    """Probabilities per label: one softmax model (single choice) or one binary model per label (multiple)."""

    def __init__(self, training: TrainingSet, multiple: bool) -> None:
        self.labels = training.labels
        self.multiple = multiple
        self.models: dict[int, Any] = {}
        x, y = training.features, training.targets
        if multiple:
            for j in range(len(self.labels)):
                column = y[:, j]
                if 0 < column.sum() < len(column):
                    self.models[j] = _probabilistic(x, column)
        else:
            labelled = y.sum(axis=1) > 0
            classes = y[labelled].argmax(axis=1)
            if len(np.unique(classes)) >= 2:
                self.models[-1] = _probabilistic(x[labelled], classes)

    @property
    def trained(self) -> bool:
        return bool(self.models)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, labels) probabilities; labels the model never saw get 0 (single) or NaN (multiple)."""
        n = features.shape[0]
        out = np.zeros((n, len(self.labels))) if not self.multiple else np.full((n, len(self.labels)), np.nan)
        for j, model in self.models.items():
            proba = model.predict_proba(features)
            if j == -1:
                out[:, model.classes_] = proba
            else:
                out[:, j] = proba[:, list(model.classes_).index(1)]
        return out


def _probabilistic(x: np.ndarray, y: np.ndarray) -> Any:
    base = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    rarest = min(int(c) for c in np.bincount(y) if c > 0)
    if rarest >= _MIN_PER_CLASS_FOR_CALIBRATION:
        model: Any = CalibratedClassifierCV(base, cv=min(5, rarest // 2 + 1), method="sigmoid")
    else:
        model = base
    return model.fit(x, y)


def fitted_classifier(
    store: ModelStore, labels: list[str], width: int, multiple: bool
) -> LabelClassifier | None:
    """The classifier of the store's current version, fitted once per process; None before training."""
    key = (str(store.root), store.version)
    if key not in _FITTED:
        for old in [k for k in _FITTED if k[0] == key[0]]:
            del _FITTED[old]
        classifier = LabelClassifier(TrainingSet.load(store, labels, width), multiple)
        _FITTED[key] = classifier if classifier.trained else None
    return _FITTED[key]
