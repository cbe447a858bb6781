"""`medlabel ingest` on a folder of hostile inputs: every source lands in exactly one bucket of the summary,
for the right reason, and a mistyped path is a usage error before anything runs."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from label_studio_sdk import LabelStudio
from PIL import Image
from pydicom.data import get_testdata_file
from sqlalchemy.orm import Session

from medlabel import cli
from medlabel.ingest import cli as ingest_cli
from medlabel.projects import create_project
from medlabel.settings import Settings

pytestmark = pytest.mark.label_studio


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def hostile_folder(root: Path) -> dict[str, str]:
    """The inputs, and the outcome each source must get ("task", "duplicate" or a quarantine reason)."""
    root.mkdir()
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    shutil.copyfile(get_testdata_file("CT_small.dcm"), root / "ct.dcm")
    shutil.copyfile(get_testdata_file("MR_small.dcm"), root / "mr.dcm")
    (root / "ct_copy.dcm").write_bytes(ct)
    (root / "empty.dcm").write_bytes(b"")
    (root / "truncated.dcm").write_bytes(ct[:1000])
    (root / "random.bin").write_bytes(random.Random(7).randbytes(4096))
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, "JPEG")
    (root / "photo.jpg").write_bytes(photo.getvalue())
    _zip(root / "bomb.zip", {"zeros.bin": b"\0" * (8 << 20)})
    _zip(root / "traversal.zip", {"../../escaped.dcm": ct})
    innermost = _zip(root / "tmp.zip", {"deep.dcm": ct})
    inner = _zip(root / "tmp.zip", {"innermost.zip": innermost})
    _zip(root / "nested.zip", {"inner.zip": inner})
    (root / "tmp.zip").unlink()
    return {
        "in/ct.dcm": "task",
        "in/mr.dcm": "task",
        "in/ct_copy.dcm": "duplicate",
        "in/empty.dcm": "empty_file",
        "in/truncated.dcm": "corrupt",
        "in/random.bin": "unsupported_format",
        "in/photo.jpg": "unsupported_format",
        "in/bomb.zip!zeros.bin": "archive_bomb",
        "in/traversal.zip!../../escaped.dcm": "archive_path_traversal",
        "in/nested.zip!inner.zip!innermost.zip": "archive_too_deep",
    }


def test_hostile_inputs_each_land_in_one_bucket_for_the_right_reason(
    ls_client: LabelStudio,
    ls_settings: Settings,
    platform_db,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Session(platform_db) as session:
        project = create_project(ls_client, ls_settings, "chest_xray_chexpert", "hostile", session=session).id
    expected = hostile_folder(tmp_path / "in")
    monkeypatch.setattr(ingest_cli, "get_settings", lambda: ls_settings)
    monkeypatch.setattr(cli, "get_settings", lambda: ls_settings)
    result = CliRunner().invoke(cli.main, ["ingest", str(tmp_path / "in"), "--project", str(project)])
    assert result.exit_code == 0, result.output

    summary = re.search(
        r"(\d+) sources: (\d+) in (\d+) new tasks, (\d+) duplicates skipped, (\d+) quarantined", result.output
    )
    assert summary, result.output
    sources, in_tasks, tasks, duplicates, quarantined = map(int, summary.groups())
    assert sources == len(expected) and in_tasks + duplicates + quarantined == sources
    outcomes = list(expected.values())
    assert (in_tasks, duplicates) == (outcomes.count("task"), outcomes.count("duplicate")) and tasks == 2
    manifest = json.loads(Path(result.output.split("manifest: ")[1].split()[0]).read_text())
    got = {e["source"]: e["reason"] or e["outcome"] for e in manifest["entries"]}
    assert got == expected
    # a fresh project: the copy is a duplicate of this run's file, not "already a task in this project"
    [copy] = [e for e in manifest["entries"] if e["source"] == "in/ct_copy.dcm"]
    assert copy["detail"] == "same content earlier in this run"
    for reason in set(outcomes) - {"task", "duplicate"}:
        assert re.search(rf"^\s+{outcomes.count(reason)}\s+{reason}$", result.output, re.M), reason


def test_a_mistyped_path_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["ingest", str(tmp_path / "nope"), "--project", "1"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert "sources:" not in result.output
