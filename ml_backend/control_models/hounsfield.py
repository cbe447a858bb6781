"""8-bit rendered CT pixels → Hounsfield units, from the window facts the DICOM ingest writes into the task.

The ingest renders each slice through one VOI window (`plugins/ingest/dicom/render.py`) and records it as
`data["window"] = {"name", "center", "width", "function"}`; this inverts that map. Pixels at 0 or 255 were
clipped: they only say "at most the window's bottom" or "at least its top". Without the facts there is no
inversion: a model must answer nothing rather than guess a scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_backend.control_models.base import ControlModelError


class MissingWindowError(ControlModelError):
    """The task does not say how its pixels were windowed (or they are not CT), so HU cannot be recovered."""

    code = "missing_window"


class WindowTooNarrowError(ControlModelError):
    """The window clips HU a model needs (e.g. blood would merge with bone, or CSF with brain)."""

    code = "window_too_narrow"


@dataclass(frozen=True)
class HounsfieldImage:
    """HU per pixel and the range the window resolved (values at the ends were clipped)."""

    hu: np.ndarray
    low: float
    high: float


def window_of(task: dict[str, Any]) -> dict[str, Any]:
    """The task's window facts, checked.

    Raises:
        MissingWindowError: no CT modality, no window, or a window without a finite center and width.
    """
    data = task.get("data") or {}
    if data.get("modality") != "CT":
        raise MissingWindowError(f"task {task.get('id')}: modality is {data.get('modality')!r}, not CT")
    window = data.get("window")
    if not isinstance(window, dict):
        raise MissingWindowError(f"task {task.get('id')}: no window facts in the task data")
    center, width = window.get("center"), window.get("width")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (center, width)) or width <= 0:
        raise MissingWindowError(f"task {task.get('id')}: window {window!r} has no usable center/width")
    if window.get("function", "LINEAR") not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        raise MissingWindowError(
            f"task {task.get('id')}: unknown VOI LUT function {window.get('function')!r}"
        )
    return window


def to_hounsfield(image: np.ndarray, window: dict[str, Any]) -> HounsfieldImage:
    """Invert the ingest's window (PS3.3 C.11.2.1.2/3) for an image in [0, 1] as MediaResolver.image gives."""
    pixels = np.clip(image.astype(np.float64) * 255.0, 0.0, 255.0)
    ends = np.asarray([0.0, 255.0])
    hu, (low, high) = _invert(pixels, window), _invert(ends, window)
    return HounsfieldImage(hu.astype(np.float32), float(low), float(high))


def _invert(pixels: np.ndarray, window: dict[str, Any]) -> np.ndarray:
    c, w = float(window["center"]), float(window["width"])
    function = window.get("function", "LINEAR")
    if function == "SIGMOID":
        return c - w / 4 * np.log(255.0 / np.clip(pixels, 0.5, 254.5) - 1)
    if function == "LINEAR_EXACT":
        return (pixels / 255.0 - 0.5) * w + c
    return (pixels / 255.0 - 0.5) * max(w - 1.0, 1e-3) + c - 0.5
