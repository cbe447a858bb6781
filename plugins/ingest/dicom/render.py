"""Decoded DICOM pixels → 8-bit images for Label Studio (modality LUT, VOI/window or preset, colour) and PNG files.

Grayscale: the modality transform (Rescale Slope/Intercept, or a Modality LUT Sequence through pydicom), then,
in this order of preference, a named preset (CT/HU data only), a VOI LUT Sequence (pydicom), the file's Window
Center/Width (with its VOI LUT Function), or the data's own min/max. MONOCHROME1 is inverted. Enhanced
multi-frame files keep these attributes in the functional groups, which are looked up too. Colour: RGB and YBR_*
arrive as RGB from pydicom's decoders (`as_rgb`), PALETTE COLOR goes through `apply_color_lut`, and samples
wider than 8 bits are shifted down. Presets never apply to colour images.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from medlabel.errors import MedlabelError
from plugins.ingest.dicom.read import lookup


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units (HU for CT); `function` is the DICOM VOI LUT Function."""

    name: str
    center: float
    width: float
    function: str = "LINEAR"

    def as_fact(self) -> dict[str, Any]:
        """What a task needs to map its 8-bit pixels back to modality units (HU for CT): no PHI in it.

        The window is applied after the rescale, so center/width are already in modality units.
        """
        # A VOI LUT has no center/width: NaN there becomes None (JSON has no NaN).
        center = None if math.isnan(self.center) else round(self.center, 3)
        width = None if math.isnan(self.width) else round(self.width, 3)
        return {"name": self.name, "center": center, "width": width, "function": self.function}


# Common CT windows (center/width in HU), as radiology viewers ship them.
PRESETS: dict[str, Window] = {
    w.name: w
    for w in (
        Window("lung", -600, 1500),
        Window("mediastinum", 40, 400),
        Window("soft_tissue", 50, 350),
        Window("bone", 400, 1800),
        Window("brain", 40, 80),
        Window("subdural", 75, 215),
        Window("stroke", 40, 40),
        Window("temporal_bone", 600, 2800),
        Window("abdomen", 50, 400),
        Window("liver", 60, 160),
        Window("angio", 300, 600),
    )
}


class UnknownPresetError(MedlabelError):
    """A window preset name that PRESETS does not have."""

    code = "unknown_window_preset"
    http_status = 400
    exit_code = 2


class UnsupportedImageError(MedlabelError):
    """Pixels this module cannot turn into a grayscale or RGB image (e.g. a 4-sample colour model)."""

    code = "unsupported_image"
    http_status = 400
    exit_code = 2


