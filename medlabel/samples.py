"""Sample media for template sample tasks: real DICOM test images rendered to PNG, synthetic signals and photos.

Template sample tasks name media as ``"sample:<file>"``; `resolve_sample_task` turns those into URLs that
Label Studio serves from the media root. Nothing here is downloaded: real images come from pydicom's own
test files and the `pydicom-data` package (public test data with no real patient), the rest is generated.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medlabel.tables import csv_writer

SAMPLE_PREFIX = "sample:"
SAMPLES_SUBDIR = "samples"
_RNG_SEED = 20261124


# ------------------------------------------------------------------ real DICOM, rendered


def _render_dicom(name: str, frame: int | None = None, max_side: int = 1024) -> Image.Image:
    """Window a pydicom test file into an 8-bit image (modality LUT, VOI LUT, MONOCHROME1 inversion)."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = get_testdata_file(name, download=False)
        if path is None:
            raise FileNotFoundError(f"pydicom test file {name} is not installed")
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array if frame is None else ds.pixel_array[frame]
    photometric = ds.PhotometricInterpretation
    if photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(pixels, ds).astype(np.float64)
        if "WindowCenter" in ds or "VOILUTSequence" in ds:
            values = apply_voi_lut(values, ds).astype(np.float64)
        low, high = np.percentile(values, (0.5, 99.5))
        scaled = np.clip((values - low) / max(high - low, 1e-6), 0, 1)
        if photometric == "MONOCHROME1":
            scaled = 1.0 - scaled
        image = Image.fromarray((scaled * 255).astype(np.uint8), mode="L")
    else:
        image = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("RGB")
    image.thumbnail((max_side, max_side))
    return image


def _dicom_png(name: str, frame: int | None = None) -> Callable[[Path], None]:
    def build(target: Path) -> None:
        _render_dicom(name, frame).save(target, optimize=True)

    return build


# ------------------------------------------------------------------ synthetic photos


def _canvas(size: int, color: tuple[int, int, int]) -> np.ndarray:
    return np.ones((size, size, 3), dtype=np.float64) * np.array(color, dtype=np.float64)


