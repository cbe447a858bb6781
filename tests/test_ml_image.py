"""Image control models of the ML backend on real DICOM test images, without Label Studio.

Images are served over real HTTP from a temporary folder (the backend fetches task media by URL, as it does
from Label Studio); models persist to a temporary MODEL_DIR.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle
from label_studio_sdk.label_interface import LabelInterface
from skimage import draw, measure

from config_templates import get_template, list_templates
from medlabel.samples import _render_dicom
from ml_backend.control_models import classifier
from ml_backend.control_models.segmentation import shown_candidates
from ml_backend.model import MedlabelBackend
from tests.fixtures.ml_media import annotation, modality_config, tasks_for
from tests.fixtures.modality_images import modality_images


def choices_of(prediction: dict[str, Any]) -> list[str]:
    return [c for r in prediction["result"] if r["from_name"] == "findings" for c in r["value"]["choices"]]


def test_image_choices_learn_modality_and_persist(media: tuple[Path, str], tmp_path: Path) -> None:
    xml = modality_config()
    train, held_out = modality_images(6, seed=1), modality_images(6, seed=2)
    train_tasks, test_tasks = tasks_for(train, media, 1), tasks_for(held_out, media, 1000)
    backend = MedlabelBackend(label_config=xml, project="7.1700000000", model_dir=tmp_path / "models")

    before = backend.predict(test_tasks)
    assert all(p["result"] == [] for p in before)  # no prior: nothing to undo before physicians teach it
    version_before = backend.model_version

    backend.fit_annotations(
        [(t, annotation(item.modality)) for t, item in zip(train_tasks, train, strict=True)], replace=False
    )
    after = backend.predict(test_tasks)
    assert backend.model_version != version_before and "findings@image_choices.1" in backend.model_version
    correct = [choices_of(p) == [item.modality] for p, item in zip(after, held_out, strict=True)]
    assert np.mean(correct) >= 0.8
    interface = LabelInterface(xml)
    for prediction in after:
        assert 0 < prediction["score"] <= 1 and prediction["model_version"] == backend.model_version
        assert all(interface.validate_region(r) for r in prediction["result"])

    # a fresh process: nothing in memory, the model comes back from MODEL_DIR with the same answers
    classifier._FITTED.clear()
    reloaded = MedlabelBackend(label_config=xml, project=7, model_dir=tmp_path / "models")
    assert reloaded.model_version == backend.model_version
    assert [choices_of(p) for p in reloaded.predict(test_tasks)] == [choices_of(p) for p in after]


def test_bad_task_input_gives_an_empty_result_and_a_log_line(
    media: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    xml = get_template("ct_liver_lesion_segmentation").render().xml
    folder, url = media
    (folder / "broken.png").write_bytes(b"this is not an image")
    backend = MedlabelBackend(label_config=xml, project=8, model_dir=tmp_path)
    with caplog.at_level(logging.ERROR):
        predictions = backend.predict(
            [{"id": 1, "data": {"img": "x"}}, {"id": 2, "data": {"image": f"{url}/broken.png"}}]
        )
    assert [p["result"] for p in predictions] == [[], []]
    assert "task 1 has no data key 'image'" in caplog.text
    assert "task 2: 'image' is not a decodable image" in caplog.text


def test_config_without_supported_control_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    xml = '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>'
    with caplog.at_level(logging.ERROR):
        result = MedlabelBackend(label_config=xml, project=9, model_dir=tmp_path).predict(
            [{"id": 1, "data": {}}]
        )
    assert result[0]["result"] == [] and "no control this backend can pre-annotate" in caplog.text


# ------------------------------------------------------------------ segmentation


def _ct_slice(media: tuple[Path, str], name: str = "693_UNCR.dcm") -> tuple[np.ndarray, dict[str, Any]]:
    folder, url = media
    image = _render_dicom(name)
    image.save(folder / "ct.png")
    return np.asarray(image.convert("L"), dtype=np.float32) / 255, {
        "id": 5,
        "data": {"image": f"{url}/ct.png"},
    }


def _brush_mask(region: dict[str, Any]) -> np.ndarray:
    h, w = region["original_height"], region["original_width"]
    return np.asarray(decode_rle(region["value"]["rle"])).reshape(h, w, 4)[:, :, 3] > 0


def test_brush_presegmentation_round_trips_as_label_studio_rle(
    media: tuple[Path, str], tmp_path: Path
) -> None:
    xml = get_template("ct_liver_lesion_segmentation").render().xml
    pixels, task = _ct_slice(media)
    [prediction] = MedlabelBackend(label_config=xml, project=10, model_dir=tmp_path).predict([task])
    brush = [r for r in prediction["result"] if r["type"] == "brushlabels"]
    expected = shown_candidates(pixels)
    assert brush and len(brush) == len(expected)
    for region, component in zip(brush, expected, strict=True):
        assert np.array_equal(_brush_mask(region), component.mask)
        assert region["value"]["brushlabels"] == ["Liver"] and 0 <= region["score"] <= 0.5  # untrained: low


def test_interactive_click_on_a_ct_slice_grows_a_connected_mask_around_it(
    media: tuple[Path, str], tmp_path: Path
) -> None:
    xml = get_template("ct_liver_lesion_segmentation").render().xml
    pixels, task = _ct_slice(media)
    h, w = pixels.shape
    row, col = 300, 180  # soft tissue of this abdominal slice
    click = {
        "result": [
            {
                "type": "keypointlabels",
                "original_width": w,
                "original_height": h,
                "is_positive": True,
                "value": {"x": col * 100 / w, "y": row * 100 / h, "keypointlabels": ["Liver lesion"]},
            }
        ]
    }
    [prediction] = MedlabelBackend(label_config=xml, project=11, model_dir=tmp_path).predict(
        [task], context=click
    )
    [region] = prediction["result"]
    mask = _brush_mask(region)
    assert region["value"]["brushlabels"] == ["Liver lesion"]
    assert mask[row, col] and measure.label(mask).max() == 1
    assert 0.001 < mask.mean() < 0.5
    inside = pixels[mask]
    assert abs(float(np.median(inside)) - float(pixels[row, col])) < 0.15  # it grew over similar tissue


def test_polygons_and_boxes_trace_the_same_segmentation(media: tuple[Path, str], tmp_path: Path) -> None:
    xml = """<View><Image name="image" value="$image"/>
      <PolygonLabels name="outline" toName="image"><Label value="Organ"/></PolygonLabels>
      <RectangleLabels name="box" toName="image"><Label value="Organ"/><Label value="Other"/></RectangleLabels>
    </View>"""
    pixels, task = _ct_slice(media)
    [prediction] = MedlabelBackend(label_config=xml, project=12, model_dir=tmp_path).predict([task])
    expected = shown_candidates(pixels)
    polygons = [r for r in prediction["result"] if r["type"] == "polygonlabels"]
    boxes = [r for r in prediction["result"] if r["type"] == "rectanglelabels"]
    assert len(polygons) == len(boxes) == len(expected)
    h, w = pixels.shape
    for polygon, box, component in zip(polygons, boxes, expected, strict=True):
        points = np.asarray(polygon["value"]["points"])
        drawn = draw.polygon2mask(pixels.shape, np.c_[points[:, 1] * h / 100, points[:, 0] * w / 100])
        overlap = np.logical_and(drawn, component.mask).sum() / np.logical_or(drawn, component.mask).sum()
        assert overlap > 0.8
        r0, c0, r1, c1 = component.bbox
        assert box["value"]["x"] == pytest.approx(c0 * 100 / w) and box["value"]["width"] == pytest.approx(
            (c1 - c0) * 100 / w
        )


def test_boxes_learn_which_candidates_physicians_keep(media: tuple[Path, str], tmp_path: Path) -> None:
    xml = """<View><Image name="image" value="$image"/>
      <RectangleLabels name="box" toName="image"><Label value="Body"/><Label value="Other"/></RectangleLabels>
    </View>"""
    # CT_small (a spine slice): three distinct candidates once the body outline is never shown.
    pixels, task = _ct_slice(media, "CT_small.dcm")
    h, w = pixels.shape
    body = max(shown_candidates(pixels), key=lambda c: c.mask.sum())
    r0, c0, r1, c1 = body.bbox
    physician_box = {
        "type": "rectanglelabels",
        "from_name": "box",
        "to_name": "image",
        "value": {
            "x": c0 * 100 / w,
            "y": r0 * 100 / h,
            "width": (c1 - c0) * 100 / w,
            "height": (r1 - r0) * 100 / h,
            "rectanglelabels": ["Other"],
        },
    }
    backend = MedlabelBackend(label_config=xml, project=13, model_dir=tmp_path)
    untrained = backend.predict([task])[0]["result"]
    assert {r["value"]["rectanglelabels"][0] for r in untrained} == {"Body"}  # before training: first label
    backend.fit_annotations([(task, {"id": 3, "result": [physician_box]})], replace=False)
    trained = backend.predict([task])[0]["result"]
    # the physician's box comes back with the physician's label; the candidates they ignored are dropped
    assert len(trained) < len(untrained)
    assert any(
        r["value"]["rectanglelabels"] == ["Other"] and r["value"]["x"] == pytest.approx(c0 * 100 / w)
        for r in trained
    )


def test_templates_with_smart_seeds_ask_for_interactive_pre_annotation() -> None:
    from medlabel.projects import uses_interactive_models

    assert uses_interactive_models(get_template("ct_liver_lesion_segmentation").render().xml)
    assert uses_interactive_models(get_template("intracranial_hemorrhage_ct").render().xml)
    assert not uses_interactive_models(get_template("chest_xray_chexpert").render().xml)


def test_every_single_image_control_of_the_catalog_is_served(tmp_path: Path) -> None:
    """Each Choices/BrushLabels/PolygonLabels/RectangleLabels on a one-image <Image> gets an image model."""
    image_tags = {"Choices", "BrushLabels", "PolygonLabels", "RectangleLabels"}
    unserved, served = [], 0
    for template in list_templates(data_type="image"):
        interface = LabelInterface(template.render().xml)
        backend = MedlabelBackend(label_config=template.render().xml, project=1, model_dir=tmp_path)
        kinds = {m.control.name: m.kind for m in backend.control_models()}
        for control in interface.controls:
            objects = [interface.get_object(name) for name in control.to_name]
            if control.tag in image_tags and all(o.tag == "Image" and o.attr.get("value") for o in objects):
                served += 1
                if not kinds.get(control.name, "").startswith("image_"):
                    unserved.append(f"{template.id}:{control.name}")
    assert served >= 30 and unserved == []
