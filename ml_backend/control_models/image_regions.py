"""Region controls on images: `BrushLabels`, `PolygonLabels` and `RectangleLabels`.

All three start from the same classical pre-segmentation (segmentation.candidates) and differ only in how a
region is written (brush RLE, polygon in percent, box in percent). Which label a candidate gets, and whether it
is kept at all, is learned from the physicians' regions: a classifier over crop features with one extra class,
"background", trained on the candidates that overlapped no physician region. Before any training every
candidate is proposed with the control's first label and a low score (≤ 0.5, from its contrast), so it sorts
last for review. A candidate covering most of the body outline is never shown, trained or not. BrushLabels (and PolygonLabels) also have the interactive mode: a physician's smart click or
box (Label Studio's `context`) grows into one mask with the physician's label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle
from skimage import draw, measure

from ml_backend.control_models.base import ControlModel, Example, MediaError
from ml_backend.control_models.classifier import TrainingSet, fitted_classifier
from ml_backend.control_models.image_features import crop_features
from ml_backend.control_models.segmentation import (
    candidates,
    grow_from_point,
    iou,
    segment_box,
    shown_candidates,
)

logger = logging.getLogger(__name__)

BACKGROUND = "__background__"
_FEATURE_WIDTH = crop_features(np.zeros((32, 32), np.float32), (0, 0, 32, 32)).shape[0] + 3


def region_features(image: np.ndarray, mask: np.ndarray, bbox: tuple[int, int, int, int]) -> np.ndarray:
    """Crop features of the region's box plus its size and intensity inside the mask."""
    inside = image[mask] if mask.any() else np.zeros(1)
    extra = np.asarray([mask.mean(), inside.mean(), inside.std()], dtype=np.float32)
    return np.concatenate([crop_features(image, bbox), extra])


def mask_of(result: dict[str, Any], shape: tuple[int, int]) -> np.ndarray | None:
    """The pixel mask of a Label Studio brush, polygon or rectangle result on an image of `shape`."""
    value = result.get("value") or {}
    height, width = shape
    kind = result.get("type")
    if kind == "brushlabels" and value.get("rle"):
        h = int(result.get("original_height") or height)
        w = int(result.get("original_width") or width)
        decoded = np.asarray(decode_rle(value["rle"])).reshape(h, w, 4)[:, :, 3] > 0
        return decoded if (h, w) == shape else None
    if kind == "polygonlabels" and value.get("points"):
        points = np.asarray(value["points"], dtype=np.float64)
        return draw.polygon2mask(shape, np.c_[points[:, 1] * height / 100, points[:, 0] * width / 100])
    if kind == "rectanglelabels":
        mask = np.zeros(shape, dtype=bool)
        r0, c0, r1, c1 = _box_of(value, shape)
        mask[r0:r1, c0:c1] = True
        return mask
    return None