def _disc(shape: tuple[int, int], cx: float, cy: float, r: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return ((x - cx) ** 2 + (y - cy) ** 2) <= r**2


def _blobs(img: np.ndarray, rng: np.random.Generator, n: int, rmin: float, rmax: float, color: tuple) -> None:
    for _ in range(n):
        cx, cy = rng.uniform(0, img.shape[1]), rng.uniform(0, img.shape[0])
        img[_disc(img.shape[:2], cx, cy, rng.uniform(rmin, rmax))] = color


def _save_rgb(img: np.ndarray, target: Path, rng: np.random.Generator, noise: float = 6.0) -> None:
    img = img + rng.normal(0, noise, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(target, optimize=True)


def _fundus(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED)
    img = _canvas(512, (0, 0, 0))
    yy, xx = np.mgrid[:512, :512]
    retina = _disc((512, 512), 256, 256, 240)
    shade = 1 - 0.5 * np.hypot(xx - 256, yy - 256) / 240
    img[retina] = np.stack([200 * shade, 80 * shade, 30 * shade], -1)[retina]
    img[_disc((512, 512), 360, 250, 38)] = (250, 210, 140)  # optic disc
    for angle in np.linspace(0, 2 * np.pi, 9)[:-1]:  # vessels
        for t in np.linspace(0, 1, 300):
            x = 360 + np.cos(angle) * t * 300 + 15 * np.sin(t * 6)
            y = 250 + np.sin(angle) * t * 220
            if retina[int(np.clip(y, 0, 511)), int(np.clip(x, 0, 511))]:
                img[_disc((512, 512), x, y, 3 - 2 * t)] = (120, 20, 15)
    _blobs(img, rng, 12, 2, 4, (110, 10, 10))  # haemorrhages
    _blobs(img, rng, 8, 2, 5, (240, 230, 120))  # exudates
    img[~retina] = 0
    _save_rgb(img, target, rng, 3)


def _skin_lesion(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 1)
    img = _canvas(512, (225, 180, 160))
    yy, xx = np.mgrid[:512, :512]
    radius = 130 + 25 * np.sin(6 * np.arctan2(yy - 256, xx - 256))
    lesion = np.hypot(xx - 256, yy - 256) < radius
    img[lesion] = (110, 70, 50)
    _blobs(img, rng, 30, 4, 12, (60, 35, 30))
    _save_rgb(img, target, rng)


def _histology(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 2)
    img = _canvas(512, (240, 200, 225))  # eosin background
    _blobs(img, rng, 60, 20, 45, (225, 150, 200))  # stroma islands
    _blobs(img, rng, 500, 4, 9, (80, 50, 150))  # haematoxylin nuclei
    _save_rgb(img, target, rng)


def _blood_smear(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 3)
    img = _canvas(512, (235, 225, 215))
    _blobs(img, rng, 120, 14, 18, (220, 150, 150))  # red cells
    _blobs(img, rng, 5, 20, 26, (120, 70, 160))  # white cells
    _save_rgb(img, target, rng)


def _otoscopy(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 4)
    img = _canvas(512, (20, 10, 10))
    img[_disc((512, 512), 256, 256, 200)] = (190, 150, 140)
    img[_disc((512, 512), 256, 256, 150)] = (215, 190, 180)  # tympanic membrane
    img[_disc((512, 512), 300, 230, 12)] = (250, 245, 240)  # light reflex
    _save_rgb(img, target, rng)


def _burn(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 5)
    img = _canvas(512, (215, 170, 150))
    img[_disc((512, 512), 250, 260, 170)] = (200, 80, 70)
    img[_disc((512, 512), 230, 240, 90)] = (235, 225, 210)
    _blobs(img, rng, 15, 6, 18, (150, 40, 35))
    _save_rgb(img, target, rng)


def _mammogram(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 6)
    yy, xx = np.mgrid[:640, :512]
    breast = ((xx / 420) ** 2 + ((yy - 320) / 300) ** 2) < 1
    img = np.zeros((640, 512, 3))
    tissue = 90 + 70 * np.exp(-((xx - 150) ** 2 + (yy - 320) ** 2) / 2e4)
    img[breast] = np.repeat(tissue[breast][:, None], 3, 1)
    img[_disc((640, 512), 200, 280, 22)] = (220, 220, 220)
    _blobs(img[250:330, 280:360], rng, 8, 1, 2, (255, 255, 255))
    _save_rgb(img, target, rng, 8)


def _body_pose(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 7)
    img = _canvas(512, (235, 235, 240))
    joints = {
        "head": (256, 80),
        "neck": (256, 130),
        "ls": (210, 145),
        "rs": (302, 145),
        "le": (190, 220),
        "re": (322, 220),
        "lw": (185, 290),
        "rw": (330, 290),
        "lh": (230, 290),
        "rh": (282, 290),
        "lk": (225, 380),
        "rk": (295, 380),
        "la": (220, 470),
        "ra": (305, 470),
    }
    bones = [
        ("neck", "ls"),
        ("neck", "rs"),
        ("ls", "le"),
        ("le", "lw"),
        ("rs", "re"),
        ("re", "rw"),
        ("neck", "lh"),
        ("neck", "rh"),
        ("lh", "lk"),
        ("lk", "la"),
        ("rh", "rk"),
        ("rk", "ra"),
        ("lh", "rh"),
    ]
    for a, b in bones:
        for t in np.linspace(0, 1, 80):
            x = joints[a][0] + t * (joints[b][0] - joints[a][0])
            y = joints[a][1] + t * (joints[b][1] - joints[a][1])
            img[_disc((512, 512), x, y, 9)] = (70, 90, 140)
    img[_disc((512, 512), *joints["head"], 34)] = (200, 160, 140)
    _save_rgb(img, target, rng, 2)


def _hand_xray(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 8)
    img = np.zeros((640, 512))
    img[_disc((640, 512), 256, 470, 150)] = 90  # palm soft tissue
    for i, x in enumerate((150, 205, 256, 307, 360)):
        length = 260 if i else 170
        for t in np.linspace(0, 1, 120):
            img[_disc((640, 512), x + (i == 0) * -40 * t, 430 - t * length, 16)] = 90
            img[_disc((640, 512), x + (i == 0) * -40 * t, 430 - t * length, 8)] = 200  # bone
    Image.fromarray(np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)).save(
        target, optimize=True
    )


# ------------------------------------------------------------------ signals


def _write_csv(target: Path, header: list[str], columns: list[np.ndarray], decimals: int = 4) -> None:
    """Write a time-series CSV; the time column (first) keeps microseconds so samples stay distinct."""
    with target.open("w", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(header)
        for time, *values in zip(*columns, strict=True):
            writer.writerow([f"{time:.6f}", *(f"{value:.{decimals}f}" for value in values)])


ECG_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _ecg_12lead(target: Path) -> None:
    import neurokit2 as nk

    leads = nk.ecg_simulate(
        duration=10, sampling_rate=500, heart_rate=72, method="multileads", random_state=7
    )
    time = np.arange(len(leads)) / 500
    _write_csv(target, ["time", *ECG_LEADS], [time, *(leads[lead].to_numpy() for lead in ECG_LEADS)])


def _eeg(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 9)
    channels = [
        "Fp1",
        "Fp2",
        "F3",
        "F4",
        "C3",
        "C4",
        "P3",
        "P4",
        "O1",
        "O2",
        "F7",
        "F8",
        "T3",
        "T4",
        "T5",
        "T6",
        "Fz",
        "Cz",
        "Pz",
    ]
    fs, seconds = 256, 20
    time = np.arange(fs * seconds) / fs
    columns = []
    for index, name in enumerate(channels):
        alpha = (25 if name.startswith("O") or name.startswith("P") else 8) * np.sin(
            2 * np.pi * 10 * time + index
        )
        signal = alpha + rng.normal(0, 6, time.size) + 5 * np.sin(2 * np.pi * 4 * time + index / 3)
        if name in ("F3", "C3", "Fp1", "F7"):  # a left frontal spike-and-wave at 8 s
            signal += -120 * np.exp(-(((time - 8.0) / 0.02) ** 2)) + 60 * np.exp(
                -(((time - 8.15) / 0.08) ** 2)
            )
        columns.append(signal)
    _write_csv(target, ["time", *channels], [time, *columns], 2)


def _ctg(target: Path) -> None:
    rng = np.random.default_rng(_RNG_SEED + 10)
    fs, minutes = 4, 20
    time = np.arange(fs * 60 * minutes) / fs
    uc = 10 + sum(50 * np.exp(-(((time - c) / 30) ** 2)) for c in range(120, 1200, 180))
    fhr = 140 + np.cumsum(rng.normal(0, 0.3, time.size)) * 0.2 + rng.normal(0, 2, time.size)
    fhr += sum(20 * np.exp(-(((time - a) / 15) ** 2)) for a in (200, 650))  # accelerations
    fhr -= sum(
        25 * np.exp(-(((time - (c + 30)) / 25) ** 2)) for c in range(840, 1200, 180)
    )  # late decelerations
    _write_csv(target, ["time", "fhr", "uc"], [time, fhr, uc], 2)


def _vitals(target: Path) -> None:
    import neurokit2 as nk

    fs, seconds = 125, 60
    time = np.arange(fs * seconds) / fs
    ecg = nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=80, random_state=3)[: time.size]
    phase = 2 * np.pi * (80 / 60) * time
    pulse = np.maximum(np.sin(phase), 0) ** 2
    mean = np.where(time < 30, 85, 85 - np.minimum((time - 30) * 1.5, 30))  # hypotension after 30 s
    abp = mean - 15 + 40 * pulse
    pleth = 0.5 + 0.5 * np.maximum(np.sin(phase - 0.6), 0) ** 2
    _write_csv(target, ["time", "abp", "ecg_ii", "pleth"], [time, abp, ecg, pleth], 3)


# ------------------------------------------------------------------ video


def _endoscopy_video(target: Path) -> None:
    """A 10 s H.264 clip: a lumen with a drifting polyp, encoded by the ffmpeg that imageio-ffmpeg ships."""
    import imageio.v3 as iio

    rng = np.random.default_rng(_RNG_SEED + 11)
    frames = []
    yy, xx = np.mgrid[:288, :352]
    for index in range(250):
        t = index / 250
        img = np.zeros((288, 352, 3))
        dist = np.hypot(xx - 176, yy - 144)
        img[...] = np.stack([200 - dist * 0.5, 110 - dist * 0.35, 90 - dist * 0.3], -1)
        img[dist < 25 + 5 * np.sin(index / 8)] = (40, 15, 15)  # lumen
        img[_disc((288, 352), 90 + 170 * t, 200 - 60 * t, 22)] = (215, 120, 110)  # polyp
        frames.append(np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8))
    iio.imwrite(target, np.stack(frames), extension=".mp4", plugin="FFMPEG", fps=25, codec="libx264")


