"""Burned-in text removal on the synthetic set: share of burned strings removed, share of image area blacked
out, seconds per image, for the tuned OCR path and a baseline (OCR at the frame's own resolution), same run.

A string counts as removed when its file was refused (it never reaches Label Studio) or when at least
`INK_BLACK` of its ink pixels are black in the output and OCR of the output does not read it back.

    .venv/bin/python -m bench.burned_in [--files 40] [--seed 2026]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytesseract

from plugins.ingest.base import SourceRejected
from plugins.ingest.dicom import burned_in, ocr, read, render
from tests.fixtures.burned_text import BurnedFile, make_set

#: Share of a string's ink that must be black for it to count as blacked out.
INK_BLACK = 0.98


@dataclass
class Score:
    name: str
    strings: int = 0
    removed: int = 0
    files: int = 0
    refused: int = 0
    area: float = 0.0
    seconds: float = 0.0

    def line(self) -> str:
        accepted = max(self.files - self.refused, 1)
        return (
            f"{self.name:<24} removed {self.removed}/{self.strings} = {self.removed / self.strings:.4f}   "
            f"area blacked out {self.area / accepted:.4f}   accepted {self.files - self.refused}/{self.files}   "
            f"{self.seconds / self.files:.2f} s/image"
        )


def ink_black(frame: np.ndarray, mask: np.ndarray) -> float:
    """Share of the mask's pixels that are black in the frame."""
    pixels = frame[mask] if frame.ndim == 2 else frame[mask].max(axis=1)
    return float((pixels == 0).mean())


def read_back(frame: np.ndarray) -> str:
    """Everything OCR reads in an output frame at the tuned scale (compared with the burned strings)."""
    page = ocr.prepare(frame, ocr.scale_for(*frame.shape[:2]))
    return str(pytesseract.image_to_string(page, lang=ocr.LANGUAGES, config=ocr.CONFIG))


def found(text: str, read: str) -> bool:
    """Whether OCR output contains the string, ignoring spaces and case, or any 4+ character part of it."""
    squeezed = read.replace(" ", "").lower()
    parts = [p for p in text.replace(":", " ").replace("^", " ").split() if len(p) >= 4] + [text]
    return any(p.replace(" ", "").lower() in squeezed for p in parts)


def score(name: str, files: list[BurnedFile], scale: float | None) -> Score:
    result = Score(name)
    for burned in files:
        ds = pydicom.dcmread(burned.path)
        frames = render.render(ds, read.decode(ds)).frames
        suspicion = burned_in.assess(ds)
        assert suspicion is not None
        started = time.perf_counter()
        try:
            scrubbed = burned_in.scrub(frames, (), suspicion, scale=scale)
        except SourceRejected:
            scrubbed = None
        result.seconds += time.perf_counter() - started
        result.files += 1
        result.strings += len(burned.strings)
        if scrubbed is None:
            result.refused += 1
            result.removed += len(burned.strings)
            continue
        result.area += scrubbed.blacked_out_share
        text = read_back(frames[0])
        result.removed += sum(
            1 for s in burned.strings if ink_black(frames[0], s.mask) >= INK_BLACK and not found(s.text, text)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026, help="2026: a set not used while tuning")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = make_set(Path(folder), args.files, args.seed)
        print(
            f"{args.files} images, {sum(len(f.strings) for f in files)} burned strings, tesseract {ocr.LANGUAGES}"
        )
        tuned = score("tuned (scale_for)", files, None)
        baseline = score("baseline (scale 1.0)", files, 1.0)
    print(tuned.line())
    print(baseline.line())
    print(f"time ratio tuned/baseline {tuned.seconds / baseline.seconds:.2f}")


if __name__ == "__main__":
    main()
