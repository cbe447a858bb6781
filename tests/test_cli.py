"""The `medlabel` command as a manager uses it, against the live Label Studio fixture."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio

from medlabel import cli
from medlabel.settings import Settings
from tests.fixtures.label_studio import project_count


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, ls_settings: Settings):
    """Invoke the CLI with settings pointing at the live fixture server."""
    monkeypatch.setattr(cli, "get_settings", lambda: ls_settings)

    def invoke(*args: str):
        return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)

    return invoke


def test_templates_list_shows_35_plus_templates_over_26_specialties(run) -> None:
    result = run("templates", "list")
    assert result.exit_code == 0
    last = result.output.strip().splitlines()[-1]
    count, covered = int(last.split()[0]), int(last.split(",")[1].split()[0])
    assert count >= 35 and covered == 26


def test_templates_list_filters(run) -> None:
    result = run("templates", "list", "--specialty", "ophthalmology")
    rows = [line for line in result.output.splitlines()[1:-2] if line.strip()]
    assert rows and all("ophthalmology" in row for row in rows)
    bad = run("templates", "list", "--specialty", "astrology")
    assert bad.exit_code == 2 and "unknown specialty 'astrology'" in bad.output


def test_templates_show_in_korean(run) -> None:
    result = run("templates", "show", "chest_xray_chexpert", "--language", "ko")
    assert result.exit_code == 0
    assert "기흉" in result.output and "CheXpert" in result.output


def test_validate_by_id_by_folder_and_own_xml(run, tmp_path: Path) -> None:
    assert run("templates", "validate", "ktas_triage").exit_code == 0
    folder = Path(__file__).parents[1] / "config_templates" / "radiology" / "chest_xray_chexpert"
    assert run("templates", "validate", str(folder)).exit_code == 0
    own = tmp_path / "own.xml"
    own.write_text(
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>'
    )
    result = run("templates", "validate", str(own))
    assert result.exit_code == 0 and "Choices c" in result.output


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        # The last two are warnings (Label Studio accepts them): exit 2 only with --strict, exit 0 without.
        ("<View><Image name='i' value='$i'>", "malformed XML"),
        (
            "<View><Image name='i' value='$i'/><Bogus name='c' toName='i'/></View>",
            "<Bogus> at line 1: unknown tag",
        ),
        (
            "<View>\n<Image name='i' value='$i' zoomy='1'/>\n<Choices name='c' toName='i'><Choice value='a'/></Choices></View>",
            "<Image> at line 2: unknown attribute 'zoomy'",
        ),
        (
            "<View><Image name='i' value='$i'/>\n<Choices name='c' toName='x'><Choice value='a'/></Choices></View>",
            "<Choices> at line 2: toName 'x'",
        ),
        (
            "<View><Image name='i' value='$i'/><Choices name='c' toName='i'>\n<Choice value='a'/>\n<Choice value='a'/>"
            "</Choices></View>",
            "<Choice> at line 3: duplicate label 'a'",
        ),
    ],
    ids=["malformed", "unknown-tag", "unknown-attribute", "bad-toName", "duplicate-label"],
)
def test_validate_bad_xml_one_line_exit_2(run, tmp_path: Path, xml: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(xml)
    warning = "unknown attribute" in message or "duplicate label" in message
    result = run("templates", "validate", *(["--strict"] if warning else []), str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    if warning:
        lenient = run("templates", "validate", str(path))
        assert lenient.exit_code == 0 and f"warning: {message}" in lenient.output


def test_project_create_prints_url_and_records_it(run, ls_client: LabelStudio, unique_title: str) -> None:
    result = run(
        "project",
        "create",
        "--template",
        "chest_xray_chexpert",
        "--title",
        unique_title,
        "--language",
        "ko",
        "--labels",
        "findings=pneumothorax,pleural_effusion",
        "--with-sample",
    )
    assert result.exit_code == 0, result.output
    project_id = int(result.output.split("created project ")[1].split()[0])
    assert f"/projects/{project_id}/data" in result.output
    project = ls_client.projects.get(project_id)
    assert (
        "기흉" in project.label_config
        and "흉수" in project.label_config
        and "심비대" not in project.label_config
    )
    assert project.maximum_annotations == 3
    assert len(list(ls_client.tasks.list(project=project_id))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "no_such"], "unknown template 'no_such'"),
        (["--template", "chest_xray_chexpert", "--labels", "nope=a"], "has no label set nope"),
        (["--template", "chest_xray_chexpert", "--labels", "findings=zzz"], "has no label 'zzz'"),
        (["--template", "chest_xray_chexpert", "--option", "zoom=perhaps"], "option 'zoom' must be a bool"),
        (
            ["--template", "chest_xray_chexpert", "--labels-file", "findings=/nonexistent.toml"],
            "cannot read label file",
        ),
    ],
    ids=["unknown-id", "unknown-labelset", "unknown-label", "bad-option", "missing-label-file"],
)
def test_project_create_bad_input_creates_nothing(
    run, ls_client: LabelStudio, args: list[str], message: str
) -> None:
    before = project_count(ls_client)
    result = run("project", "create", "--title", "must not exist", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert project_count(ls_client) == before


def test_project_create_with_label_file(
    run, ls_client: LabelStudio, tmp_path: Path, unique_title: str
) -> None:
    labels = tmp_path / "labels.toml"
    labels.write_text(
        '[[labels]]\ncode = "tb"\nen = "Tuberculosis"\nko = "결핵"\n'
        '[[labels]]\ncode = "normal"\nen = "Normal"\nko = "정상"\n'
    )
    result = run(
        "project",
        "create",
        "--template",
        "chest_xray_chexpert",
        "--title",
        unique_title,
        "--labels-file",
        f"findings={labels}",
        "--instructions",
        "Only PA films.",
    )
    assert result.exit_code == 0, result.output
    project_id = int(result.output.split("created project ")[1].split()[0])
    project = ls_client.projects.get(project_id)
    assert 'value="Tuberculosis"' in project.label_config and project.expert_instruction == "Only PA films."


def test_unreachable_label_studio_is_a_clear_error(monkeypatch, ls_settings: Settings) -> None:
    dead = dataclasses.replace(ls_settings, label_studio_url="http://127.0.0.1:9")
    monkeypatch.setattr(cli, "get_settings", lambda: dead)
    result = CliRunner().invoke(
        cli.main, ["project", "create", "--template", "chest_xray_chexpert", "--title", "x"]
    )
    assert result.exit_code == 3
    assert "cannot reach Label Studio" in result.output
