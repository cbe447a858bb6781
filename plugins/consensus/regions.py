"""Image regions (`RectangleLabels`, `PolygonLabels`, `KeyPointLabels`): matched by IoU or distance, merged.

Coordinates are Label Studio's percent of the image's width and height, so shapes compare the same at any
image size. Box IoU ignores `rotation` (readers of our templates do not rotate boxes; a rotated box is
compared as if upright).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from skimage.draw import polygon as fill_polygon
from skimage.measure import approximate_polygon, find_contours

from medlabel.quality.agreement import box_iou, mask_iou
from plugins.consensus.clustering import ClusterVote

Box = tuple[float, float, float, float]


class BoxGeometry:
    """Boxes match at IoU ≥ 0.5 (the PASCAL VOC criterion); the merged box takes each edge's median."""

    threshold = 0.5

    def shape(self, value: Mapping[str, Any]) -> Box:
        x, y = float(value["x"]), float(value["y"])
        return x, y, x + float(value["width"]), y + float(value["height"])

    def similarity(self, a: Box, b: Box) -> float:
        return box_iou(a, b)

    def merge(self, shapes: Sequence[Box], values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        x0, y0, x1, y1 = np.median(np.array(shapes), axis=0)
        rotation = float(np.median([float(v.get("rotation", 0)) for v in values]))
        return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0, "rotation": rotation}


class PolygonGeometry:
    """Polygons are rasterised on a grid of `CELLS` cells per percent; they match at mask IoU ≥ 0.5, and the
    merged outline is the boundary of the pixels more than half of the members cover.

    Rasterising rather than exact polygon algebra: shapely is not in the lock, and at 0.25 % of the image a
    cell is finer than any physician's outline.
    """

    threshold = 0.5
    CELLS = 4

    def shape(self, value: Mapping[str, Any]) -> np.ndarray:
        size = 100 * self.CELLS
        points = np.asarray(value["points"], dtype=float) * self.CELLS
        mask = np.zeros((size, size), dtype=bool)
        rows, cols = fill_polygon(points[:, 1], points[:, 0], shape=mask.shape)
        mask[rows, cols] = True
        return mask

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return mask_iou(a, b)

    def merge(self, shapes: Sequence[np.ndarray], values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        votes = np.sum(shapes, axis=0)
        majority = np.pad(2 * votes > len(shapes), 1)
        contours = find_contours(majority.astype(float), 0.5)
        if not contours:  # members overlap too little for any pixel to have a majority: the median member
            return {"points": values[len(values) // 2]["points"], "closed": True}
        outline = approximate_polygon(max(contours, key=len), tolerance=0.5)[:-1] - 1  # undo the padding
        points = [[float(c) / self.CELLS, float(r) / self.CELLS] for r, c in outline]
        return {"points": points, "closed": True}


class KeyPointGeometry:
    """Points match within `RADIUS` percent of the image (similarity 1 − distance / RADIUS, matched while
    positive); the merged point is the members' median."""

    RADIUS = 2.0
    threshold = 0.0

    def shape(self, value: Mapping[str, Any]) -> tuple[float, float]:
        return float(value["x"]), float(value["y"])

    def similarity(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return 1.0 - float(np.hypot(a[0] - b[0], a[1] - b[1])) / self.RADIUS

    def merge(
        self, shapes: Sequence[tuple[float, float]], values: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        x, y = np.median(np.array(shapes), axis=0)
        merged: dict[str, Any] = {"x": float(x), "y": float(y)}
        if widths := [float(v["width"]) for v in values if "width" in v]:
            merged["width"] = float(np.median(widths))
        return merged


class BoxVote(ClusterVote[Box]):
    method: ClassVar[str] = "box_iou_hungarian"
    geometry = BoxGeometry()


class PolygonVote(ClusterVote[np.ndarray]):
    method: ClassVar[str] = "polygon_iou_hungarian"
    geometry = PolygonGeometry()


class KeyPointVote(ClusterVote[tuple[float, float]]):
    method: ClassVar[str] = "keypoint_distance_hungarian"
    geometry = KeyPointGeometry()
