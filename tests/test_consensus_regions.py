"""Box, polygon and keypoint consensus on cases with a known answer."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.consensus import aggregator_for
from plugins.consensus.base import INCOMPLETE, Control, Read

BOXES = Control("lesion", "RectangleLabels", ("image",), ("Nodule", "Mass"))
POLYGONS = Control("organ", "PolygonLabels", ("image",), ("Liver",))
POINTS = Control("landmark", "KeyPointLabels", ("image",), ("Apex",))


def box(x: float, y: float, w: float, h: float, label: str = "Nodule") -> dict[str, Any]:
    return {
        "from_name": "lesion",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 512,
        "original_height": 512,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]},
    }


def run(control: Control, *reads_items: list[dict[str, Any]]):  # noqa: ANN201
    reads = [Read(100 + i, i + 1, items) for i, items in enumerate(reads_items)]
    aggregator = aggregator_for(control)
    assert aggregator is not None
    return aggregator.aggregate(control, {7: reads})[7]


def test_two_of_three_drew_the_box_and_one_missed_it() -> None:
    result = run(BOXES, [box(10, 10, 20, 20)], [box(11, 10, 20, 21)], [])
    assert result.method == "box_iou_hungarian"
    (item,) = result.items
    value = item["value"]
    assert value["rectanglelabels"] == ["Nodule"]
    assert (value["x"], value["y"]) == pytest.approx((10.5, 10))
    assert (value["width"], value["height"]) == pytest.approx((20, 20.5))
    assert result.per_reader[3] == {"missed": 1, "extra": 0, "label_errors": 0}
    assert result.per_reader[1]["missed"] == 0
    assert result.annotation_ids == (100, 101, 102)
    # The two who drew agree closely; the one who drew nothing agrees with neither.
    assert 0.25 < result.agreement < 0.4


def test_an_extra_box_by_one_reader_is_not_in_the_consensus() -> None:
    a = box(10, 10, 20, 20)
    result = run(BOXES, [a], [a], [a, box(60, 60, 10, 10, "Mass")])
    assert len(result.items) == 1
    assert result.per_reader[3]["extra"] == 1
    assert result.per_reader[1]["extra"] == 0


def test_label_vote_and_label_errors() -> None:
    a = box(10, 10, 20, 20)
    result = run(BOXES, [a], [a], [box(10, 10, 20, 20, "Mass")])
    assert result.items[0]["value"]["rectanglelabels"] == ["Nodule"]
    assert result.per_reader[3]["label_errors"] == 1
    assert result.agreement == pytest.approx(1.0)


def test_boxes_that_barely_overlap_are_different_regions() -> None:
    result = run(BOXES, [box(10, 10, 20, 20)], [box(25, 25, 20, 20)])
    assert result.items == []
    assert result.per_reader[1]["extra"] == 1 and result.per_reader[1]["missed"] == 0
    assert result.agreement == 0


def test_two_readers_matching_two_boxes_each_pair_up_by_hungarian() -> None:
    left, right = box(10, 10, 20, 20), box(50, 10, 20, 20)
    result = run(BOXES, [left, right], [box(51, 10, 20, 20), box(10, 11, 20, 20)], [left])
    xs = sorted(i["value"]["x"] for i in result.items)
    assert xs == pytest.approx([10, 50.5])
    assert result.per_reader[3]["missed"] == 1


def test_one_read_is_no_consensus() -> None:
    result = run(BOXES, [box(10, 10, 20, 20)])
    assert result.items is None and result.method == INCOMPLETE


def polygon(points: list[list[float]]) -> dict[str, Any]:
    return {
        "from_name": "organ",
        "to_name": "image",
        "type": "polygonlabels",
        "value": {"points": points, "polygonlabels": ["Liver"]},
    }


def test_polygon_majority_outline() -> None:
    square = [[20, 20], [60, 20], [60, 60], [20, 60]]
    shifted = [[24, 20], [64, 20], [64, 60], [24, 60]]
    result = run(POLYGONS, [polygon(square)], [polygon(square)], [polygon(shifted)])
    (item,) = result.items
    xs = [p[0] for p in item["value"]["points"]]
    ys = [p[1] for p in item["value"]["points"]]
    # Majority of the three covers exactly the square the two agreeing readers drew.
    assert min(xs) == pytest.approx(20, abs=0.5) and max(xs) == pytest.approx(60, abs=0.5)
    assert min(ys) == pytest.approx(20, abs=0.5) and max(ys) == pytest.approx(60, abs=0.5)
    assert result.per_reader[3]["similarity"] == pytest.approx(36 / 44, abs=0.02)


def point(x: float, y: float) -> dict[str, Any]:
    return {
        "from_name": "landmark",
        "to_name": "image",
        "type": "keypointlabels",
        "value": {"x": x, "y": y, "width": 1, "keypointlabels": ["Apex"]},
    }


def test_keypoints_within_radius_merge_and_far_ones_do_not() -> None:
    result = run(POINTS, [point(50, 50)], [point(51, 50)], [point(50.5, 51), point(90, 90)])
    (item,) = result.items
    assert (item["value"]["x"], item["value"]["y"]) == pytest.approx((50.5, 50))
    assert result.per_reader[3]["extra"] == 1
