"""The head-CT hemorrhage control: a `BrushLabels` whose labels are the five hemorrhage types.

Batch pre-annotation reads Hounsfield units recovered from the task's window facts (`hounsfield.py`) and shows
the calibrated findings of `ct_hemorrhage.py`; a task without usable window facts gets nothing, and the backend
logs why. The physician's smart seed (interactive mode) works as on any brush control. It does not learn from
annotations: its rules and calibration change only with a new release, measured on the bench.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ControlTag

from ml_backend.control_models import ct_hemorrhage
from ml_backend.control_models.base import ControlModelError, Example, ModelStore
from ml_backend.control_models.hounsfield import to_hounsfield, window_of
from ml_backend.control_models.image_regions import BrushLabelsModel


def _type_labels(control: ControlTag) -> dict[str, str]:
    """Hemorrhage type → the control's label value (a translated label keeps the English name in its hint)."""
    found = {}
    for value, label in (getattr(control, "labels_attrs", None) or {}).items():
        for name in (value, (label.attr or {}).get("hint")):
            if name in ct_hemorrhage.TYPES:
                found[name] = value
    return found


class HeadCtHemorrhageModel(BrushLabelsModel):
    kind = "image_ct_hemorrhage"
    tag = "BrushLabels"

    @classmethod
    def matches(cls, control: ControlTag, interface: LabelInterface, store: ModelStore) -> bool:
        return super().matches(control, interface, store) and set(_type_labels(control)) == set(
            ct_hemorrhage.TYPES
        )

    @property
    def version(self) -> str:
        digest = hashlib.sha256(ct_hemorrhage.CALIBRATION.read_bytes()).hexdigest()[:8]
        return f"hu-{digest}"

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return super().predict(task, context)
        window = window_of(task)  # MissingWindowError: the backend logs the reason and shows nothing
        image = to_hounsfield(self.media.image(task, self.object), window)
        spacing = (task.get("data") or {}).get("pixel_spacing_mm")
        if not spacing:  # sizes in mm (minimum bleed, thickness) would be a guess
            raise ControlModelError(f"task {task.get('id')}: no pixel spacing in the task data")
        labels = _type_labels(self.control)
        regions = []
        for finding in ct_hemorrhage.shown(image, float(spacing[0])):
            regions.extend(
                self._regions(finding.mask, labels[finding.label], finding.probability, image.hu.shape)
            )
        return regions

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        return False