# ------------------------------------------------------------------ registry


SAMPLE_BUILDERS: dict[str, Callable[[Path], None]] = {
    "chest_xray.png": _dicom_png("RG1_UNCR.dcm"),
    "extremity_xray.png": _dicom_png("RG3_UNCR.dcm"),
    "ct_axial.png": _dicom_png("693_UNCR.dcm"),
    "mr_axial.png": _dicom_png("MR2_UNCR.dcm"),
    "nm_whole_body.png": _dicom_png("JPEG2000_UNC.dcm"),
    "us_image.png": _dicom_png("US1_UNCR.dcm"),
    **{f"mr_frame_{i}.png": _dicom_png("emri_small.dcm", i) for i in range(10)},
    "fundus.png": _fundus,
    "skin_lesion.png": _skin_lesion,
    "histology.png": _histology,
    "mammogram.png": _mammogram,
    "blood_smear.png": _blood_smear,
    "otoscopy.png": _otoscopy,
    "burn_photo.png": _burn,
    "body_pose.png": _body_pose,
    "hand_xray.png": _hand_xray,
    "endoscopy.mp4": _endoscopy_video,
    "ecg_12lead.csv": _ecg_12lead,
    "eeg.csv": _eeg,
    "ctg.csv": _ctg,
    "vitals.csv": _vitals,
}


