"""Burned-in text: which files may carry identifiers drawn into their pixels, and blacking out given regions.

A file is refused ("burned_in_annotation") when BurnedInAnnotation is YES, and by default ("burned_in_suspected")
when its modality or SOP class commonly carries text drawn by the device or a workstation, whatever its
BurnedInAnnotation says (ultrasound scanners and screen grabs routinely write NO while drawing the patient's
name). A project that knows where the text sits lists rectangles instead: they are blacked out in every frame
of every such file and the file is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

from plugins.ingest.base import SourceRejected

# Modalities whose images commonly carry burned-in text.
SUSPECT_MODALITIES: dict[str, str] = {
    "US": "ultrasound",
    "IVUS": "intravascular ultrasound",
    "OT": "other (screenshots, scanned documents)",
    "SC": "secondary capture (non-standard modality value)",
    "DOC": "scanned document",
}

# SOP classes that are screen or document captures, or ultrasound.
SUSPECT_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image Storage",
    "1.2.840.10008.5.1.4.1.1.6": "Ultrasound Image Storage (Retired)",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image Storage",
    "1.2.840.10008.5.1.4.1.1.3": "Ultrasound Multi-frame Image Storage (Retired)",
}

# Image Type values that mark a screen capture.
SUSPECT_IMAGE_TYPES = frozenset({"SCREEN SAVE", "SCREENSHOT"})


def assess(ds: Dataset) -> SourceRejected | None:
    """The refusal this data set earns for burned-in text (before any region is blacked out), or None."""
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return SourceRejected("burned_in_annotation", "BurnedInAnnotation is YES")
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in SUSPECT_MODALITIES:
        return SourceRejected(
            "burned_in_suspected",
            f"modality {modality} ({SUSPECT_MODALITIES[modality]}) often has burned-in text",
        )
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SUSPECT_SOP_CLASSES:
        return SourceRejected(
            "burned_in_suspected", f"SOP class {SUSPECT_SOP_CLASSES[sop_class]} often has burned-in text"
        )
    image_type = {str(v).strip().upper() for v in (ds.get("ImageType") or [])}
    if image_type & SUSPECT_IMAGE_TYPES:
        return SourceRejected("burned_in_suspected", "Image Type marks a screen capture")
    return None


def black_out(frames: np.ndarray, regions: Sequence[tuple[int, int, int, int]]) -> None:
    """Set each (x, y, width, height) rectangle to 0 in every frame of `frames` (frames, rows, cols[, 3]), in place;
    rectangles reaching past the image are clipped to it."""
    for x, y, width, height in regions:
        frames[:, y : y + height, x : x + width] = 0