def preset(name: str) -> Window:
    """The preset called `name`.

    Raises:
        UnknownPresetError: the name is not in PRESETS (the message lists the known ones).
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPresetError(
            f"unknown window preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None


@dataclass
class Rendered:
    """8-bit frames, shape (frames, rows, columns) or (frames, rows, columns, 3), and the window used."""

    frames: np.ndarray
    window: Window | None


def render(ds: Dataset, pixels: np.ndarray, preset_name: str | None = None) -> Rendered:
    """Turn decoded pixels (frames first, as `read.decode` returns them) into displayable 8-bit frames.

    Raises:
        UnknownPresetError: `preset_name` is not a known preset.
        UnsupportedImageError: the photometric interpretation cannot be shown.
    """
    window_preset = preset(preset_name) if preset_name else None
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(pixels, ds)
        return Rendered(_to_uint8(rgb, 8 * rgb.dtype.itemsize), None)
    samples = int(ds.get("SamplesPerPixel", 1))
    if samples == 3:
        return Rendered(_to_uint8(pixels, int(ds.get("BitsStored") or ds.BitsAllocated)), None)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise UnsupportedImageError(
            f"photometric interpretation {photometric or 'missing'} with {samples} samples is not supported"
        )
    return _render_gray(ds, pixels, window_preset, invert=photometric == "MONOCHROME1")


def _render_gray(ds: Dataset, pixels: np.ndarray, window_preset: Window | None, *, invert: bool) -> Rendered:
    if "ModalityLUTSequence" in ds:
        values, slope, intercept = apply_modality_lut(pixels, ds), 1.0, 0.0
    else:
        values = pixels
        slope = float(lookup(ds, "RescaleSlope", "PixelValueTransformationSequence") or 1.0)
        intercept = float(lookup(ds, "RescaleIntercept", "PixelValueTransformationSequence") or 0.0)
    is_hu = (
        ds.get("Modality") == "CT" or lookup(ds, "RescaleType", "PixelValueTransformationSequence") == "HU"
    )
    if window_preset is not None and is_hu:
        return Rendered(_window(values, slope, intercept, window_preset, invert), window_preset)
    if "VOILUTSequence" in ds and "WindowCenter" not in ds:
        return Rendered(_voi_lut(values, ds, invert), Window("voi_lut", float("nan"), float("nan")))
    window = _file_window(ds)
    if window is None:
        # Min/max of the stored values, mapped through the rescale: the full range, exactly (LINEAR_EXACT).
        lo, hi = (float(v) * slope + intercept for v in (values.min(), values.max()))
        lo, hi = min(lo, hi), max(lo, hi)
        window = Window("minmax", (lo + hi) / 2, max(hi - lo, 1.0), "LINEAR_EXACT")
    return Rendered(_window(values, slope, intercept, window, invert), window)


def _window(values: np.ndarray, slope: float, intercept: float, window: Window, invert: bool) -> np.ndarray:
    """Rescale + window + inversion + rounding fused into one float32 affine map, done in place.

    Hand-written rather than pydicom's apply_modality_lut + apply_windowing: those work in float64 with boolean
    masks and several temporaries, and still leave a rescale to 8 bits; this path is the ingest's hot loop.
    The formulas are PS3.3 C.11.2.1.2 (LINEAR) and C.11.2.1.3 (LINEAR_EXACT, SIGMOID).
    """
    out = values.astype(np.float32)
    c, w = window.center, window.width
    if window.function == "SIGMOID":
        out *= slope
        out += intercept - c
        out *= -4.0 / w
        np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)
        out *= 255.0
        if invert:
            np.subtract(255.0, out, out=out)
        out += 0.5
    else:
        if window.function == "LINEAR_EXACT":
            scale, offset = 255.0 / w, ((intercept - c) / w + 0.5) * 255.0
        else:
            span = max(w - 1.0, 1e-3)
            scale, offset = 255.0 / span, ((intercept - c + 0.5) / span + 0.5) * 255.0
        if invert:
            scale, offset = -scale, 255.0 - offset
        out *= slope * scale
        out += offset + 0.5
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


def _voi_lut(values: np.ndarray, ds: Dataset, invert: bool) -> np.ndarray:
    out = apply_voi_lut(values, ds, prefer_lut=True).astype(np.float32)
    bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    out *= 255.0 / (2**bits - 1)
    if invert:
        np.subtract(255.0, out, out=out)
    out += 0.5
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


def _file_window(ds: Dataset) -> Window | None:
    center = lookup(ds, "WindowCenter", "FrameVOILUTSequence")
    width = lookup(ds, "WindowWidth", "FrameVOILUTSequence")
    if center in (None, "") or width in (None, ""):
        return None
    center, width = _first(center), _first(width)
    function = str(lookup(ds, "VOILUTFunction", "FrameVOILUTSequence") or "LINEAR").upper()
    if float(width) <= 0 or function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        return None
    return Window("file", float(center), float(width), function)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, MultiValue | list | tuple) else value


def _to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return (rgb >> max(bits - 8, 0)).astype(np.uint8)


def write_png(image: np.ndarray, path: Path) -> None:
    """Write an 8-bit grayscale (H, W) or RGB (H, W, 3) image as PNG: no metadata chunks, fast compression,
    atomically (a crash never leaves a half-written file under the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
