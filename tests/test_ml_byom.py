"""Bring your own model: small ONNX models built here with onnx.helper, served through the real Flask app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from medlabel.settings import Settings
from ml_backend.control_models.onnx_model import ByomError, load_model
from tests.fixtures.ml_backend import ml_test_client
from tests.fixtures.ml_media import modality_config

SIDE = 16


def classifier_onnx(path: Path, side: int = SIDE) -> None:
    """Mean brightness of the left vs right half → 3 logits: [left brighter, right brighter, bias]."""
    half = np.zeros((side * side, 3), np.float32)
    cols = np.tile(np.arange(side), side)
    half[cols < side // 2, 0] = 1.0 / (side * side / 2) * 20
    half[cols >= side // 2, 1] = 1.0 / (side * side / 2) * 20
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"]),
            helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        ],
        "byom",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(half, "weights")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def segmenter_onnx(path: Path, side: int = SIDE) -> None:
    """Two channels: 'bright' where the pixel is above 0.5, and its complement (sigmoid logits)."""
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["image", "half"], ["centred"]),
            helper.make_node("Mul", ["centred", "gain"], ["bright"]),
            helper.make_node("Neg", ["bright"], ["dark"]),
            helper.make_node("Concat", ["bright", "dark"], ["masks"], axis=1),
        ],
        "byom_seg",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, side, side])],
        [helper.make_tensor_value_info("masks", TensorProto.FLOAT, [1, 2, side, side])],
        [
            numpy_helper.from_array(np.array(0.5, np.float32), "half"),
            numpy_helper.from_array(np.array(40.0, np.float32), "gain"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def install(model_dir: Path, project: int, control: str, manifest: str, build: Any) -> Path:
    folder = model_dir / "byom" / str(project) / control
    folder.mkdir(parents=True)
    build(folder / "model.onnx")
    (folder / "manifest.toml").write_text(manifest)
    return folder


CLASSIFIER_MANIFEST = """
model = "model.onnx"
task = "classification"
input = "image"
output = "logits"
layout = "NCHW"
size = [16, 16]
channels = 1
mean = [0.0]
std = [1.0]
labels = ["CT", "MR", "CR"]
activation = "softmax"
"""


def _app(model_dir: Path) -> Any:
    return ml_test_client(Settings(model_dir=model_dir))


def _halves(folder: Path) -> None:
    left = np.zeros((40, 60), np.uint8)
    left[:, :30] = 255
    Image.fromarray(left).save(folder / "left.png")
    Image.fromarray(left[:, ::-1].copy()).save(folder / "right.png")


def test_byom_classifier_replaces_the_built_in_model(media: tuple[Path, str], tmp_path: Path) -> None:
    folder, url = media
    _halves(folder)
    install(tmp_path, 21, "findings", CLASSIFIER_MANIFEST, classifier_onnx)
    client, xml = _app(tmp_path), modality_config()
    tasks = [
        {"id": 1, "data": {"image": f"{url}/left.png"}},
        {"id": 2, "data": {"image": f"{url}/right.png"}},
    ]
    body = client.post("/predict", json={"tasks": tasks, "project": "21.1", "label_config": xml}).get_json()
    answers = [
        [r["value"]["choices"] for r in p["result"] if r["from_name"] == "findings"] for p in body["results"]
    ]
    assert answers == [[["CT"]], [["MR"]]]
    assert all(r["score"] > 0.9 for p in body["results"] for r in p["result"])
    assert "findings@byom_onnx." in body["model_version"]
    health = client.get("/health").get_json()
    assert health["status"] == "UP"
    assert {"project": 21, "control": "findings", "status": "ok"}.items() <= health["models"][0].items()


def test_byom_segmenter_draws_brush_masks(media: tuple[Path, str], tmp_path: Path) -> None:
    folder, url = media
    _halves(folder)
    install(
        tmp_path,
        22,
        "seg",
        CLASSIFIER_MANIFEST.replace("classification", "segmentation")
        .replace('"logits"', '"masks"')
        .replace('["CT", "MR", "CR"]', '["Bright", "Dark"]')
        .replace("softmax", "sigmoid"),
        segmenter_onnx,
    )
    xml = """<View><Image name="image" value="$image"/>
      <BrushLabels name="seg" toName="image"><Label value="Bright"/><Label value="Dark"/></BrushLabels></View>"""
    body = (
        _app(tmp_path)
        .post(
            "/predict",
            json={
                "tasks": [{"id": 1, "data": {"image": f"{url}/left.png"}}],
                "project": "22.1",
                "label_config": xml,
            },
        )
        .get_json()
    )
    from label_studio_sdk.converter.brush import decode_rle

    regions = {r["value"]["brushlabels"][0]: r for r in body["results"][0]["result"]}
    assert set(regions) == {"Bright", "Dark"}
    bright = np.asarray(decode_rle(regions["Bright"]["value"]["rle"])).reshape(40, 60, 4)[:, :, 3] > 0
    assert bright[:, :25].all() and not bright[:, 35:].any()


def test_byom_shape_mismatch_is_a_clear_error_and_the_server_keeps_serving(
    media: tuple[Path, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, url = media
    _halves(folder)
    byom = install(
        tmp_path, 23, "findings", CLASSIFIER_MANIFEST.replace("[16, 16]", "[32, 32]"), classifier_onnx
    )
    with pytest.raises(ByomError, match=r"input 'image' has shape \[1, 1, 16, 16\].*32x32"):
        load_model(byom)
    client, xml = _app(tmp_path), modality_config()
    health = client.get("/health").get_json()
    assert health["status"] == "UP" and health["models"][0]["status"] == "error"
    # the error names the file under MODEL_DIR, never where MODEL_DIR is (/health is open to anyone)
    assert "32x32" in health["models"][0]["error"] and str(tmp_path) not in str(health)
    assert health["models"][0]["error"].startswith("MODEL_DIR/byom/23/findings/")
    task = {"id": 1, "data": {"image": f"{url}/left.png"}}
    with caplog.at_level(logging.ERROR):
        response = client.post("/predict", json={"tasks": [task], "project": "23.1", "label_config": xml})
    assert response.status_code == 200 and response.get_json()["results"][0]["result"] == []
    assert "32x32" in caplog.text
    # a project without the broken model is served normally by the same server
    other = client.post("/setup", json={"project": "24.1", "schema": xml})
    assert other.status_code == 200 and "findings@image_choices.0" in other.get_json()["model_version"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.replace('["CT", "MR", "CR"]', '["CT", "MR"]'), "gives 3 values .* lists 2 labels"),
        (
            lambda m: m.replace('["CT", "MR", "CR"]', '["CT", "MR", "US"]'),
            r"labels \['US'\] are not in control",
        ),
        (lambda m: m.replace('output = "logits"', 'output = "probs"'), "has no output 'probs'"),
        (lambda m: m.replace('task = "classification"\n', ""), "missing key 'task'"),
    ],
    ids=["label-count", "unknown-label", "output-name", "missing-key"],
)
def test_byom_manifest_problems_are_named(
    edit: Any,
    message: str,
    media: tuple[Path, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, url = media
    _halves(folder)
    install(tmp_path, 25, "findings", edit(CLASSIFIER_MANIFEST), classifier_onnx)
    task = {"id": 1, "data": {"image": f"{url}/left.png"}}
    with caplog.at_level(logging.ERROR):
        body = (
            _app(tmp_path)
            .post("/predict", json={"tasks": [task], "project": "25.1", "label_config": modality_config()})
            .get_json()
        )
    assert body["results"][0]["result"] == []
    assert caplog.records and any(__import__("re").search(message, r.getMessage()) for r in caplog.records)
