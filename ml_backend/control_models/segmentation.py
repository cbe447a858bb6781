"""Classical segmentation of grayscale medical images with scikit-image: no weights, works on any modality.

`candidates` pre-segments a whole image (multi-Otsu classes → morphology → connected components), and
`shown_candidates` drops those covering most of the body outline (they outline the patient, not a finding);
`grow_from_point` and `segment_box` turn a physician's click or box into one mask (interactive mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import filters, measure, morphology, segmentation

#: Components smaller than this share of the image are noise for pre-annotation purposes.
_MIN_AREA_SHARE = 0.002
#: Components covering more than this share are background/body outline, not a structure to label.
_MAX_AREA_SHARE = 0.6
_MAX_CANDIDATES = 12
#: A candidate covering more than this share of the body outline is the body (or most of it), never shown.
MAX_BODY_SHARE = 0.5


@dataclass(frozen=True)
class Component:
    """One candidate structure: its mask, bounding box (row0, col0, row1, col1) and a contrast score in [0, 1]."""

    mask: np.ndarray
    bbox: tuple[int, int, int, int]
    contrast: float


def _smooth(image: np.ndarray) -> np.ndarray:
    return filters.gaussian(image, sigma=max(1.0, min(image.shape) / 256))


def candidates(image: np.ndarray) -> list[Component]:
    """Connected components of the brighter intensity classes, largest contrast first."""
    smooth = _smooth(image)
    if np.ptp(smooth) < 1e-3:
        return []
    thresholds = filters.threshold_multiotsu(smooth, classes=3)
    classes = np.digitize(smooth, thresholds)
    area = image.size
    radius = max(1, round(min(image.shape) / 200))
    found: list[Component] = []
    for level in (1, 2):
        binary = ndimage.binary_opening(classes >= level, structure=morphology.disk(radius))
        binary = ndimage.binary_fill_holes(binary)
        for region in measure.regionprops(measure.label(binary)):
            if not _MIN_AREA_SHARE * area <= region.area <= _MAX_AREA_SHARE * area:
                continue
            mask = np.zeros(image.shape, dtype=bool)
            r0, c0, r1, c1 = region.bbox
            mask[r0:r1, c0:c1] = region.image
            found.append(Component(mask, region.bbox, _contrast(smooth, mask)))
    found.sort(key=lambda c: c.contrast, reverse=True)
    return _distinct(found)[:_MAX_CANDIDATES]


def shown_candidates(image: np.ndarray) -> list[Component]:
    """`candidates` without those covering most of the body outline: what a physician may be shown."""
    body = body_outline(foreground(image))
    return [c for c in candidates(image) if not covers_body(c.mask, body)]


def body_outline(foreground: np.ndarray) -> np.ndarray:
    """The largest foreground component with its holes filled: the patient's outline on the slice."""
    labels, count = ndimage.label(foreground)
    if not count:
        return foreground
    largest = 1 + int(np.argmax(ndimage.sum(foreground, labels, range(1, count + 1))))
    return ndimage.binary_fill_holes(labels == largest)


def foreground(image: np.ndarray) -> np.ndarray:
    """Pixels brighter than the background (Otsu on the smoothed image): the input of `body_outline`."""
    smooth = _smooth(image)
    return smooth > filters.threshold_otsu(smooth) if np.ptp(smooth) >= 1e-3 else np.zeros(image.shape, bool)


def covers_body(mask: np.ndarray, body: np.ndarray) -> bool:
    """Whether a candidate covers most of the body outline (it outlines the patient, not a finding)."""
    area = body.sum()
    return bool(area) and (mask & body).sum() > MAX_BODY_SHARE * area


def _contrast(image: np.ndarray, mask: np.ndarray) -> float:
    """How much a region stands out from the ring around it, scaled to [0, 1]."""
    ring = ndimage.binary_dilation(mask, structure=morphology.disk(3)) & ~mask
    if not ring.any():
        return 0.0
    spread = image.std() + 1e-6
    return float(np.clip(abs(image[mask].mean() - image[ring].mean()) / (2 * spread), 0.0, 1.0))


def _distinct(components: list[Component]) -> list[Component]:
    """Drop components that nearly repeat a better one (the two Otsu levels often find the same organ)."""
    kept: list[Component] = []
    for component in components:
        if all(iou(component.mask, other.mask) < 0.8 for other in kept):
            kept.append(component)
    return kept


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def grow_from_point(image: np.ndarray, row: int, col: int) -> np.ndarray:
    """The connected region around a click whose intensity stays close to the clicked tissue.

    The tolerance comes from the local statistics: 2.5 standard deviations of a small window around the seed,
    but at least 4% of the image's intensity range, so a click in a homogeneous organ does not stop at noise.
    """
    smooth = _smooth(image)
    h, w = smooth.shape
    half = max(3, min(h, w) // 64)
    window = smooth[max(0, row - half) : row + half + 1, max(0, col - half) : col + half + 1]
    tolerance = max(2.5 * float(window.std()), 0.04 * float(np.ptp(smooth)))
    seed_value = float(np.median(window))
    smooth = smooth.copy()
    smooth[row, col] = seed_value
    mask = segmentation.flood(smooth, (row, col), tolerance=tolerance)
    mask = ndimage.binary_closing(mask, structure=morphology.disk(2))
    mask = ndimage.binary_fill_holes(mask)
    labels = measure.label(mask)
    return labels == labels[row, col] if labels[row, col] else mask


def segment_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The structure inside a physician's box: Otsu inside the box, the component under the box centre
    (or the largest one), holes filled; the result never leaves the box."""
    r0, c0, r1, c1 = box
    crop = _smooth(image)[r0:r1, c0:c1]
    mask = np.zeros(image.shape, dtype=bool)
    if crop.size == 0 or np.ptp(crop) < 1e-3:
        mask[r0:r1, c0:c1] = True
        return mask
    centre = crop[crop.shape[0] // 2, crop.shape[1] // 2]
    threshold = filters.threshold_otsu(crop)
    inside = crop >= threshold if centre >= threshold else crop < threshold
    labels = measure.label(ndimage.binary_fill_holes(inside))
    chosen = labels[crop.shape[0] // 2, crop.shape[1] // 2]
    if not chosen:
        chosen = np.bincount(labels.ravel())[1:].argmax() + 1
    mask[r0:r1, c0:c1] = labels == chosen
    return mask
