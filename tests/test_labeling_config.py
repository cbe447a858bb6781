"""A manager's own labeling XML: every kind of mistake is named with its tag and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from config_templates import Overrides, list_templates
from medlabel.cli import main
from medlabel.errors import LabelingConfigError
from medlabel.labeling_config import check, data_keys, parse, validate
from medlabel.ls_tags import DATA_FILE, generate
from medlabel.settings import PROJECT_ROOT

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


# ------------------------------------------------------------------ Label Studio's own template gallery

LS_SITE_PACKAGES = next((PROJECT_ROOT / ".ls-venv" / "lib").glob("python3*/site-packages"), None)
GALLERY = sorted((LS_SITE_PACKAGES or PROJECT_ROOT).glob("label_studio/annotation_templates/**/config.yml"))


@pytest.mark.skipif(not GALLERY, reason="Label Studio is not installed in .ls-venv")
def test_every_gallery_config_of_label_studio_validates(tmp_path: Path) -> None:
    """Label Studio 1.23.2 ships 69 configs it accepts: `templates validate` refuses none of them."""
    import yaml

    assert len(GALLERY) == 69
    refused, warned = {}, 0
    for index, path in enumerate(GALLERY):
        xml = tmp_path / f"{index}.xml"
        xml.write_text(yaml.safe_load(path.read_text(encoding="utf-8"))["config"], encoding="utf-8")
        result = CliRunner().invoke(main, ["templates", "validate", str(xml)])
        if result.exit_code != 0:
            refused[path.parent.name] = result.output
        warned += "warning:" in result.output
    assert refused == {}
    assert warned >= 6  # the Enterprise-only Chat and OcrLabels templates are flagged, not refused


def test_warnings_name_tag_and_line_and_strict_refuses(tmp_path: Path) -> None:
    xml = tmp_path / "own.xml"
    xml.write_text(GOOD.replace('value="$image"', 'value="$image" zoomm="true"'))
    result = CliRunner().invoke(main, ["templates", "validate", str(xml)])
    assert result.exit_code == 0 and "ok:" in result.output
    assert "warning: <Image> at line 2: unknown attribute 'zoomm' (Label Studio ignores it)" in result.output
    strict = CliRunner().invoke(main, ["templates", "validate", "--strict", str(xml)])
    assert strict.exit_code == 2 and "unknown attribute 'zoomm'" in strict.output


def test_attributes_label_studio_reads_but_does_not_document_are_accepted() -> None:
    """The editor reads `allowEmpty` on Labels (its MobX model), though the tag reference omits it."""
    xml = GOOD.replace(
        "<Choices", '<Labels name="l" toName="image" allowEmpty="true"><Label value="x"/></Labels><Choices'
    )
    assert check(xml).warnings == []


@pytest.mark.skipif(LS_SITE_PACKAGES is None, reason="Label Studio is not installed in .ls-venv")
def test_the_tag_table_is_what_the_installed_label_studio_ships() -> None:
    """ls_tags.json is generated, never edited: regenerating it from .ls-venv gives the committed file."""
    assert LS_SITE_PACKAGES is not None
    assert generate(LS_SITE_PACKAGES) == json.loads(DATA_FILE.read_text(encoding="utf-8"))


def _gallery_xml(path: Path) -> str:
    import yaml

    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["config"])


KEYS_CASES = {
    **{f"catalog-{t.id}": t.render(Overrides(language="both")).xml for t in list_templates()},
    **{f"gallery-{path.parent.name}": _gallery_xml(path) for path in GALLERY},
    "value-list-and-no-variable": '<View><Image name="i" valueList="$pages"/><Text name="t" value="$a, $b"/>'
    '<Filter name="f" toName="c"/><Choices name="c" toName="i"><Choice value="x"/></Choices></View>',
}


@pytest.mark.parametrize("xml", KEYS_CASES.values(), ids=KEYS_CASES.keys())
def test_data_keys_agree_with_the_sdk(xml: str) -> None:
    """The catalog's fast sample-task check reads the same keys as label-studio-sdk's LabelInterface."""
    from label_studio_sdk.label_interface import LabelInterface

    sdk = {o.value_name for o in LabelInterface(xml).objects if o.value_is_variable}
    assert data_keys(parse(xml)) == sdk
