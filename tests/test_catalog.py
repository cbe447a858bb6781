"""The template catalog: coverage, metadata, label sets, overrides and validation of every template."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from label_studio_sdk.label_interface import LabelInterface

from config_templates import LabelEntry, Overrides, get_template, list_templates
from config_templates.catalog import check_template, sample_prediction
from medlabel.cli import main
from medlabel.errors import TemplateError, UnknownTemplateError
from medlabel.specialties import SPECIALTIES

TEMPLATES = list_templates()
IDS = [t.id for t in TEMPLATES]


def test_catalog_has_at_least_35_templates_spanning_all_26_specialties() -> None:
    assert len(TEMPLATES) >= 35
    assert {t.specialty for t in TEMPLATES} == set(SPECIALTIES)
    assert len(SPECIALTIES) == 26


def test_catalog_covers_every_kind_of_labeling_physicians_do() -> None:
    xml = "\n".join(t.xml for t in TEMPLATES)
    for tag in (
        "<Choices",
        "<RectangleLabels",
        "<PolygonLabels",
        "<BrushLabels",
        "<KeyPointLabels",
        "<TimeSeriesLabels",
        "<Relations",
        "<Taxonomy",
        "<Video",
        "<Ranker",
    ):
        assert tag in xml, f"no template uses {tag}"
    assert {"image", "time_series", "text", "video", "llm_evaluation"} <= {t.data_type for t in TEMPLATES}


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_renders_validates_and_has_a_valid_sample(template) -> None:
    check_template(template)
    assert template.instructions["en"].strip() and template.instructions["ko"].strip()
    for entries in template.labelsets.values():
        assert any(any("\uac00" <= ch <= "\ud7a3" for ch in e.ko) for e in entries), "no Korean label names"
        assert len({e.code for e in entries}) == len(entries)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_korean_display_shows_korean_names_and_codes_map_back(template) -> None:
    rendered = template.render(Overrides(language="ko"))
    interface = LabelInterface(rendered.xml)
    codes = rendered.label_codes()
    for control, entries in template.labelsets.items():
        labels = set(interface.get_control(control).labels)
        assert {e.ko for e in entries} <= labels | {e.group for e in entries if e.group}
        assert set(codes[control].values()) == {e.code for e in entries}


def test_standard_label_sets_are_cited() -> None:
    must_cite = {
        "chest_xray_chexpert": "CheXpert",
        "diabetic_retinopathy_icdr": "ICDR",
        "mammography_birads": "BI-RADS",
        "ktas_triage": "KTAS",
        "knee_oa_kellgren_lawrence": "Kellgren",
        "pneumoconiosis_ilo": "ILO",
        "skin_lesion_isic": "ISIC",
        "ecg_12lead_interpretation": "AHA",
    }
    for template_id, needle in must_cite.items():
        assert needle.lower() in (get_template(template_id).standard or "").lower(), template_id


def test_chexpert_has_the_14_observations() -> None:
    assert len(get_template("chest_xray_chexpert").labelsets["findings"]) == 14


def test_label_subset_override_keeps_only_those_labels() -> None:
    rendered = get_template("chest_xray_chexpert").render(
        Overrides(labels={"findings": ["pneumothorax", "pleural_effusion"]})
    )
    assert LabelInterface(rendered.xml).get_control("findings").labels == ["Pneumothorax", "Pleural Effusion"]


def test_new_label_set_override_and_language_both() -> None:
    new = [LabelEntry("tb", "Tuberculosis", "결핵"), LabelEntry("nodule", "Nodule", "결절")]
    rendered = get_template("chest_xray_chexpert").render(
        Overrides(labels={"findings": new}, language="both")
    )
    labels = LabelInterface(rendered.xml).get_control("findings").labels
    assert labels == ["Tuberculosis / 결핵", "Nodule / 결절"]
    assert rendered.label_codes()["findings"] == {"Tuberculosis / 결핵": "tb", "Nodule / 결절": "nodule"}


def test_instructions_and_option_overrides() -> None:
    template = get_template("chest_xray_chexpert")
    rendered = template.render(Overrides(instructions="Only PA views.", options={"zoom": "false"}))
    assert rendered.instructions == "Only PA views."
    assert 'zoom="false"' in rendered.xml
    assert sample_prediction(rendered)["result"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (Overrides(labels={"nope": ["a"]}), "has no label set nope"),
        (Overrides(labels={"findings": ["not_a_code"]}), "has no label 'not_a_code'"),
        (Overrides(labels={"findings": ["pneumothorax", "pneumothorax"]}), "repeats code"),
        (Overrides(labels={"findings": []}), "is empty"),
        (Overrides(options={"nope": "1"}), "has no option nope"),
        (Overrides(options={"zoom": "maybe"}), "option 'zoom' must be a bool"),
        (Overrides(language="fr"), "language must be one of"),
    ],
    ids=["unknown-set", "unknown-code", "duplicate", "empty", "unknown-option", "bad-option", "bad-language"],
)
def test_bad_overrides_are_refused_with_a_message(overrides: Overrides, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        get_template("chest_xray_chexpert").render(overrides)


def test_unknown_template_id() -> None:
    with pytest.raises(UnknownTemplateError, match="unknown template 'no_such'"):
        get_template("no_such")


def test_filters() -> None:
    radiology = list_templates(specialty="radiology")
    assert radiology and all(t.specialty == "radiology" for t in radiology)
    series = list_templates(data_type="time_series")
    assert series and all(t.data_type == "time_series" for t in series)
    with pytest.raises(TemplateError, match="unknown specialty"):
        list_templates(specialty="astrology")


def _own_template(root: Path, sample_task: str) -> Path:
    """A minimal template folder of a manager's own: two reports to compare, no label set."""
    folder = root / "radiology" / "report_preference"
    folder.mkdir(parents=True)
    (folder / "config.xml").write_text(
        '<View><Text name="a" value="$a"/><Text name="b" value="$b"/><Pairwise name="pw" toName="a,b"/></View>'
    )
    (folder / "meta.toml").write_text(
        'id = "report_preference"\nversion = 1\ntitle = "Which report is clearer"\ntitle_ko = "더 명확한 판독문"\n'
        'specialty = "radiology"\nmodality = "text"\ndata_type = "text"\ntask_type = "ranking"\n'
        'min_tier = "resident"\nreads = 1\ncomplexity = 1.0\n'
        '[instructions]\nen = "Pick the clearer report."\nko = "더 명확한 판독문을 고르십시오."\n'
        f"[sample_task]\n{sample_task}\n"
    )
    return folder


def test_validate_checks_the_sample_task_at_once_and_the_sample_prediction_with_deep(tmp_path: Path) -> None:
    """Without --deep the SDK is not needed and a sample task missing a key is still refused; --deep adds the
    SDK's sample prediction, which a Pairwise-only template cannot have."""
    runner = CliRunner()
    folder = _own_template(tmp_path / "good", 'a = "No acute findings."\nb = "Normal chest."')
    fast = runner.invoke(main, ["templates", "validate", str(folder)])
    assert fast.exit_code == 0, fast.output
    assert "sample task fits (sample prediction: --deep)" in fast.output
    deep = runner.invoke(main, ["templates", "validate", "--deep", str(folder)])
    assert deep.exit_code == 2
    assert "report_preference: no valid sample prediction can be generated" in deep.output

    lacking = _own_template(tmp_path / "lacking", 'a = "No acute findings."')
    refused = runner.invoke(main, ["templates", "validate", str(lacking)])
    assert refused.exit_code == 2 and "sample_task lacks data key(s) b" in refused.output

    shipped = runner.invoke(main, ["templates", "validate", "--deep", "ktas_triage"])
    assert shipped.exit_code == 0 and "sample task and sample prediction fit" in shipped.output
