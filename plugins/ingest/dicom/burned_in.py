"""Burned-in text: which files may carry identifiers drawn into their pixels, and blacking them out.

A file needs the check when BurnedInAnnotation is YES ("declared"), or when its modality, SOP class or Image
Type commonly carries text drawn by the device or a workstation, whatever its BurnedInAnnotation says
(ultrasound scanners and screen grabs routinely write NO while drawing the patient's name).

Such a file's rendered frames go through `scrub`: OCR finds every word box (each distinct frame once), each
box is blacked out with a margin, the project's own regions (per manufacturer or layout) are blacked out as a
second layer, and OCR reads the result again; whatever it reads is blacked out too, and the file is accepted
once a pass reads no confident text (PASSES at most, else it is refused: "burned_in_text_remains"). Words
the last pass read with low confidence send the file to PHI review ("ocr_low_confidence"). A declared file
is held to more: if OCR read no confident text and no region covers it, its text is somewhere OCR cannot read,
so it is refused ("burned_in_text_unlocated"); otherwise it always goes to PHI review ("burned_in_declared").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from plugins.ingest.base import SourceRejected
from plugins.ingest.dicom import ocr

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


#: A word read at this confidence (0-100), with three or more letters or digits (a Hangul syllable counts two)
#: and at least MIN_LEGIBLE px tall, is text; after the first pass, text still read means the black-out missed
#: some. Shorter or smaller confident reads are speckle and edges (measured on pydicom's ultrasound files).
REMAIN_CONFIDENCE = 60.0
MIN_LEGIBLE = 6
#: A word read below REMAIN_CONFIDENCE but at least this sure in the last pass sends the file to PHI review.
LOW_CONFIDENCE = 30.0
#: OCR passes at most: find and black out, then re-read until a pass reads no confident text.
PASSES = 3


@dataclass(frozen=True)
class Suspicion:
    """Why a file needs the burned-in check; `declared` when the file itself says it has burned-in text."""

    declared: bool
    why: str


@dataclass
class Scrubbed:
    """What `scrub` blacked out: padded OCR boxes as (frame, x, y, width, height), the regions, and the share
    of all pixels now black because of it; `review_reasons` for the PHI review step."""

    boxes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    regions: list[tuple[int, int, int, int]] = field(default_factory=list)
    blacked_out_share: float = 0.0
    review_reasons: list[str] = field(default_factory=list)
    #: Why the file was checked (Suspicion.why), shown to the PHI reviewer.
    why: str = ""

    def as_fact(self) -> dict[str, object]:
        return {
            "checked_because": self.why,
            "ocr_boxes": [list(b) for b in self.boxes],
            "regions": [list(r) for r in self.regions],
            "blacked_out_share": round(self.blacked_out_share, 5),
        }


def assess(ds: Dataset) -> Suspicion | None:
    """Whether this data set needs the burned-in text check, and why (None: it does not)."""
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return Suspicion(True, "BurnedInAnnotation is YES")
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in SUSPECT_MODALITIES:
        return Suspicion(
            False, f"modality {modality} ({SUSPECT_MODALITIES[modality]}) often has burned-in text"
        )
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SUSPECT_SOP_CLASSES:
        return Suspicion(False, f"SOP class {SUSPECT_SOP_CLASSES[sop_class]} often has burned-in text")
    image_type = {str(v).strip().upper() for v in (ds.get("ImageType") or [])}
    if image_type & SUSPECT_IMAGE_TYPES:
        return Suspicion(False, "Image Type marks a screen capture")
    return None


def scrub(
    frames: np.ndarray,
    regions: Sequence[tuple[int, int, int, int]],
    suspicion: Suspicion,
    scale: float | None = None,
) -> Scrubbed:
    """Black out every text box OCR finds and every region in `frames` (frames, rows, cols[, 3]), in place,
    and check with OCR that no text is left. `scale` overrides `ocr.scale_for` (the bench's baseline).

    Raises:
        SourceRejected: burned_in_text_remains, burned_in_text_unlocated, ocr_unreadable, ocr_unavailable or
            ocr_failed; the frames may then be partly blacked out and must be dropped.
    """
    rows, columns = frames.shape[1:3]
    if min(rows, columns) < ocr.MIN_SIDE:
        raise SourceRejected(
            "ocr_unreadable", f"frames of {columns}x{rows} pixels are too small to check for burned-in text"
        )
    missing = ocr.unavailable()
    if missing:
        raise SourceRejected("ocr_unavailable", f"burned-in text cannot be checked: {missing}")
    groups = _distinct(frames)
    black = np.zeros((len(frames), rows, columns), dtype=bool)
    result = Scrubbed(regions=list(regions), why=suspicion.why)
    located, flagged = False, False
    try:
        for ocr_pass in range(PASSES):
            words = ocr.find_words([frames[g[0]] for g in groups], scale)
            confident = any(_confident(w) for frame_words in words for w in frame_words)
            located = located or confident
            # After the first pass, words read below LOW_CONFIDENCE are mostly tesseract reading the black-out
            # edges and anatomy as glyphs; blacking them would erase picture for nothing.
            kept = (
                words
                if ocr_pass == 0
                else [[w for w in ws if w.confidence >= LOW_CONFIDENCE] for ws in words]
            )
            # Words are blacked out even in the last pass: more black can only remove text.
            _black_out_words(frames, black, groups, kept, result)
            if ocr_pass == 0:
                black_out(frames, regions)
                for x, y, width, height in regions:
                    black[:, y : y + height, x : x + width] = True
            # A first pass that read nothing left the pixels as they were read: it is its own check.
            if (ocr_pass == 0 and not any(words)) or (ocr_pass > 0 and not confident):
                flagged = any(w.confidence >= LOW_CONFIDENCE for frame_words in words for w in frame_words)
                break
        else:
            raise SourceRejected(
                "burned_in_text_remains", f"OCR still reads text after {PASSES - 1} black-out rounds"
            )
    except ocr.OcrError as exc:
        raise SourceRejected("ocr_failed", str(exc)) from exc
    if suspicion.declared and not located and not regions:
        raise SourceRejected(
            "burned_in_text_unlocated",
            "BurnedInAnnotation is YES but OCR located no text and no region is configured",
        )
    if flagged:
        result.review_reasons.append("ocr_low_confidence")
    if suspicion.declared:
        result.review_reasons.append("burned_in_declared")
    result.blacked_out_share = float(black.mean())
    return result


def _confident(word: ocr.Box) -> bool:
    """Text, not tesseract reading speckle: sure, three characters or more (a Hangul syllable counts two),
    and tall enough to be legible."""
    return word.confidence >= REMAIN_CONFIDENCE and word.characters >= 3 and word.height >= MIN_LEGIBLE


def _distinct(frames: np.ndarray) -> list[list[int]]:
    """Frame indices grouped by identical pixels (cine loops and copies repeat frames): OCR reads each
    once."""
    groups: dict[bytes, list[int]] = {}
    for index, frame in enumerate(frames):
        groups.setdefault(hashlib.blake2b(np.ascontiguousarray(frame).data).digest(), []).append(index)
    return list(groups.values())


def _black_out_words(
    frames: np.ndarray,
    black: np.ndarray,
    groups: list[list[int]],
    words: list[list[ocr.Box]],
    result: Scrubbed,
) -> None:
    rows, columns = frames.shape[1:3]
    for group, boxes in zip(groups, words, strict=True):
        for box in boxes:
            # Generous sideways: tesseract often boxes part of a string (a date split at its dots).
            x, y, width, height = box.padded(max(2, box.height // 2), rows, columns, sideways=2 * box.height)
            frames[group, y : y + height, x : x + width] = 0
            black[group, y : y + height, x : x + width] = True
            result.boxes.extend((index, x, y, width, height) for index in group)


def black_out(frames: np.ndarray, regions: Sequence[tuple[int, int, int, int]]) -> None:
    """Set each (x, y, width, height) rectangle to 0 in every frame of `frames` (frames, rows, cols[, 3]), in
    place; rectangles reaching past the image are clipped to it."""
    for x, y, width, height in regions:
        frames[:, y : y + height, x : x + width] = 0
