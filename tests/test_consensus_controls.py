"""From labeling configs to Controls and Reads, and the registry's choice of aggregator."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config_templates import Overrides, list_templates
from plugins.consensus import AGGREGATORS, aggregator_for, available
from plugins.consensus.base import Control
from plugins.consensus.brush import Staple
from plugins.consensus.choices import DawidSkeneVote, MajorityVote
from plugins.consensus.controls import controls_of, reads_for
from plugins.consensus.multilabel import MultiLabelVote
from plugins.consensus.ratings import MedianScore
from plugins.consensus.regions import BoxVote
from plugins.consensus.textarea import ReadsOnly

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="finding" toName="image"><Choice value="Normal"/><Choice value="Pneumonia"/></Choices>
  <Choices name="zones" toName="image" choice="multiple"><Choice value="upper"/><Choice value="lower"/></Choices>
  <Choices name="kl" toName="image">
    <Choice value="KL 0 - none"/><Choice value="KL 1 - doubtful"/><Choice value="KL 2 - minimal"/>
    <Choice value="Not assessable"/>
  </Choices>
  <RectangleLabels name="lesion" toName="image"><Label value="Nodule"/></RectangleLabels>
  <BrushLabels name="mask" toName="image"><Label value="Tumor"/></BrushLabels>
  <TextArea name="comment" toName="image"/>
  <Rating name="quality" toName="image" maxRating="4"/>
</View>"""


def test_controls_of_reads_tags_labels_and_attributes() -> None:
    controls = {c.name: c for c in controls_of(CONFIG)}
    assert list(controls) == ["finding", "zones", "kl", "lesion", "mask", "comment", "quality"]
    assert controls["finding"] == Control(
        "finding", "Choices", ("image",), ("Normal", "Pneumonia"), controls["finding"].attrs
    )
    assert controls["zones"].attrs["choice"] == "multiple"
    assert controls["quality"].attrs["maxrating"] == "4"
    assert controls["lesion"].labels == ("Nodule",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("finding", DawidSkeneVote),
        ("zones", MultiLabelVote),
        ("kl", MedianScore),
        ("lesion", BoxVote),
        ("mask", Staple),
        ("comment", ReadsOnly),
        ("quality", MedianScore),
    ],
)
def test_aggregator_for_refines_by_attributes(name: str, expected: type) -> None:
    control = next(c for c in controls_of(CONFIG) if c.name == name)
    assert type(aggregator_for(control)) is expected


def test_a_project_may_ask_for_majority_vote_but_not_a_method_that_does_not_fit() -> None:
    finding, lesion = (c for c in controls_of(CONFIG) if c.name in ("finding", "lesion"))
    assert type(aggregator_for(finding, "majority_vote")) is MajorityVote
    assert type(aggregator_for(lesion, "majority_vote")) is BoxVote


def test_a_control_without_aggregator_gets_none() -> None:
    assert aggregator_for(Control("frames", "VideoRectangle", ("video",))) is None
    assert "VideoRectangle" not in available()
    assert set(AGGREGATORS) <= set(available())


def test_reads_for_splits_an_annotation_by_control() -> None:
    finding = next(c for c in controls_of(CONFIG) if c.name == "finding")
    result = [
        {"from_name": "finding", "to_name": "image", "type": "choices", "value": {"choices": ["Normal"]}},
        {"from_name": "comment", "to_name": "image", "type": "textarea", "value": {"text": ["ok"]}},
    ]
    reads = reads_for(finding, [(11, 1, result), (12, 2, [])])
    assert [(r.annotation_id, r.physician_id, len(r.items)) for r in reads] == [(11, 1, 1), (12, 2, 0)]
    assert reads[0].items[0]["value"] == {"choices": ["Normal"]}


def test_every_template_control_has_an_aggregator_but_known_gaps() -> None:
    """Templates are our product: a control without consensus must be a known, documented gap; a per-region
    control gets None (per_region handles it) but its task-level kind must have an aggregator."""
    gaps = {"TimelineLabels", "VideoRectangle", "EllipseLabels"}
    for template in list_templates():
        for control in controls_of(template.render(Overrides()).xml):
            if control.attrs.get("perregion") == "true":
                assert aggregator_for(control) is None
                control = replace(control, attrs={})
            assert aggregator_for(control) is not None or control.tag in gaps, (template.id, control.name)


