"""Per-region controls follow the consensus regions of their region control."""

from __future__ import annotations

from typing import Any

from label_studio_sdk.label_interface import LabelInterface

from plugins.consensus import aggregator_for
from plugins.consensus.controls import controls_of, reads_for
from plugins.consensus.per_region import per_region

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="fracture" toName="image"><Label value="Fracture"/></RectangleLabels>
  <Choices name="ao_bone" toName="image" perRegion="true">
    <Choice value="Humerus"/><Choice value="Femur"/><Choice value="Tibia"/>
  </Choices>
  <Number name="length_mm" toName="image" perRegion="true" min="0" max="300"/>
</View>"""


def region(region_id: str, x: float) -> dict[str, Any]:
    value = {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": ["Fracture"]}
    return {
        "id": region_id,
        "from_name": "fracture",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": value,
    }


def bone(region_id: str, x: float, label: str) -> dict[str, Any]:
    value = {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "choices": [label]}
    return {"id": region_id, "from_name": "ao_bone", "to_name": "image", "type": "choices", "value": value}


def length(region_id: str, mm: float) -> dict[str, Any]:
    return {
        "id": region_id,
        "from_name": "length_mm",
        "to_name": "image",
        "type": "number",
        "value": {"number": mm},
    }


ANNOTATIONS = [
    # Reader 1 and 2 both see the left fracture; reader 3 sees it too, calls it Humerus, and adds a right one.
    (101, 1, [region("a1", 10), bone("a1", 10, "Femur"), length("a1", 40.0)]),
    (102, 2, [region("b1", 11), bone("b1", 11, "Femur"), length("b1", 44.0)]),
    (
        103,
        3,
        [
            region("c1", 10),
            bone("c1", 10, "Humerus"),
            length("c1", 90.0),
            region("c2", 70),
            bone("c2", 70, "Tibia"),
        ],
    ),
]


def test_per_region_answers_follow_the_consensus_regions() -> None:
    controls = {c.name: c for c in controls_of(CONFIG)}
    assert aggregator_for(controls["ao_bone"]) is None  # not a task-level control
    boxes = controls["fracture"]
    box_aggregator = aggregator_for(boxes)
    assert box_aggregator is not None
    regions = box_aggregator.aggregate(boxes, {1: reads_for(boxes, ANNOTATIONS)})
    assert regions[1].regions == {"consensus-0": ((101, "a1"), (102, "b1"), (103, "c1"))}

    bones = per_region(controls["ao_bone"], regions, {1: reads_for(controls["ao_bone"], ANNOTATIONS)})[1]
    (item,) = bones.items
    assert item["id"] == "consensus-0"
    assert item["value"]["choices"] == ["Femur"]
    assert item["value"]["x"] == regions[1].items[0]["value"]["x"]
    assert bones.method == "per_region_majority_vote"  # one region: too few for Dawid–Skene
    assert bones.per_reader[3] == {"agrees": 0.0}

    lengths = per_region(controls["length_mm"], regions, {1: reads_for(controls["length_mm"], ANNOTATIONS)})[
        1
    ]
    assert lengths.items[0]["value"]["number"] == 44.0
    assert lengths.per_reader[3] == {"distance": 46.0}

    result = [*regions[1].items, *bones.items, *lengths.items]
    assert LabelInterface(CONFIG).validate_prediction({"result": result}, return_errors=True) == []


def test_no_region_consensus_means_no_per_region_consensus() -> None:
    controls = {c.name: c for c in controls_of(CONFIG)}
    boxes = controls["fracture"]
    regions = aggregator_for(boxes).aggregate(boxes, {1: reads_for(boxes, ANNOTATIONS[:1])})  # type: ignore[union-attr]
    bones = per_region(controls["ao_bone"], regions, {1: reads_for(controls["ao_bone"], ANNOTATIONS[:1])})[1]
    assert bones.items is None and bones.method == "incomplete"
