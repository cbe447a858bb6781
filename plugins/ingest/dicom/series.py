"""What a physician needs to know about a rendered instance, and the order of instances within a series.

Every value here is read from the data set AFTER de-identification, and only from attributes that describe the
image (modality, body part, view, geometry), never from identifying ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from plugins.ingest.dicom.read import lookup


@dataclass
class Instance:
    """One accepted, rendered instance: pseudonymous keys, its frames' PNG files and its facts."""

    source_key: str
    study_key: str
    series_key: str
    sop_key: str
    pixel_key: str
    instance_number: int | None
    slice_positions_mm: list[float | None]
    images: list[Path]
    facts: dict[str, Any] = field(default_factory=dict)
    #: Why PHI review should see this instance (e.g. "ocr_low_confidence"), from the burned-in text check.
    review_reasons: list[str] = field(default_factory=list)

    def sort_key(self) -> tuple[bool, int, float, str]:
        position = self.slice_positions_mm[0] if self.slice_positions_mm else None
        return (self.instance_number is None, self.instance_number or 0, position or 0.0, self.sop_key)


def describe(ds: Dataset) -> dict[str, Any]:
    """Non-identifying display facts: modality, body part, view, laterality, pixel spacing (row, column) in mm."""
    spacing = _safe(
        lambda: lookup(ds, "PixelSpacing", "PixelMeasuresSequence") or ds.get("ImagerPixelSpacing")
    )
    return {
        "modality": _text(ds.get("Modality")),
        "body_part": _text(ds.get("BodyPartExamined")),
        "view": _text(ds.get("ViewPosition")),
        "laterality": _text(ds.get("ImageLaterality") or ds.get("Laterality")),
        "pixel_spacing_mm": _safe(lambda: [float(v) for v in spacing][:2]) if spacing else None,
    }


def instance_number(ds: Dataset) -> int | None:
    return _safe(lambda: int(ds.InstanceNumber)) if ds.get("InstanceNumber") not in (None, "") else None


def slice_positions(ds: Dataset, frames: int) -> list[float | None]:
    """Each frame's position in mm along the slice normal (cross product of the orientation's row and column
    directions), from ImagePositionPatient or, for enhanced multi-frame files, the per-frame plane positions."""
    orientation = _safe(lambda: lookup(ds, "ImageOrientationPatient", "PlaneOrientationSequence"))
    if orientation is None or len(orientation) != 6:
        return [None] * frames
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    positions: list[Any]
    if per_frame and len(per_frame) == frames and "ImagePositionPatient" not in ds:
        positions = [
            _safe(lambda item=item: item.PlanePositionSequence[0].ImagePositionPatient) for item in per_frame
        ]
    else:
        positions = [_safe(lambda: ds.ImagePositionPatient)] * frames
    return [
        _safe(lambda p=p: round(float(np.dot(normal, np.asarray(p, float))), 4)) if p is not None else None
        for p in positions
    ]


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _safe(getter: Any) -> Any:
    """A derived value, or None when the attribute is missing or malformed (facts are optional)."""
    try:
        return getter()
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