ALL_KINDS = """<View>
  <Image name="image" value="$image"/>
  <Text name="text" value="$text"/>
  <TimeSeries name="ecg" value="$ecg" valueType="url"><Channel column="ii"/></TimeSeries>
  <Choices name="finding" toName="image"><Choice value="Normal"/><Choice value="Pneumonia"/></Choices>
  <Choices name="zones" toName="image" choice="multiple"><Choice value="upper"/><Choice value="lower"/></Choices>
  <Taxonomy name="dx" toName="text"><Choice value="Infection"><Choice value="Pneumonia"/></Choice></Taxonomy>
  <RectangleLabels name="lesion" toName="image"><Label value="Nodule"/></RectangleLabels>
  <PolygonLabels name="organ" toName="image"><Label value="Liver"/></PolygonLabels>
  <KeyPointLabels name="landmark" toName="image"><Label value="Apex"/></KeyPointLabels>
  <BrushLabels name="mask" toName="image"><Label value="Tumor"/></BrushLabels>
  <Labels name="entity" toName="text"><Label value="Drug"/></Labels>
  <TimeSeriesLabels name="events" toName="ecg"><Label value="AF"/></TimeSeriesLabels>
  <Rating name="quality" toName="image" maxRating="5"/>
  <Number name="size" toName="image" min="0" max="100"/>
</View>"""


def _value(name: str) -> tuple[str, dict]:
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 255
    values = {
        "finding": ("choices", {"choices": ["Normal"]}),
        "zones": ("choices", {"choices": ["upper"]}),
        "dx": ("taxonomy", {"taxonomy": [["Infection", "Pneumonia"]]}),
        "lesion": (
            "rectanglelabels",
            {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["Nodule"]},
        ),
        "organ": ("polygonlabels", {"points": [[20, 20], [60, 20], [60, 60]], "polygonlabels": ["Liver"]}),
        "landmark": ("keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["Apex"]}),
        "mask": ("brushlabels", {"format": "rle", "rle": mask2rle(mask), "brushlabels": ["Tumor"]}),
        "entity": ("labels", {"start": 0, "end": 5, "text": "aspir", "labels": ["Drug"]}),
        "events": (
            "timeserieslabels",
            {"start": 1.0, "end": 2.0, "instant": False, "timeserieslabels": ["AF"]},
        ),
        "quality": ("rating", {"rating": 4}),
        "size": ("number", {"number": 12.5}),
    }
    return values[name]


def test_every_consensus_is_a_valid_label_studio_result() -> None:
    """What the aggregators write must import back into Label Studio: the SDK validates it against the config."""
    from label_studio_sdk.label_interface import LabelInterface

    items = []
    for control in controls_of(ALL_KINDS):
        kind, value = _value(control.name)
        item = {"from_name": control.name, "to_name": control.to_name[0], "type": kind, "value": value}
        if kind == "brushlabels":
            item |= {"original_width": 32, "original_height": 32}
        reads = reads_for(control, [(i, i, [dict(item)]) for i in (1, 2, 3)])
        aggregator = aggregator_for(control)
        assert aggregator is not None, control.tag
        consensus = aggregator.aggregate(control, {1: reads})[1]
        assert consensus.items, (control.name, consensus.method)
        items.extend(consensus.items)
    assert LabelInterface(ALL_KINDS).validate_prediction({"result": items}, return_errors=True) == []


def test_entry_points_add_aggregators_and_cannot_replace_built_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    import plugins.consensus as registry

    class EllipseVote(ReadsOnly):
        pass

    class Entry:
        def __init__(self, name: str) -> None:
            self.name, self.value = name, f"outside:{name}"

        def load(self) -> type:
            return EllipseVote

    monkeypatch.setattr(registry, "entry_points", lambda group: [Entry("EllipseLabels"), Entry("Choices")])
    registry.available.cache_clear()
    try:
        assert type(aggregator_for(Control("e", "EllipseLabels", ("image",)))) is EllipseVote
        assert type(aggregator_for(Control("c", "Choices", ("image",), ("a", "b")))) is DawidSkeneVote
    finally:
        registry.available.cache_clear()
