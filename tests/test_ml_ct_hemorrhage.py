"""The head-CT hemorrhage model: targets on a reduced truth set, window facts from ingest to HU, refusals, guard."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from label_studio_sdk.converter.brush import decode_rle
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

from bench import ct_hemorrhage as bench
from bench import ct_truth
from config_templates import Overrides, get_template
from ml_backend.control_models.hounsfield import to_hounsfield
from ml_backend.control_models.segmentation import body_outline, foreground, shown_candidates
from ml_backend.model import MedlabelBackend
from plugins.ingest.base import IngestContext, IngestOptions, SourceFile, TaskDraft

SECRET = b"k" * 32


def _xml(language: str = "en") -> str:
    return get_template("intracranial_hemorrhage_ct").render(Overrides(language=language)).xml


def _task(media: tuple[Path, str], image: np.ndarray, **data: Any) -> dict[str, Any]:
    folder, url = media
    Image.fromarray(image).save(folder / "slice.png")
    return {"id": 9, "data": {"image": f"{url}/slice.png", **data}}


def _masks(prediction: dict[str, Any]) -> list[tuple[np.ndarray, str, float]]:
    found = []
    for region in prediction["result"]:
        if region["type"] == "brushlabels":
            h, w = region["original_height"], region["original_width"]
            mask = np.asarray(decode_rle(region["value"]["rle"])).reshape(h, w, 4)[:, :, 3] > 0
            found.append((mask, region["value"]["brushlabels"][0], region["score"]))
    return found


def test_reduced_truth_set_meets_the_targets() -> None:
    held_out = list(ct_truth.cases("held_out", per_type=12, negatives=10))
    figures = bench.measure(held_out, bench.new_model)
    assert figures.sensitivity >= 0.9
    assert figures.fp_per_negative <= 0.2
    assert figures.dice >= 0.7
    assert figures.type_accuracy >= 0.8
    old = bench.measure(held_out, bench.old_model)
    assert old.dice < figures.dice  # the 8-bit model painted skull and brain


def test_a_bleed_comes_back_over_http_placed_labelled_and_scored(
    media: tuple[Path, str], tmp_path: Path
) -> None:
    case = next(c for c in ct_truth.cases("held_out", 2, 0) if c.kind == "Epidural" and c.size_mm >= 5)
    window = ct_truth.WINDOW.as_fact()
    task = _task(media, case.image, modality="CT", window=window, pixel_spacing_mm=[case.spacing_mm] * 2)
    [prediction] = MedlabelBackend(label_config=_xml("ko"), project=21, model_dir=tmp_path).predict([task])
    [(mask, label, score)] = _masks(prediction)
    assert label == "경막외출혈"  # the Korean label whose hint is Epidural
    assert 0.5 <= score <= 1.0
    assert 2 * (mask & case.truth).sum() / (mask.sum() + case.truth.sum()) >= 0.7


def test_a_task_without_window_facts_gets_nothing_and_the_log_says_why(
    media: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = next(c for c in ct_truth.cases("held_out", 1, 0) if c.kind == "Epidural")
    backend = MedlabelBackend(label_config=_xml(), project=22, model_dir=tmp_path)
    spacing = [case.spacing_mm] * 2
    narrow = {**ct_truth.WINDOW.as_fact(), "name": "brain", "center": 40, "width": 80}
    for data, reason in (
        ({"modality": "CT", "pixel_spacing_mm": spacing}, "no window facts"),
        ({"modality": "CT", "pixel_spacing_mm": spacing, "window": {"name": "voi_lut"}}, "no usable center"),
        ({"modality": "CT", "pixel_spacing_mm": spacing, "window": narrow}, "hemorrhage needs"),
        ({"window": ct_truth.WINDOW.as_fact(), "pixel_spacing_mm": spacing}, "not CT"),
    ):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            [prediction] = backend.predict([_task(media, case.image, **data)])
        assert [r for r in prediction["result"] if r["from_name"] == "hemorrhage_mask"] == []
        assert reason in caplog.text and "task 9" in caplog.text


def test_no_candidate_covering_most_of_the_body_is_shown() -> None:
    image = np.zeros((256, 256), np.float32)
    rows, cols = np.mgrid[0:256, 0:256]
    image[((rows - 128) / 110) ** 2 + ((cols - 128) / 90) ** 2 <= 1] = 0.5  # the body
    image[((rows - 100) / 12) ** 2 + ((cols - 140) / 12) ** 2 <= 1] = 0.9  # a bright finding in it
    body = body_outline(foreground(image))
    shown = shown_candidates(image)
    assert shown and all((c.mask & body).sum() <= 0.5 * body.sum() for c in shown)
    assert any(c.mask[100, 140] and c.mask.sum() < 0.1 * body.sum() for c in shown)
    # The real head slice the old model painted whole: no shown candidate covers most of the head.
    slice_ = ct_truth.to_8bit(ct_truth.anatomies()[0].hu) / 255.0
    head = body_outline(foreground(slice_))
    assert all((c.mask & head).sum() <= 0.5 * head.sum() for c in shown_candidates(slice_))


def test_ingest_writes_window_facts_that_map_the_png_back_to_hu(tmp_path: Path) -> None:
    from plugins.ingest.dicom.plugin import DicomPlugin

    path = Path(get_testdata_file("693_UNCR.dcm"))
    context = IngestContext(
        project_id=1,
        project_secret=SECRET,
        media_dir=tmp_path,
        media_url=lambda p: str(p),
        options=IngestOptions(window_preset="subdural", series_mode="frame"),
    )
    source = SourceFile(path.name, path.read_bytes, path.stat().st_size, path)
    [draft] = [o for o in DicomPlugin().convert([source], context) if isinstance(o, TaskDraft)]
    window = draft.data["window"]
    assert window == {"name": "subdural", "center": 75, "width": 215, "function": "LINEAR"}
    assert draft.data["modality"] == "CT" and draft.data["pixel_spacing_mm"]
    png = np.asarray(Image.open(draft.data["image"]), dtype=np.float32) / 255.0
    recovered = to_hounsfield(png, window)
    ds = pydicom.dcmread(path)
    hu = apply_modality_lut(ds.pixel_array, ds)
    inside = (hu > recovered.low + 1) & (hu < recovered.high - 1)
    assert inside.mean() > 0.1
    assert np.abs(recovered.hu[inside] - hu[inside]).max() <= 215 / 255  # one 8-bit step


def test_a_series_rendered_through_different_windows_lists_one_per_frame(tmp_path: Path) -> None:
    from plugins.ingest.dicom.plugin import DicomPlugin

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    sources = []
    for index, (center, width) in enumerate([(40, 400), (300, 1500)]):
        ds.WindowCenter, ds.WindowWidth = center, width
        ds.InstanceNumber = index + 1
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{index + 1}"
        path = tmp_path / f"slice{index}.dcm"
        ds.save_as(path)
        sources.append(SourceFile(path.name, path.read_bytes, path.stat().st_size, path))
    context = IngestContext(1, SECRET, tmp_path / "media", str, IngestOptions())
    [draft] = [o for o in DicomPlugin().convert(sources, context) if isinstance(o, TaskDraft)]
    assert draft.data["window"] is None  # no one window is true for every frame
    assert [(w["center"], w["width"]) for w in draft.data["frame_windows"]] == [(40, 400), (300, 1500)]