def ensure_sample_media(media_root: Path, names: set[str] | None = None) -> Path:
    """Build the sample files that are missing under `media_root/samples`; return that folder."""
    folder = media_root / SAMPLES_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLE_BUILDERS.items():
        if names is not None and name not in names:
            continue
        target = folder / name
        if not target.exists():
            partial = target.with_name(f".{name}.partial{target.suffix}")
            build(partial)
            partial.replace(target)  # never leave a half-written sample behind
    return folder


def sample_names(task: Mapping[str, Any]) -> set[str]:
    """Names of the sample files a sample task refers to."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith(SAMPLE_PREFIX):
            found.add(value.removeprefix(SAMPLE_PREFIX))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(task)
    unknown = found - set(SAMPLE_BUILDERS)
    if unknown:
        raise KeyError(f"unknown sample media {sorted(unknown)}; known: {sorted(SAMPLE_BUILDERS)}")
    return found


def resolve_sample_task(task: Mapping[str, Any], url_for: Callable[[str], str]) -> dict[str, Any]:
    """Copy of `task` with every ``sample:<name>`` replaced by ``url_for("samples/<name>")``."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SAMPLE_PREFIX):
            return url_for(f"{SAMPLES_SUBDIR}/{value.removeprefix(SAMPLE_PREFIX)}")
        if isinstance(value, Mapping):
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        return value

    return resolve(dict(task))
