"""STAPLE mask consensus, and our RLE decoder against the SDK's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle as sdk_decode_rle
from label_studio_sdk.converter.brush import mask2rle

from plugins.consensus import aggregator_for
from plugins.consensus.base import INCOMPLETE, Control, Read
from plugins.consensus.brush import decode_rle, mask_of

TUMOR = Control("tumor", "BrushLabels", ("image",), ("Tumor", "Edema"))


def disk(cx: float, cy: float, r: float, size: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r**2


def stroke(mask: np.ndarray, label: str = "Tumor") -> dict[str, Any]:
    h, w = mask.shape
    return {
        "from_name": "tumor",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": w,
        "original_height": h,
        "value": {"format": "rle", "rle": mask2rle(mask.astype(np.uint8) * 255), "brushlabels": [label]},
    }


@pytest.mark.parametrize(
    "mask",
    [disk(60, 60, 30), np.zeros((128, 128), bool), np.random.default_rng(0).random((64, 96)) > 0.5],
    ids=["disk", "empty", "noise"],
)
def test_decoder_matches_the_sdk(mask: np.ndarray) -> None:
    rle = mask2rle(mask.astype(np.uint8) * 255)
    assert np.array_equal(decode_rle(rle), sdk_decode_rle(rle))


def run(*reads_items: list[dict[str, Any]]):  # noqa: ANN201
    reads = [Read(200 + i, i + 1, items) for i, items in enumerate(reads_items)]
    aggregator = aggregator_for(TUMOR)
    assert aggregator is not None
    return aggregator.aggregate(TUMOR, {1: reads})[1]


def test_an_under_segmenting_reader_loses_sensitivity_not_the_consensus() -> None:
    truth = disk(64, 64, 30)
    result = run([stroke(truth)], [stroke(truth)], [stroke(disk(64, 64, 18))])
    assert result.method == "staple"
    (item,) = result.items
    assert item["value"]["brushlabels"] == ["Tumor"]
    assert np.array_equal(mask_of(item), truth)
    assert result.per_reader[1]["sensitivity"] == pytest.approx(1.0, abs=1e-3)
    assert result.per_reader[3]["sensitivity"] < 0.45  # (18/30)² ≈ 0.36 of the area
    assert result.per_reader[3]["specificity"] == pytest.approx(1.0, abs=1e-3)
    assert result.per_reader[3]["dice"] == pytest.approx(2 * 0.36 / 1.36, abs=0.02)
    assert 0.6 < result.agreement < 0.8


def test_an_over_segmenting_reader_loses_specificity() -> None:
    truth = disk(64, 64, 20)
    result = run([stroke(truth)], [stroke(disk(64, 64, 40))], [stroke(truth)])
    assert np.array_equal(mask_of(result.items[0]), truth)
    assert result.per_reader[2]["specificity"] < result.per_reader[1]["specificity"]


def test_labels_are_fused_separately_and_a_missing_label_is_an_empty_mask() -> None:
    tumor, edema = disk(40, 40, 15), disk(90, 90, 15)
    result = run(
        [stroke(tumor), stroke(edema, "Edema")], [stroke(tumor), stroke(edema, "Edema")], [stroke(tumor)]
    )
    by_label = {i["value"]["brushlabels"][0]: mask_of(i) for i in result.items}
    assert np.array_equal(by_label["Tumor"], tumor) and np.array_equal(by_label["Edema"], edema)
    assert result.per_reader[3]["sensitivity"] < result.per_reader[1]["sensitivity"]


def test_nobody_drew_anything_is_an_agreed_empty_consensus() -> None:
    result = run([], [])
    assert result.items == [] and result.agreement == 1


def test_one_read_is_no_consensus() -> None:
    assert run([stroke(disk(64, 64, 30))]).method == INCOMPLETE
