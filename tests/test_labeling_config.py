"""A manager's own labeling XML: every kind of mistake is named with its tag and line."""

from __future__ import annotations

import pytest

from medlabel.errors import LabelingConfigError
from medlabel.labeling_config import validate

GOOD = """<View>
  <Image name="image" value="$image"/>
  <Choices name="finding" toName="image">
    <Choice value="Normal"/>
    <Choice value="Abnormal"/>
  </Choices>
</View>"""


def test_good_config_validates() -> None:
    assert [c.name for c in validate(GOOD).controls] == ["finding"]


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (GOOD.replace("</Choices>", ""), r"malformed XML.*line"),
        (GOOD.replace("<Image ", "<Imagee "), r"<Imagee> at line 2: unknown tag"),
        (
            GOOD.replace('value="$image"', 'value="$image" zoomm="true"'),
            r"<Image> at line 2: unknown attribute 'zoomm'",
        ),
        (
            GOOD.replace('toName="image"', 'toName="img"'),
            r"<Choices> at line 3: toName 'img' names no object",
        ),
        (
            GOOD.replace('"Abnormal"', '"Normal"'),
            r"<Choice> at line 5: duplicate label 'Normal' \(first at line 4\)",
        ),
        ("<Choices name='x' toName='y'/>", r"root element must be <View>"),
        ('<View><Image name="image" value="$image"/></View>', r"no control tag"),
        (
            '<View><Image name="a" value="$a"/><Image name="a" value="$b"/>'
            '<Choices name="c" toName="a"><Choice value="x"/></Choices></View>',
            r"name 'a' is already used",
        ),
        ("", r"malformed XML|empty"),
    ],
    ids=[
        "malformed",
        "unknown-tag",
        "unknown-attribute",
        "bad-toName",
        "duplicate-label",
        "bad-root",
        "no-control",
        "duplicate-name",
        "empty",
    ],
)
def test_bad_config_names_the_problem(xml: str, message: str) -> None:
    with pytest.raises(LabelingConfigError, match=message):
        validate(xml)


def test_external_entities_are_not_resolved(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = (
        f'<!DOCTYPE v [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<View><Header value="&x;"/><Image name="i" value="$i"/>'
        '<Choices name="c" toName="i"><Choice value="a"/></Choices></View>'
    )
    try:
        interface = validate(xml)
    except LabelingConfigError:
        return
    assert "TOPSECRET" not in interface.config
