"""Text drawn into pixels, found with Debian's tesseract (Korean + English) through pytesseract.

pytesseract rather than tesserocr: it drives the very `tesseract` binary and language packs Debian installs
(`tesseract-ocr`, `tesseract-ocr-kor`, in `./dev` and the Dockerfile), needs no C++ build, and its per-call
process start (~0.1 s) is paid once per file and pass here, since all frames of a file go to tesseract as
one multi-page TIFF. Only word boxes and confidences leave this module: the recognised words are PHI and
are dropped as soon as they have been judged text-like.

Each frame is read as several pages (`VIEWS`), because tesseract's own binarisation fails on text drawn
over anatomy: a morphological top-hat (the frame minus its opening, or its closing minus the frame) keeps
structures thinner than a glyph stroke that stand out from their neighbourhood, bright or dark, and a
threshold on that contrast gives a clean dark-on-light page whatever the background; the plain frame is read
too, for large text whose strokes are wider than the top-hats keep. Pages are scaled so
small overlay fonts (10-14 px on ultrasound) reach the ~25 px tesseract reads best; page segmentation mode 11
("sparse text, no particular order") suits words scattered around an image. On 14 files of the synthetic set
(bench/burned_in.py) the two top-hat views found 0.87 of the burned strings in one pass, the plain frame 0.38.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image
from scipy import ndimage

LANGUAGES = "kor+eng"
#: Page segmentation: sparse text. `-c tessedit_do_invert=0`: pages are already dark-on-light.
CONFIG = "--psm 11 -c tessedit_do_invert=0"
#: Seconds one tesseract call (all frames of a file) may take before the file is refused as unreadable.
TIMEOUT_PER_PAGE = 20
#: Frames smaller than this on either side cannot be checked (and cannot hold legible text either).
MIN_SIDE = 16


#: Precomposed Hangul syllables: one carries about what two Latin letters do (a Korean name is 2-4 of them).
_HANGUL_FIRST, _HANGUL_LAST = "\uac00", "\ud7a3"


class OcrError(Exception):
    """tesseract failed on an image (crash, timeout, unreadable page); the message names no PHI."""


@dataclass(frozen=True)
class Box:
    """A word's box in the frame's own pixels, with tesseract's confidence (0-100) and how many letters and
    digits it has (a Hangul syllable counts two)."""

    x: int
    y: int
    width: int
    height: int
    confidence: float
    characters: int

    def padded(self, margin: int, rows: int, columns: int, sideways: int = 0) -> tuple[int, int, int, int]:
        """(x, y, width, height) grown by `margin` above and below, `max(margin, sideways)` left and right,
        clipped to the frame."""
        side = max(margin, sideways)
        x0, y0 = max(self.x - side, 0), max(self.y - margin, 0)
        x1 = min(self.x + self.width + side, columns)
        y1 = min(self.y + self.height + margin, rows)
        return (x0, y0, x1 - x0, y1 - y0)


@functools.cache
def unavailable() -> str | None:
    """Why OCR cannot run here (a sentence), or None when tesseract and both language packs are installed."""
    try:
        languages = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError):
        return "the tesseract binary is not installed (Debian: tesseract-ocr)"
    missing = sorted(set(LANGUAGES.split("+")) - languages)
    if missing:
        return f"tesseract has no {', '.join(missing)} language data (Debian: tesseract-ocr-kor)"
    return None


def scale_for(rows: int, columns: int) -> float:
    """How much to enlarge a frame before OCR: small overlay fonts need ~2x, tiny images more, huge ones
    none."""
    side = max(rows, columns)
    if side <= 300:
        return 4.0
    if side <= 1400:
        return 2.0
    if side <= 2800:
        return 1.0
    return 2800 / side


def _strokes(contrast: np.ndarray) -> np.ndarray:
    """Pixels whose contrast with their neighbourhood stands out (top 3 %, and at least 25 grey levels) as
    black ink on white: a clean page whatever the background brightness."""
    threshold = max(float(np.percentile(contrast, 97)), 25.0)
    return np.where(contrast >= threshold, 0, 255).astype(np.uint8)


def _bright_strokes(gray: np.ndarray) -> np.ndarray:
    """White top-hat: structures brighter than their surroundings and thinner than 9 px (glyph strokes)."""
    wide = gray.astype(np.int16)
    return _strokes(wide - ndimage.grey_opening(wide, size=(9, 9)))


def _dark_strokes(gray: np.ndarray) -> np.ndarray:
    """Black top-hat: the same for text darker than its background."""
    wide = gray.astype(np.int16)
    return _strokes(ndimage.grey_closing(wide, size=(9, 9)) - wide)


def _plain(gray: np.ndarray) -> np.ndarray:
    """The frame itself, inverted when mostly dark: large text, whose strokes the top-hats are too narrow for."""
    return 255 - gray if np.median(gray) < 128 else gray


#: How each frame is shown to tesseract (see the module docstring); every view is one more page to read.
VIEWS = (_bright_strokes, _dark_strokes, _plain)


def prepare(frame: np.ndarray, scale: float, view: int = 0) -> Image.Image:
    """One dark-on-light 8-bit page of a frame: `VIEWS[view]` of its brightest channel (overlay text is often
    yellow or green), resized by `scale`."""
    gray = frame.max(axis=2) if frame.ndim == 3 else frame
    image = Image.fromarray(np.ascontiguousarray(VIEWS[view](gray), dtype=np.uint8), mode="L")
    if scale != 1.0:
        size = (max(round(image.width * scale), 1), max(round(image.height * scale), 1))
        image = image.resize(size, Image.Resampling.BICUBIC)
    return image


class _Seen:
    """Word boxes of frames already read in this process, by pixel content and scale: hospitals send the same
    picture again (other encodings of one image, a re-sent series), and reading costs seconds a frame. Boxes
    only: the words were never kept."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._boxes: OrderedDict[bytes, list[Box]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(frame: np.ndarray, scale: float) -> bytes:
        digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=20)
        digest.update(f"{frame.shape}{frame.dtype}{scale}{CONFIG}{LANGUAGES}".encode())
        return digest.digest()

    def get(self, key: bytes) -> list[Box] | None:
        with self._lock:
            boxes = self._boxes.get(key)
            if boxes is not None:
                self._boxes.move_to_end(key)
            return boxes

    def put(self, key: bytes, boxes: list[Box]) -> None:
        with self._lock:
            self._boxes[key] = boxes
            while len(self._boxes) > self.size:
                self._boxes.popitem(last=False)