def _box_of(value: dict[str, Any], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    height, width = shape
    r0 = int(np.clip(value.get("y", 0) * height / 100, 0, height - 1))
    c0 = int(np.clip(value.get("x", 0) * width / 100, 0, width - 1))
    r1 = int(np.clip(np.ceil((value.get("y", 0) + value.get("height", 0)) * height / 100), r0 + 1, height))
    c1 = int(np.clip(np.ceil((value.get("x", 0) + value.get("width", 0)) * width / 100), c0 + 1, width))
    return r0, c0, r1, c1


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


class ImageRegionsModel(ControlModel):
    """Shared logic; subclasses say how a mask becomes a Label Studio value."""

    object_tags = ("Image",)
    interactive = False

    @property
    def value_key(self) -> str:
        return self.control.tag.lower()

    def encode(self, mask: np.ndarray) -> dict[str, Any] | None:
        raise NotImplementedError

    def _classes(self) -> list[str]:
        return [*self.labels, BACKGROUND]

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context and not self.interactive:
            return []
        image = self.media.image(task, self.object)
        if context:
            return self._interactive(image, context)
        classifier = fitted_classifier(self.store, self._classes(), _FEATURE_WIDTH, multiple=False)
        regions = []
        for component in shown_candidates(image):
            if classifier is None:
                label, score = self.labels[0], 0.5 * component.contrast
            else:
                features = region_features(image, component.mask, component.bbox)
                proba = classifier.probabilities(features[None, :])[0]
                best = int(np.argmax(proba))
                if self._classes()[best] == BACKGROUND:
                    continue
                label, score = self.labels[best], float(proba[best])
            regions.extend(self._regions(component.mask, label, score, image.shape))
        return regions

    def _regions(
        self, mask: np.ndarray, label: str, score: float, shape: tuple[int, int]
    ) -> list[dict[str, Any]]:
        value = self.encode(mask)
        if value is None:
            return []
        return [
            self.region(
                {**value, self.value_key: [label]},
                score=score,
                original_width=shape[1],
                original_height=shape[0],
                image_rotation=0,
            )
        ]

    def _interactive(self, image: np.ndarray, context: dict[str, Any]) -> list[dict[str, Any]]:
        """One mask from the physician's smart keypoints (grown from each) or box (segmented inside it)."""
        height, width = image.shape
        mask = np.zeros(image.shape, dtype=bool)
        label = self.labels[0]
        for item in context.get("result") or []:
            value = item.get("value") or {}
            kind = item.get("type", "")
            chosen = (value.get(kind) or [None])[0]
            if chosen in self.labels:
                label = chosen
            if kind in ("keypointlabels", "keypoint"):
                row = int(np.clip(value.get("y", 0) * height / 100, 0, height - 1))
                col = int(np.clip(value.get("x", 0) * width / 100, 0, width - 1))
                grown = grow_from_point(image, row, col)
                mask = mask & ~grown if item.get("is_positive") is False else mask | grown
            elif kind in ("rectanglelabels", "rectangle"):
                mask |= segment_box(image, _box_of(value, image.shape))
        if not mask.any():
            return []
        return self._regions(mask, label, 1.0, image.shape)

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        training = TrainingSet.load(self.store, self._classes(), _FEATURE_WIDTH)
        before = len(training.keys)
        rows: dict[str, tuple[np.ndarray, list[str]]] = {}
        for example in examples:
            if not example.results:
                continue
            task_id = example.task.get("id")
            try:
                image = self.media.image(example.task, self.object)
            except MediaError as exc:
                logger.error("control %s: not learning from task %s: %s", self.control.name, task_id, exc)
                continue
            masks = []
            for i, result in enumerate(example.results):
                mask = mask_of(result, image.shape)
                labels = (result.get("value") or {}).get(result.get("type", ""), [])
                if mask is None or not mask.any() or not labels:
                    continue
                masks.append(mask)
                rows[f"{task_id}:{i}"] = (region_features(image, mask, _bbox(mask)), labels[:1])
            for j, component in enumerate(candidates(image)):
                if all(iou(component.mask, m) < 0.1 for m in masks):
                    features = region_features(image, component.mask, component.bbox)
                    rows[f"{task_id}:bg{j}"] = (features, [BACKGROUND])
        training.drop_tasks(None if replace else {str(e.task.get("id")) for e in examples})
        training.add(rows)
        if not rows and len(training.keys) == before:
            return False
        training.save(self.store)
        return True


class BrushLabelsModel(ImageRegionsModel):
    kind = "image_brush"
    tag = "BrushLabels"
    interactive = True

    def encode(self, mask: np.ndarray) -> dict[str, Any] | None:
        return {"format": "rle", "rle": mask2rle(mask.astype(np.uint8) * 255)}


class PolygonLabelsModel(ImageRegionsModel):
    kind = "image_polygon"
    tag = "PolygonLabels"
    interactive = True

    def encode(self, mask: np.ndarray) -> dict[str, Any] | None:
        """The outer contour of the mask, simplified to about 1 px tolerance, in percent of the image."""
        padded = np.pad(mask, 1)
        contours = measure.find_contours(padded.astype(np.float64), 0.5)
        if not contours:
            return None
        contour = measure.approximate_polygon(max(contours, key=len) - 1, tolerance=1.0)[:-1]
        if len(contour) < 3:
            return None
        height, width = mask.shape
        points = [
            [float(np.clip(c * 100 / width, 0, 100)), float(np.clip(r * 100 / height, 0, 100))]
            for r, c in contour
        ]
        return {"points": points, "closed": True}


class RectangleLabelsModel(ImageRegionsModel):
    kind = "image_boxes"
    tag = "RectangleLabels"

    def encode(self, mask: np.ndarray) -> dict[str, Any] | None:
        height, width = mask.shape
        r0, c0, r1, c1 = _bbox(mask)
        return {
            "x": c0 * 100 / width,
            "y": r0 * 100 / height,
            "width": (c1 - c0) * 100 / width,
            "height": (r1 - r0) * 100 / height,
            "rotation": 0,
        }
