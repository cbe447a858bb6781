"""From labeling configs to Controls and Reads, and the registry's choice of aggregator."""

from __future__ import annotations

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
    """Templates are our product: a control without consensus must be a known, documented gap."""
    gaps = {"TimelineLabels", "VideoRectangle", "EllipseLabels"}
    for template in list_templates():
        for control in controls_of(template.render(Overrides()).xml):
            assert aggregator_for(control) is not None or control.tag in gaps, (template.id, control.name)