_SEEN = _Seen()


def find_words(frames: Sequence[np.ndarray], scale: float | None = None) -> list[list[Box]]:
    """The text-like word boxes of each frame (in the frame's pixels): frames read before in this process
    from memory, the others from one tesseract call.

    Args:
        frames: 8-bit frames, (rows, columns) or (rows, columns, 3).
        scale: enlargement before OCR; None picks `scale_for` each frame.

    Raises:
        OcrError: tesseract failed or timed out.
    """
    scales = [scale if scale is not None else scale_for(*f.shape[:2]) for f in frames]
    keys = [_Seen.key(f, s) for f, s in zip(frames, scales, strict=True)]
    found = [_SEEN.get(k) for k in keys]
    unread = list({keys[i]: i for i, boxes in enumerate(found) if boxes is None}.values())  # once per picture
    fresh: dict[bytes, list[Box]] = {}
    if unread:
        for i, boxes in zip(
            unread, _read([frames[i] for i in unread], [scales[i] for i in unread]), strict=True
        ):
            fresh[keys[i]] = boxes
            _SEEN.put(keys[i], boxes)
    return [list(boxes if boxes is not None else fresh[key]) for boxes, key in zip(found, keys, strict=True)]


def _read(frames: Sequence[np.ndarray], scales: Sequence[float]) -> list[list[Box]]:
    """One tesseract call over every frame's views."""
    # Page p shows frame p // len(VIEWS) through view p % len(VIEWS).
    pages = [prepare(f, s, v) for f, s in zip(frames, scales, strict=True) for v in range(len(VIEWS))]
    with tempfile.TemporaryDirectory(prefix="medlabel-ocr-") as folder:  # 0700: the pages still hold the text
        path = Path(folder) / "pages.tif"
        pages[0].save(path, save_all=True, append_images=pages[1:], compression="raw")
        try:
            data = pytesseract.image_to_data(
                str(path),
                lang=LANGUAGES,
                config=CONFIG,
                output_type=pytesseract.Output.DICT,
                timeout=TIMEOUT_PER_PAGE * len(pages),
            )
        except RuntimeError as exc:  # pytesseract's timeout
            raise OcrError(f"tesseract timed out after {TIMEOUT_PER_PAGE * len(pages)} s") from exc
        except (
            pytesseract.TesseractError,
            subprocess.CalledProcessError,
            OSError,
        ) as exc:  # version probe too
            raise OcrError(f"tesseract failed ({type(exc).__name__})") from exc
    boxes: list[list[Box]] = [[] for _ in frames]
    for index, text in enumerate(data["text"]):
        characters = sum(2 if _HANGUL_FIRST <= c <= _HANGUL_LAST else 1 for c in text if c.isalnum())
        confidence = float(data["conf"][index])
        page = (int(data["page_num"][index]) - 1) // len(VIEWS)
        if characters == 0 or confidence < 0 or not 0 <= page < len(frames):
            continue
        s = scales[page]
        x, y = int(data["left"][index] / s), int(data["top"][index] / s)
        width = max(round(data["width"][index] / s), 1)
        height = max(round(data["height"][index] / s), 1)
        rows, columns = frames[page].shape[:2]
        if _text_shaped(width, height, rows, columns):
            boxes[page].append(Box(x, y, width, height, confidence, characters))
    return boxes


def _text_shaped(width: int, height: int, rows: int, columns: int) -> bool:
    """Words are at most a quarter of the frame tall and never span nearly all of it: a taller "word" is
    tesseract reading image structure (speckle, vessels) as glyphs, and blacking it out would erase anatomy."""
    return 3 <= height <= max(rows // 4, 24) and width <= 0.9 * columns
