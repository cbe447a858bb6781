"""Head-CT hemorrhage on Hounsfield units: skull → intracranial space → acute-blood components → type by place and shape.

Classical and explainable, so a neuroradiologist can predict what it will draw:
- skull: the largest bone component (>= 120 HU); the intracranial space is the soft tissue inside the skull's
  convex hull (the skull base is not a closed ring), cut from the bone by a pixel;
- blood: 50-100 HU after a bone-excluding smoothing, at least 1 mm thick and 20 mm² large;
- features of place and shape: length along the inner table, depth from it, thickness, solidity (lens and clot
  vs crescent and sulcal cast), share of CSF a few pixels around it (a ventricle or sulci it fills), area, HU;
- type: a multinomial logistic model over those features (reading one slice, a reader also names a bleed by
  where it lies and what shape it takes);
- score: a logistic calibration giving P(the region is a true bleed).
Both are in `ct_hemorrhage_calibration.json`, fitted by `bench/ct_hemorrhage.py --calibrate` on the development
split of `bench/ct_truth.py` (synthetic bleeds in real slices), committed, never fetched.
Regions below probability 0.5 are not shown; nothing qualifying → no region at all.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from skimage import morphology

from ml_backend.control_models.hounsfield import HounsfieldImage, WindowTooNarrowError
from ml_backend.control_models.segmentation import body_outline, covers_body

TYPES = ("Epidural", "Subdural", "Intraparenchymal", "Intraventricular", "Subarachnoid")
CALIBRATION = Path(__file__).with_name("ct_hemorrhage_calibration.json")
#: The HU range a window must resolve: CSF (to tell ventricles and sulci) up to above acute blood.
NEEDED_RANGE = (15.0, 120.0)
BONE_HU = 120.0
BLOOD_HU = (50.0, 100.0)
CSF_HU = 18.0
MIN_AREA_MM2 = 20.0
SHOW_FROM = 0.5
#: What the calibration reads, in its order.
FEATURES = ("mean_hu", "log_area", "thickness_mm", "contact_mm", "depth_mm", "csf_ring", "solidity")


@dataclass(frozen=True)
class Finding:
    """One hyperdense component: mask, type, the features the calibration reads, and P(true bleed)."""

    mask: np.ndarray
    label: str
    features: dict[str, float]
    probability: float


def shown(image: HounsfieldImage, spacing_mm: float) -> list[Finding]:
    """The findings a physician sees: probable (>= SHOW_FROM) and never most of the body outline."""
    body = body_outline(image.hu > image.low + 1.0)  # above the window's bottom: not air
    return [
        f for f in find(image, spacing_mm) if f.probability >= SHOW_FROM and not covers_body(f.mask, body)
    ]


def find(image: HounsfieldImage, spacing_mm: float) -> list[Finding]:
    """Every blood-like component of one slice, typed and scored (all of them: the caller filters on score).

    Raises:
        WindowTooNarrowError: the window does not resolve NEEDED_RANGE.
    """
    if image.low > NEEDED_RANGE[0] or image.high < NEEDED_RANGE[1]:
        raise WindowTooNarrowError(
            f"the window resolves {image.low:.0f}..{image.high:.0f} HU; hemorrhage needs "
            f"{NEEDED_RANGE[0]:.0f}..{NEEDED_RANGE[1]:.0f} HU (ingest with the 'subdural' preset)"
        )
    hu = image.hu
    intracranial, bone_depth = _intracranial(hu, spacing_mm)
    if not intracranial.any():
        return []
    weight = ndimage.gaussian_filter(intracranial.astype(np.float32), 1.0)
    smooth = ndimage.gaussian_filter(np.where(intracranial, hu, 0), 1.0) / np.maximum(weight, 1e-3)
    blood = intracranial & (smooth >= BLOOD_HU[0]) & (smooth <= BLOOD_HU[1])
    radius = max(1, round(1.0 / spacing_mm))
    seeds = ndimage.binary_opening(blood, structure=morphology.disk(radius))
    grown = ndimage.binary_propagation(seeds, mask=blood)
    labels, count = ndimage.label(grown)
    csf = intracranial & (smooth < CSF_HU)
    coefficients = calibration()
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        # Features on a padded crop: whole-image morphology per component is what made this slow.
        box = tuple(slice(max(0, s.start - 8), s.stop + 8) for s in box)
        mask = labels[box] == index
        if mask.sum() * spacing_mm**2 < MIN_AREA_MM2:
            continue
        features = _features(mask, smooth[box], csf[box], intracranial[box], bone_depth[box], spacing_mm)
        full = np.zeros(hu.shape, bool)
        full[box] = mask
        found.append(
            Finding(full, _type(features, coefficients), features, _probability(features, coefficients))
        )
    return found


def _intracranial(hu: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    bone = ndimage.binary_opening(hu >= BONE_HU)
    labels, count = ndimage.label(bone)
    if not count:
        return np.zeros(hu.shape, bool), np.zeros(hu.shape, np.float32)
    skull = labels == 1 + int(np.argmax(ndimage.sum(bone, labels, range(1, count + 1))))
    inside = morphology.convex_hull_image(skull) & ~ndimage.binary_dilation(bone) & (hu > -30)
    inside = ndimage.binary_opening(inside, iterations=2)
    parts, count = ndimage.label(inside)
    sizes = ndimage.sum(inside, parts, range(1, count + 1)) * spacing_mm**2
    intracranial = np.isin(parts, 1 + np.flatnonzero(sizes > 1500))
    return intracranial, ndimage.distance_transform_edt(~bone) * spacing_mm


def _features(
    mask: np.ndarray,
    smooth: np.ndarray,
    csf: np.ndarray,
    intracranial: np.ndarray,
    depth: np.ndarray,
    spacing: float,
) -> dict[str, float]:
    area = float(mask.sum()) * spacing**2
    thickness = 2 * float(ndimage.distance_transform_edt(mask).max()) * spacing
    # CSF a few pixels out: the blood's own partial-volume edge hides what borders it right next to it.
    ring = (
        ndimage.binary_dilation(mask, iterations=6)
        & ~ndimage.binary_dilation(mask, iterations=3)
        & intracranial
    )
    contact = mask & (depth <= 2.5)
    labelled = morphology.convex_hull_image(mask)
    return {
        "mean_hu": float(smooth[mask].mean()),
        "log_area": math.log(area),
        "thickness_mm": thickness,
        "contact_mm": float(contact.sum()) * spacing**2 / 2.5,  # length along the inner table
        "depth_mm": float(np.median(depth[mask])),
        "csf_ring": float(csf[ring].mean()) if ring.any() else 0.0,
        "solidity": float(mask.sum() / max(1, labelled.sum())),
    }


def _type(features: dict[str, float], coefficients: dict[str, Any]) -> str:
    """The most probable type under the multinomial model of place and shape (fitted on the development split)."""
    x = _standardised(features, coefficients)
    model = coefficients["type"]
    logits = np.asarray(model["weights"]) @ x + np.asarray(model["intercepts"])
    return str(model["classes"][int(np.argmax(logits))])


def _standardised(features: dict[str, float], coefficients: dict[str, Any]) -> np.ndarray:
    values = np.asarray([features[name] for name in coefficients["features"]])
    return (values - np.asarray(coefficients["means"])) / np.asarray(coefficients["scales"])


@functools.cache
def calibration() -> dict[str, Any]:
    """The committed logistic coefficients (never fetched from anywhere)."""
    return json.loads(CALIBRATION.read_text())


def _probability(features: dict[str, float], coefficients: dict[str, Any]) -> float:
    """P(true bleed) from the logistic calibration."""
    model = coefficients["bleed"]
    z = float(np.asarray(model["weights"]) @ _standardised(features, coefficients)) + model["intercept"]
    return 1.0 / (1.0 + math.exp(-z))
