"""Walking inputs: folders, zip archives, and archives built to attack the extractor."""

from __future__ import annotations

import zipfile
from pathlib import Path

from medlabel.ingest import sources
from medlabel.ingest.jobs import chunks
from medlabel.ingest.sources import Refused, walk
from plugins.ingest.base import SourceFile


def _names(items: list[SourceFile | Refused]) -> list[str]:
    return [i.display_name for i in items if isinstance(i, SourceFile)]


def test_folders_are_walked_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    root = tmp_path / "study"
    (root / "b").mkdir(parents=True)
    (root / "a.dcm").write_bytes(b"x")
    (root / "b" / "c.dcm").write_bytes(b"y")
    (root / ".DS_Store").write_bytes(b"z")
    items = list(walk([root], tmp_path / "scratch"))
    assert _names(items) == ["study/a.dcm", "study/b/c.dcm"]


def test_missing_path_is_refused_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("note")
    items = list(walk([tmp_path / "nope", tmp_path / "ok.txt"], tmp_path / "scratch"))
    assert [i.reason for i in items if isinstance(i, Refused)] == ["not_found"]
    assert _names(items) == ["ok.txt"]


def test_zip_members_are_extracted_privately_and_read(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("series1/img1.dcm", b"one")
        z.writestr("series1/img2.dcm", b"two")
        z.writestr("__MACOSX/._img1.dcm", b"resource fork")
    items = list(walk([archive], tmp_path / "scratch"))
    files = [i for i in items if isinstance(i, SourceFile)]
    assert [f.display_name for f in files] == ["export.zip!series1/img1.dcm", "export.zip!series1/img2.dcm"]
    assert [f.read_bytes() for f in files] == [b"one", b"two"]
    assert all(f.path is not None and f.path.is_relative_to(tmp_path / "scratch") for f in files)


def test_path_traversal_members_are_refused_and_never_written(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escaped.txt", b"owned")
        z.writestr("/abs/escaped2.txt", b"owned")
        z.writestr("fine.txt", b"ok")
    items = list(walk([archive], tmp_path / "scratch"))
    assert sorted(i.reason for i in items if isinstance(i, Refused)) == ["archive_path_traversal"] * 2
    assert _names(items) == ["evil.zip!fine.txt"]
    assert not list(tmp_path.rglob("escaped*"))


def test_zip_bomb_is_refused_by_ratio_and_the_rest_goes_on(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * (8 << 20))  # 8 MiB of zeros deflate ~1000x
        z.writestr("note.txt", b"patient seen")
    items = list(walk([archive], tmp_path / "scratch"))
    refused = [i for i in items if isinstance(i, Refused)]
    assert [r.reason for r in refused] == ["archive_bomb"]
    assert "inflates" in refused[0].detail
    assert _names(items) == ["bomb.zip!note.txt"]
    assert not list((tmp_path / "scratch").rglob("zeros.bin"))


def test_declared_sizes_are_not_trusted(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("big.bin", b"1" * 4096)
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    items = list(walk([archive], tmp_path / "scratch"))
    assert [i.reason for i in items if isinstance(i, Refused)] == ["archive_bomb"]
    assert not list((tmp_path / "scratch").rglob("big.bin"))


def test_nested_archives_open_to_a_limit(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("note.txt", b"inner note")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.write(inner, "inner.zip")
    items = list(walk([outer], tmp_path / "scratch"))
    assert _names(items) == ["outer.zip!inner.zip!note.txt"]
    deepest = tmp_path / "deepest.zip"
    with zipfile.ZipFile(deepest, "w") as z:
        z.write(outer, "outer.zip")
    items = list(walk([deepest], tmp_path / "scratch2"))
    assert [i.reason for i in items if isinstance(i, Refused)] == ["archive_too_deep"]


def test_corrupt_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("a.txt", b"a" * 1000)
    data = bytearray(good.read_bytes())
    data[40:60] = b"\xff" * 20  # damage the local header and the member data, keep the directory
    archive.write_bytes(bytes(data))
    items = list(walk([archive], tmp_path / "scratch"))
    assert [i.reason for i in items if isinstance(i, Refused)] == ["archive_corrupt"]


def test_queue_chunks_never_split_a_folder(tmp_path: Path) -> None:
    for series, count in (("s1", 3), ("s2", 4), ("s3", 2)):
        folder = tmp_path / "study" / series
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"{i}.dcm").write_bytes(b"x")
    groups = list(chunks([tmp_path / "study"], chunk_files=4))
    assert [len(g) for g in groups] == [7, 2]
    for group in groups:
        folders = {Path(p).parent.name for p in group}
        for name in folders:
            assert sum(1 for p in group if Path(p).parent.name == name) == len(
                list((tmp_path / "study" / name).iterdir())
            )
