"""The DICOM ingest plugin on real files: every file pydicom and pydicom-data ship, rendering, series, burned-in
text and PHI. No Label Studio needed: the plugin only writes PNGs and task drafts."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import struct
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.data.data_manager import external_data_sources
from pydicom.pixels import apply_modality_lut
from pydicom.uid import MPEG2MPML

from plugins.ingest.base import IngestContext, IngestOptions, Quarantine, SourceFile, TaskDraft, source_key
from plugins.ingest.dicom import read, render
from plugins.ingest.dicom.deid import Deidentifier
from plugins.ingest.dicom.plugin import DicomPlugin, InvalidIngestOptionsError
from plugins.ingest.dicom.read import REASONS

SECRET = b"dicom-plugin-test-secret-0123456789"


@dataclass
class Batch:
    """The outcome of one `convert` call, indexed by source file."""

    drafts: list[TaskDraft]
    quarantines: list[Quarantine]
    media_dir: Path
    names_by_key: dict[str, set[str]]

    def reasons(self) -> dict[str, str]:
        return {name: q.reason for q in self.quarantines for name in self.names_by_key[q.source_key]}


def _source(path: Path) -> SourceFile:
    return SourceFile(display_name=path.name, read_bytes=path.read_bytes, size=path.stat().st_size, path=path)


def _convert(paths: Iterable[Path], media_dir: Path, **options: Any) -> Batch:
    paths = list(paths)
    context = IngestContext(
        project_id=1,
        project_secret=SECRET,
        media_dir=media_dir,
        media_url=lambda p: f"/data/local-files/?d=media/{p.relative_to(media_dir).as_posix()}",
        options=IngestOptions(**options),
    )
    outcomes = list(DicomPlugin().convert([_source(p) for p in paths], context))
    names: dict[str, set[str]] = {}
    for path in paths:
        names.setdefault(source_key(SECRET, path.read_bytes()), set()).add(path.name)
    return Batch(
        drafts=[o for o in outcomes if isinstance(o, TaskDraft)],
        quarantines=[o for o in outcomes if isinstance(o, Quarantine)],
        media_dir=media_dir,
        names_by_key=names,
    )


#: Cine loops whose every distinct frame goes through OCR (150 frames: minutes); tests/test_burned_in_ocr.py
#: and bench/burned_in.py cover the OCR path.
LONG_CINES = ("color3d_jpeg_baseline.dcm", "examples_ybr_color.dcm")


def _shipped_files() -> list[Path]:
    return sorted(
        Path(f) for f in get_testdata_files() if os.path.isfile(f) and Path(f).name not in LONG_CINES
    )


def _made_bad_files(folder: Path) -> list[Path]:
    """Files no package ships: empty, plain text, a transfer syntax without decoder, BurnedInAnnotation YES."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.dcm").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image\n" * 20)
    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    ds.file_meta.TransferSyntaxUID = MPEG2MPML  # encapsulated, and no pixel decoder exists for it
    ds.save_as(folder / "mpeg2.dcm")
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    ds.save_as(folder / "ct_burned.dcm")
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def all_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _shipped_files() + _made_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def full_batch(all_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Every file in ONE convert call, frame mode, with a burned-in region as the second layer over OCR."""
    return _convert(
        all_files, tmp_path_factory.mktemp("media"), series_mode="frame", burned_in_regions=((0, 0, 8, 8),)
    )


def test_the_batch_covers_pydicom_and_pydicom_data(all_files: list[Path]) -> None:
    data_store = Path(external_data_sources()["pydicom-data"].data_path).resolve()
    from_store = [p for p in all_files if data_store in p.resolve().parents]
    assert len(from_store) >= 58
    assert len(all_files) - len(from_store) >= 150


def test_every_file_becomes_rendered_tasks_or_a_named_quarantine(
    full_batch: Batch, all_files: list[Path]
) -> None:
    covered = {k for d in full_batch.drafts for k in d.source_keys} | {
        q.source_key for q in full_batch.quarantines
    }
    assert set(full_batch.names_by_key) == covered
    assert {q.reason for q in full_batch.quarantines} <= set(REASONS)
    for q in full_batch.quarantines:
        assert q.detail and not any(
            n in q.detail for n in full_batch.names_by_key[q.source_key] if len(n) > 8
        )

    path_by_key = {source_key(SECRET, p.read_bytes()): p for p in all_files}
    by_source: dict[str, list[TaskDraft]] = {}
    for draft in full_batch.drafts:
        by_source.setdefault(draft.source_keys[0], []).append(draft)
    for key, drafts in by_source.items():
        path = path_by_key[key]
        ds = read.read(path.read_bytes(), path.name)
        frames = read.decode(ds)
        copies = len(full_batch.names_by_key[key])  # byte-identical files under two names
        assert len(drafts) == len(frames) * copies and len(frames) == drafts[0].data["frames"], path.name
        for draft in drafts:
            (media,) = draft.media
            assert draft.data["image"].endswith(media.relative_to(full_batch.media_dir).as_posix())
            with Image.open(media) as png:
                assert png.size == (ds.Columns, ds.Rows)
                image = np.asarray(png)
            # Not constant unless the source is (a file's own window may legitimately clip a frame flat).
            window = draft.data["window"]
            outside = np.ones(image.shape[:2], bool)
            outside[:8, :8] = False  # the burned-in region this batch blacks out
            source = frames[draft.data["frame"]][outside]
            if source.size and np.ptp(source) > 0 and (window is None or window["name"] == "minmax"):
                assert np.ptp(image[outside]) > 0, path.name

    reasons = full_batch.reasons()
    assert reasons["MR_truncated.dcm"] == "truncated_pixel_data"
    assert reasons["emri_small_jpeg_2k_lossless_too_short.dcm"] == "corrupt"
    assert reasons["JPEG-lossy.dcm"] == "corrupt"  # a broken JPEG stream every decoder refuses
    assert reasons["empty.dcm"] == "empty_file"
    assert reasons["notes.txt"] == reasons["README.txt"] == "not_dicom"
    assert reasons["no_meta.dcm"] == reasons["ExplVR_BigEndNoMeta.dcm"] == "no_file_meta"
    for no_pixels in ("rtplan.dcm", "test-SR.dcm", "DICOMDIR", "ExplVR_LitEndNoMeta.dcm", "waveform_ecg.dcm"):
        assert reasons[no_pixels] == "no_pixel_data"
    assert reasons["mpeg2.dcm"] == "no_decoder"
    (mpeg2,) = [q for q in full_batch.quarantines if "mpeg2.dcm" in full_batch.names_by_key[q.source_key]]
    assert "MPEG2" in mpeg2.detail
    # A raw little-endian data set with SOP UIDs passes the no-meta policy and renders.
    assert "OT-PAL-8-face.dcm" not in reasons
    accepted = {name for d in full_batch.drafts for k in d.source_keys for name in full_batch.names_by_key[k]}
    # ct_burned.dcm (BurnedInAnnotation YES, no text) is accepted because the batch's region covers a corner.
    assert {"RG1_J2KR.dcm", "emri_small_RLE.dcm", "ct_burned.dcm"} <= accepted
    assert reasons["SC_rgb_small_odd.dcm"] == "ocr_unreadable"
    all_names = {n for names in full_batch.names_by_key.values() for n in names}
    assert accepted.isdisjoint(reasons) and accepted | set(reasons) == all_names
    counts = Counter(reasons.values())
    assert len(accepted) >= 130 and counts["no_pixel_data"] >= 60, counts


def test_default_options_check_burned_in_suspects_with_ocr(tmp_path: Path) -> None:
    burned = _made_bad_files(tmp_path / "bad")[0]
    assert burned.name == "ct_burned.dcm"
    paths = [burned, Path(get_testdata_file("MR_small.dcm")), Path(get_testdata_file("SC_rgb.dcm"))]
    batch = _convert(paths, tmp_path / "media")
    reasons = batch.reasons()
    # BurnedInAnnotation YES on a CT without readable text: the text is somewhere OCR cannot read.
    assert reasons == {"ct_burned.dcm": "burned_in_text_unlocated"}
    by_name = {name: d for d in batch.drafts for k in d.source_keys for name in batch.names_by_key[k]}
    assert "burned_in" in by_name["SC_rgb.dcm"].facts and "burned_in" not in by_name["MR_small.dcm"].facts


def _render_file(
    name: str, preset_name: str | None = None
) -> tuple[pydicom.Dataset, np.ndarray, render.Rendered]:
    ds = pydicom.dcmread(get_testdata_file(name))
    pixels = read.decode(ds)
    return ds, pixels, render.render(ds, pixels, preset_name)


def test_monochrome1_renders_inverted() -> None:
    ds, _, mono1 = _render_file("6154")  # CR, MONOCHROME1
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    ds.PhotometricInterpretation = "MONOCHROME2"
    as_mono2 = render.render(ds, read.decode(ds))
    total = mono1.frames.astype(int) + as_mono2.frames
    assert np.ptp(mono1.frames) > 0 and (total == 255).all()


def test_ct_rescale_to_hounsfield_and_presets() -> None:
    ds, pixels, bone = _render_file("693_UNCR.dcm", "bone")
    hu = apply_modality_lut(pixels, ds)
    assert float(ds.RescaleIntercept) != 0
    assert bone.frames[hu < -500].max() == 0  # air is black
    assert bone.frames[hu > 1300].min() == 255  # dense bone is white (400 + 1800/2 = 1300 HU)
    assert bone.window == render.PRESETS["bone"]
    lung = render.render(ds, pixels, "lung")
    assert np.mean(lung.frames) > np.mean(bone.frames)  # lung window brightens soft tissue
    assert (lung.frames != bone.frames).mean() > 0.5
    own = render.render(ds, pixels)
    assert own.window is not None and own.window.name == "file"
    with pytest.raises(render.UnknownPresetError, match="known presets: .*lung"):
        render.render(ds, pixels, "lungs")


def test_presets_apply_to_ct_only() -> None:
    _, _, mr = _render_file("MR_small.dcm", "lung")
    assert mr.window is not None and mr.window.name == "file"


@pytest.mark.parametrize(
    "name",
    [
        "SC_ybr_full_uncompressed.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_16bit.dcm",
    ],
)
def test_ybr_and_16_bit_colour_match_the_rgb_original(name: str) -> None:
    _, _, rgb = _render_file("SC_rgb.dcm")
    ds, _, other = _render_file(name)
    assert other.frames.dtype == np.uint8 and other.frames.shape == rgb.frames.shape == (1, 100, 100, 3)
    diff = np.abs(other.frames.astype(int) - rgb.frames)
    assert diff.mean() < 1.5 and diff.max() <= 8, ds.PhotometricInterpretation


def test_sixteen_bit_signed_grayscale_uses_the_full_8_bit_range() -> None:
    ds, pixels, rendered = _render_file("MR_small.dcm")
    assert ds.BitsAllocated == 16 and ds.PixelRepresentation == 1
    assert rendered.frames.dtype == np.uint8 and len(np.unique(rendered.frames)) > 100


def test_palette_colour_renders_rgb() -> None:
    _, _, rendered = _render_file("OBXXXX1A.dcm")
    assert rendered.frames.shape == (1, 600, 800, 3) and rendered.window is None
    assert not np.array_equal(rendered.frames[..., 0], rendered.frames[..., 2])  # colour, not gray


def test_multiframe_gives_one_task_per_frame_or_one_series_task(tmp_path: Path) -> None:
    path = Path(get_testdata_file("emri_small.dcm"))
    frames = _convert([path], tmp_path / "a", series_mode="frame")
    assert len(frames.drafts) == 10 and [d.data["frame"] for d in frames.drafts] == list(range(10))
    assert all(isinstance(d.data["image"], str) for d in frames.drafts)
    (task,) = _convert([path], tmp_path / "b").drafts
    assert task.data["frames"] == 10 and len(task.data["image"]) == 10 and len(task.media) == 10
    assert task.data["slice_positions_mm"] == [None] * 10  # this file carries no geometry at all
    assert task.data["modality"] == "MR"
    # Enhanced CT: per-frame plane positions and shared pixel measures live in the functional groups.
    (ect,) = _convert([Path(get_testdata_file("eCT_Supplemental.dcm"))], tmp_path / "c").drafts
    first, second = ect.data["slice_positions_mm"]
    assert first is not None and second is not None and first != second
    assert ect.data["pixel_spacing_mm"] is not None and ect.data["window"]["name"] == "file"


def _copies_as_series(folder: Path) -> list[Path]:
    """Four CT slices from CT_small: InstanceNumbers 3, 1, 2, 2 (the tie broken by position), shuffled."""
    folder.mkdir()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    paths = []
    for index, (number, z) in enumerate([(3, 30.0), (1, 10.0), (2, 25.0), (2, 20.0)]):
        ds.InstanceNumber = number
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{index + 1}"
        ds.PixelData = (ds.pixel_array + index).astype(ds.pixel_array.dtype).tobytes()
        path = folder / f"slice{index}.dcm"
        ds.save_as(path)
        paths.append(path)
    random.Random(4).shuffle(paths)
    return paths


def test_series_becomes_one_task_with_ordered_images(tmp_path: Path) -> None:
    mr = [Path(get_testdata_file(n)) for n in ("4648", "4467", "4678", "4528", "4588", "4558", "4618")]
    (task,) = _convert(mr, tmp_path / "mr").drafts
    expected = [pydicom.dcmread(p) for p in mr]
    expected.sort(key=lambda d: int(d.InstanceNumber))
    assert task.data["frames"] == task.data["instances"] == 7 and len(task.data["image"]) == 7
    assert len(task.source_keys) == 7
    for url, ds in zip(task.data["image"], expected, strict=True):
        media = tmp_path / "mr" / url.split("media/", 1)[1]
        reference = render.render(ds, read.decode(ds)).frames[0]
        assert np.array_equal(np.asarray(Image.open(media)), reference)

    (ct,) = _convert(
        _copies_as_series(tmp_path / "ct_in"), tmp_path / "ct", window_preset="mediastinum"
    ).drafts
    assert ct.data["slice_positions_mm"] == [10.0, 20.0, 25.0, 30.0]  # by InstanceNumber, then position
    assert ct.data["window"] == {"name": "mediastinum", "center": 40, "width": 400, "function": "LINEAR"}
    assert ct.data["study"] and ct.data["series"] and ct.data["study"] != ct.data["series"]
    # Keys come from the de-identified data set: the pseudonym of the remapped UID, not of the original one.
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    context = IngestContext(1, SECRET, tmp_path, str)
    assert ct.data["series"] != context.pseudonym("series", original.SeriesInstanceUID)
    Deidentifier(SECRET).apply(original)
    assert ct.data["series"] == context.pseudonym("series", original.SeriesInstanceUID)


def test_reingest_gives_the_same_keys_and_media(tmp_path: Path) -> None:
    paths = _copies_as_series(tmp_path / "in")
    first = _convert(paths, tmp_path / "media").drafts
    again = _convert(list(reversed(paths)), tmp_path / "media").drafts
    assert [d.content_key for d in first] == [d.content_key for d in again]
    assert first[0].data == again[0].data
    other_preset = _convert(paths, tmp_path / "media", window_preset="bone").drafts
    assert set(other_preset[0].media).isdisjoint(first[0].media)  # never overwrites another task's image


def test_burned_in_regions_are_blacked_out_as_a_second_layer(tmp_path: Path) -> None:
    burned = _made_bad_files(tmp_path / "bad")[0]
    region = (10, 5, 60, 30)
    batch = _convert([burned], tmp_path / "m2", burned_in_regions=(region,))
    assert len(batch.drafts) == 1 and not batch.quarantines
    (draft,) = batch.drafts
    image = np.asarray(Image.open(draft.media[0]))
    x, y, w, h = region
    assert (image[y : y + h, x : x + w] == 0).all()
    assert image[y + h :, :].mean() > 5
    assert draft.facts["burned_in"]["regions"] == [list(region)]
    assert "burned_in_declared" in draft.review_reasons


def test_png_files_carry_no_metadata_chunks(full_batch: Batch) -> None:
    for draft in full_batch.drafts:
        data = draft.media[0].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        offset, chunks = 8, []
        while offset < len(data):
            length, kind = struct.unpack(">I4s", data[offset : offset + 8])
            chunks.append(kind)
            offset += 12 + length
        assert set(chunks) == {b"IHDR", b"IDAT", b"IEND"}


def _phi(ds: pydicom.Dataset) -> set[str]:
    values = {str(ds.get(k, "")) for k in ("PatientName", "PatientID", "PatientBirthDate")}
    components = {part for v in values for part in v.replace("=", "^").split("^") if len(part) >= 5}
    return {v for v in values | components if len(v) >= 3}


def test_no_phi_in_task_data_png_bytes_or_media_names(full_batch: Batch, all_files: list[Path]) -> None:
    path_by_key = {source_key(SECRET, p.read_bytes()): p for p in all_files}
    # Names and URLs are made of keyed hashes only, so they cannot carry any original value.
    media_name = re.compile(r"[0-9a-f]{16}/[0-9a-f]{24}-\d{4}\.png")
    hashed = ("image", "study", "series")
    checked = 0
    for draft in full_batch.drafts:
        assert re.fullmatch(r"/data/local-files/\?d=media/" + media_name.pattern, draft.data["image"])
        assert re.fullmatch(r"[0-9a-f]{16}", draft.data["study"]) and re.fullmatch(
            r"[0-9a-f]{32}", draft.content_key
        )
        for media in draft.media:
            assert media_name.fullmatch(media.relative_to(full_batch.media_dir).as_posix())
        path = path_by_key[draft.source_keys[0]]
        originals = _phi(read.read(path.read_bytes(), path.name))
        if not originals:
            continue
        text = json.dumps({k: v for k, v in draft.data.items() if k not in hashed}) + json.dumps(draft.facts)
        assert not any(v in text for v in originals), originals
        png = draft.media[0].read_bytes()
        assert not any(v.encode() in png for v in originals if len(v) >= 6)  # shorter ones occur by chance
        checked += 1
    assert checked > 100


def test_claims_images_not_waveforms_or_other_files() -> None:
    plugin = DicomPlugin()

    def claims(name: str) -> bool:
        return plugin.claims(_source(Path(get_testdata_file(name))))

    assert claims("CT_small.dcm") and claims("OT-PAL-8-face.dcm") and claims("emri_small_RLE.dcm")
    assert claims("no_meta.dcm")  # a DICOM name: claimed so it is refused with a reason
    assert not claims("waveform_ecg.dcm")  # the ECG plugin's
    assert not claims("README.txt") and not claims("crayons.icc")


def test_bad_options_fail_before_anything_is_written(tmp_path: Path) -> None:
    ct = [Path(get_testdata_file("CT_small.dcm"))]
    with pytest.raises(render.UnknownPresetError):
        _convert(ct, tmp_path / "m", window_preset="lungs")
    with pytest.raises(InvalidIngestOptionsError, match="series_mode"):
        _convert(ct, tmp_path / "m", series_mode="study")
    with pytest.raises(InvalidIngestOptionsError, match="region"):
        _convert(ct, tmp_path / "m", burned_in_regions=((0, 0, 0, 10),))
    assert not (tmp_path / "m").exists()


def test_invalid_identifying_values_are_never_echoed_by_pydicom(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pydicom logs and warns with the raw value when one is invalid for its VR; before de-identification
    that value is PHI (a birth date typed as text, an over-long name)."""
    path = tmp_path / "invalid.dcm"
    with warnings.catch_warnings():  # making the bad file warns too
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.PatientName = "Canaryhong^Gildong" + "x" * 60
        ds.add_new(0x00100030, "DA", "CANARY99")
        ds.add_new(0x00081030, "LO", "Canary study " + "y" * 80)
        ds.save_as(path)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = _convert([path], tmp_path / "media", series_mode="frame")
    assert len(batch.drafts) == 1 and not batch.quarantines
    echoed = caplog.text + "\n".join(str(w.message) for w in caught)
    assert "CANARY" not in echoed.upper()
