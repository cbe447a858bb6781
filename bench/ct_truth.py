"""Truth for the head-CT hemorrhage model: bleeds of known type, shape, size and density inserted into real slices.

Built without the model's code. The slices are the only real head CT slices pydicom and pydicom-data ship:
`693_UNCR.dcm` (supratentorial) and `J2K_pixelrep_mismatch.dcm` (posterior fossa and skull base), each also
mirrored left-right, and shifted by a few pixels per case. Four anatomies is few: the figures say how the model
copes with these heads, not with heads in general.

Each bleed is drawn in Hounsfield units where that type lives (anatomy found here by its own thresholds):
- Epidural: a lens against the inner table of the convexity (thickness tapers from the middle to the ends, outer edge on the bone).
- Subdural: a long, thin crescent along the convexity, tapering at both ends.
- Intraparenchymal: a lobulated blob in parenchyma at least 12 mm from the inner table.
- Intraventricular: the dependent part of a CSF space deep in the brain (>= 12 mm from the inner table).
- Subarachnoid: CSF in the sulci near the convexity, within a small disc, thickened by a pixel.
Blood is blended with partial-volume edges (a Gaussian-blurred mask) and gets noise with the grain and the
standard deviation of the surrounding brain. The 8-bit image the model sees is rendered by the ingest's own
renderer with the window the demo uses. The development split fits the model's calibration; the held-out
split gives the figures.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from scipy import ndimage
from skimage import morphology

from plugins.ingest.dicom import read, render

TYPES = ("Epidural", "Subdural", "Intraparenchymal", "Intraventricular", "Subarachnoid")
SLICES = ("693_UNCR.dcm", "J2K_pixelrep_mismatch.dcm")
#: The window the demo ingests head CT with (it resolves acute blood and still shows CSF).
WINDOW = render.PRESETS["subdural"]
SPLITS = {"development": 1, "held_out": 2}


@dataclass(frozen=True)
class Anatomy:
    """One real slice in HU and where each kind of bleed may go."""

    name: str
    hu: np.ndarray
    spacing_mm: float
    intracranial: np.ndarray
    #: Distance to the nearest bone pixel, in mm.
    depth_mm: np.ndarray
    csf: np.ndarray
    #: Within 4 mm of the intracranial space's convex outline: where extra-axial bleeds collect (not the skull base).
    convexity: np.ndarray
    parenchyma: np.ndarray
    noise_sd: float


@dataclass(frozen=True)
class Case:
    """One slice: the 8-bit rendering, its window, and the truth (None/empty mask for a negative)."""

    id: str
    kind: str | None
    image: np.ndarray
    hu: np.ndarray
    truth: np.ndarray
    spacing_mm: float
    #: Thickness of the bleed (twice its largest inscribed radius), mm; 0 for a negative.
    size_mm: float
    density_hu: float


def _load(name: str) -> tuple[np.ndarray, float]:
    ds = read.read(open(get_testdata_file(name), "rb").read(), name)
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float32)
    return hu, float(ds.PixelSpacing[0])


def _anatomy(name: str, hu: np.ndarray, spacing: float) -> Anatomy:
    bone = ndimage.binary_opening(hu > 300, iterations=1)
    labels, count = ndimage.label(bone)
    skull = labels == 1 + np.argmax(ndimage.sum(bone, labels, range(1, count + 1)))
    # The skull base is not a closed ring: the space inside the skull's convex hull, thin bridges cut.
    inside = morphology.convex_hull_image(skull) & ~ndimage.binary_dilation(bone) & (hu > -30) & (hu < 150)
    holes = ndimage.binary_opening(inside, iterations=2)
    labels, count = ndimage.label(holes)
    sizes = ndimage.sum(holes, labels, range(1, count + 1)) * spacing**2
    intracranial = np.isin(labels, 1 + np.flatnonzero(sizes > 1500))
    depth = ndimage.distance_transform_edt(~bone) * spacing
    smooth = ndimage.gaussian_filter(hu, 1.0)
    csf = intracranial & (smooth > -10) & (smooth < 16) & (depth > 1.5)
    parenchyma = intracranial & (smooth >= 22) & (smooth <= 45)
    residual = hu - ndimage.gaussian_filter(hu, 2.0)
    inner = ndimage.binary_erosion(parenchyma, iterations=3)
    hull = morphology.convex_hull_image(intracranial)
    convexity = ndimage.distance_transform_edt(hull) * spacing < 4
    noise = float(residual[inner].std())
    return Anatomy(name, hu, spacing, intracranial, depth, csf, convexity, parenchyma, noise)


@functools.cache
def anatomies() -> tuple[Anatomy, ...]:
    """Every slice and its mirror image."""
    found = []
    for name in SLICES:
        hu, spacing = _load(name)
        found.append(_anatomy(name, hu, spacing))
        found.append(_anatomy(f"{name}:mirrored", np.ascontiguousarray(hu[:, ::-1]), spacing))
    return tuple(found)


def _pick(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int] | None:
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    i = int(rng.integers(len(rows)))
    return int(rows[i]), int(cols[i])


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)


def _extra_axial(a: Anatomy, rng: np.random.Generator, *, epidural: bool) -> np.ndarray | None:
    """A collection against the inner table; thickness profile along the skull makes a lens or a crescent."""
    seed = _pick(a.intracranial & (a.depth_mm < 1.5) & (a.depth_mm > 0.3) & a.convexity, rng)
    if seed is None:
        return None
    rr, cc = _grid(a.hu.shape)
    along = np.hypot(rr - seed[0], cc - seed[1]) * a.spacing_mm
    if epidural:
        half, thick = rng.uniform(12, 24), rng.uniform(4, 16)
        profile = thick * np.sqrt(np.clip(1 - (along / half) ** 2, 0, 1))
    else:
        half, thick = rng.uniform(35, 60), rng.uniform(3, 10)
        profile = thick * np.clip(1 - (along / half) ** 2, 0, 1) ** 0.3
    return a.intracranial & (a.depth_mm <= profile) & (profile > 0)


def _parenchymal(a: Anatomy, rng: np.random.Generator) -> np.ndarray | None:
    seed = _pick(ndimage.binary_erosion(a.parenchyma, iterations=4) & (a.depth_mm > 12), rng)
    if seed is None:
        return None
    rr, cc = _grid(a.hu.shape)
    dr, dc = (rr - seed[0]) * a.spacing_mm, (cc - seed[1]) * a.spacing_mm
    angle = np.arctan2(dr, dc)
    radius = rng.uniform(3, 14) * (1 + 0.15 * np.sin(3 * angle + rng.uniform(0, 6)))
    stretch = rng.uniform(0.6, 1.0)
    turn = rng.uniform(0, np.pi)
    u = dc * np.cos(turn) + dr * np.sin(turn)
    v = (-dc * np.sin(turn) + dr * np.cos(turn)) / stretch
    return a.intracranial & (np.hypot(u, v) <= radius) & (a.depth_mm > 5)


def _ventricular(a: Anatomy, rng: np.random.Generator) -> np.ndarray | None:
    deep = ndimage.binary_opening(a.csf & (a.depth_mm > 12), iterations=1)
    labels, count = ndimage.label(deep)
    sizes = ndimage.sum(deep, labels, range(1, count + 1)) * a.spacing_mm**2
    usable = 1 + np.flatnonzero(sizes > 25)
    if not len(usable):
        return None
    space = ndimage.binary_dilation(labels == rng.choice(usable)) & a.intracranial
    seed = _pick(space, rng)
    assert seed is not None
    rr, cc = _grid(a.hu.shape)
    near = np.hypot(rr - seed[0], cc - seed[1]) * a.spacing_mm <= rng.uniform(8, 20)
    space &= near
    rows = np.nonzero(space)[0]
    level = np.quantile(rows, rng.uniform(0.0, 0.5))  # the dependent (posterior) part fills first
    return space & (rr >= level)


def _subarachnoid(a: Anatomy, rng: np.random.Generator) -> np.ndarray | None:
    sulci = a.csf & (a.depth_mm > 2) & (a.depth_mm < 25)
    seed = _pick(sulci, rng)
    if seed is None:
        return None
    rr, cc = _grid(a.hu.shape)
    near = np.hypot(rr - seed[0], cc - seed[1]) * a.spacing_mm <= rng.uniform(10, 18)
    return ndimage.binary_dilation(sulci & near) & a.intracranial & (a.depth_mm > 1)


SHAPES = {
    "Epidural": lambda a, rng: _extra_axial(a, rng, epidural=True),
    "Subdural": lambda a, rng: _extra_axial(a, rng, epidural=False),
    "Intraparenchymal": _parenchymal,
    "Intraventricular": _ventricular,
    "Subarachnoid": _subarachnoid,
}


def insert(a: Anatomy, mask: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """The slice with blood of `density` HU blended in over `mask`, partial-volume edges, tissue-like noise."""
    alpha = ndimage.gaussian_filter(mask.astype(np.float32), 0.7)
    grain = ndimage.gaussian_filter(rng.standard_normal(a.hu.shape).astype(np.float32), 0.8)
    grain *= a.noise_sd / max(float(grain.std()), 1e-6)
    return a.hu * (1 - alpha) + (density + grain) * alpha


def to_8bit(hu: np.ndarray) -> np.ndarray:
    """The PNG the ingest would write for this slice (CT, MONOCHROME2, already in HU)."""
    ds = Dataset()
    ds.Modality, ds.PhotometricInterpretation, ds.SamplesPerPixel = "CT", "MONOCHROME2", 1
    return render.render(ds, hu[None], WINDOW.name).frames[0]


def _case(index: int, split: str, kind: str | None, rng: np.random.Generator) -> Case:
    options = anatomies()
    for _ in range(50):
        a = options[int(rng.integers(len(options)))]
        mask = SHAPES[kind](a, rng) if kind else np.zeros(a.hu.shape, bool)
        if kind is None or (mask is not None and mask.sum() * a.spacing_mm**2 >= 8):
            break
    else:
        raise RuntimeError(f"no place for a {kind} bleed")
    shift = tuple(int(s) for s in rng.integers(-12, 13, size=2))
    density = float(rng.uniform(45, 70) if kind == "Subarachnoid" else rng.uniform(55, 85))
    hu = insert(a, mask, density, rng) if kind else a.hu.copy()
    hu, mask = np.roll(hu, shift, axis=(0, 1)), np.roll(mask, shift, axis=(0, 1))
    size = 2 * float(ndimage.distance_transform_edt(mask).max()) * a.spacing_mm if kind else 0.0
    return Case(
        f"{split}-{index:04d}", kind, to_8bit(hu), hu, mask, a.spacing_mm, size, density if kind else 0.0
    )


def cases(split: str, per_type: int, negatives: int) -> Iterator[Case]:
    """`per_type` bleeds of each type and `negatives` slices without any, reproducibly per split."""
    kinds: list[str | None] = [k for k in TYPES for _ in range(per_type)] + [None] * negatives
    for index, kind in enumerate(kinds):
        yield _case(index, split, kind, np.random.default_rng([SPLITS[split], index]))
