"""Turn the paths an operator names into source files: folders walked, zip archives unpacked safely.

Archives are extracted into a private scratch folder rather than read member by member, because plugins read
some files several times (sniffing, then converting) and WFDB needs its .hea/.dat pair on disk. Extraction
refuses what `zipfile.extractall` would not: members escaping the folder, and members whose size or
compression ratio says "zip bomb" (the declared size is not trusted: the copy stops at the limit).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plugins.ingest.base import SourceFile

#: A member that inflates more than this many times its compressed size is treated as a zip bomb.
MAX_COMPRESSION_RATIO = 200
#: Small members can legitimately compress very well (a blank DICOM frame): the ratio applies above this.
RATIO_APPLIES_ABOVE = 1 << 20
#: Per member and per archive (all members together) uncompressed limits.
MAX_MEMBER_BYTES = 4 << 30
MAX_ARCHIVE_BYTES = 64 << 30
#: Archives inside archives are opened this deep; deeper ones are refused.
MAX_ARCHIVE_DEPTH = 2
CHUNK = 1 << 20


@dataclass(frozen=True)
class Refused:
    """An input refused before any plugin saw it (the reason codes are those of the manifest)."""

    display_name: str
    reason: str
    detail: str
    path: Path | None = None


def source_file(path: Path, display_name: str) -> SourceFile:
    return SourceFile(
        display_name=display_name, read_bytes=path.read_bytes, size=path.stat().st_size, path=path
    )


def walk(paths: list[Path], scratch: Path) -> Iterator[SourceFile | Refused]:
    """Every file under `paths` (sorted, hidden files skipped), with zip archives unpacked into `scratch`."""
    for root in paths:
        if not root.exists():
            yield Refused(str(root), "not_found", "no such file or directory")
        elif root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                relative = path.relative_to(root)
                if not any(part.startswith(".") for part in relative.parts):
                    yield from _file(path, f"{root.name}/{relative.as_posix()}", scratch, depth=0)
        else:
            yield from _file(root, root.name, scratch, depth=0)


def _file(path: Path, display_name: str, scratch: Path, depth: int) -> Iterator[SourceFile | Refused]:
    if zipfile.is_zipfile(path):
        yield from _archive(path, display_name, scratch, depth)
    else:
        yield source_file(path, display_name)


def _archive(path: Path, display_name: str, scratch: Path, depth: int) -> Iterator[SourceFile | Refused]:
    if depth >= MAX_ARCHIVE_DEPTH:
        yield Refused(display_name, "archive_too_deep", f"archives nested more than {MAX_ARCHIVE_DEPTH} deep")
        return
    scratch.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="zip-", dir=scratch))
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = f"{display_name}!{info.filename}"
                destination = _safe_destination(target, info.filename)
                if destination is None:
                    yield Refused(name, "archive_path_traversal", "member path leaves the archive folder")
                    continue
                if info.file_size > RATIO_APPLIES_ABOVE and info.file_size > MAX_COMPRESSION_RATIO * max(
                    info.compress_size, 1
                ):
                    yield Refused(
                        name,
                        "archive_bomb",
                        f"member inflates {info.file_size // max(info.compress_size, 1)}x "
                        f"(limit {MAX_COMPRESSION_RATIO}x)",
                    )
                    continue
                limit = min(MAX_MEMBER_BYTES, MAX_ARCHIVE_BYTES - total)
                written = _extract(archive, info, destination, limit)
                if written is None:
                    yield Refused(name, "archive_bomb", "member larger than the extraction limit")
                    continue
                total += written
                if any(
                    part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(info.filename).parts
                ):
                    continue
                yield from _file(destination, name, target, depth + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: encrypted members; NotImplementedError: unsupported compression method.
        yield Refused(display_name, "archive_corrupt", f"cannot read the archive ({type(exc).__name__})")


def _safe_destination(target: Path, member: str) -> Path | None:
    """The extraction path of `member`, or None when it is absolute or climbs out of `target`."""
    pure = PurePosixPath(member.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        return None
    destination = (target / pure).resolve()
    return destination if destination.is_relative_to(target.resolve()) else None


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, limit: int) -> int | None:
    """Copy one member, stopping (and deleting the part) once it passes `limit` bytes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as source, destination.open("wb") as sink:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > limit:
                break
            sink.write(chunk)
    if written > limit:
        destination.unlink()
        return None
    return written


def remove_scratch(scratch: Path) -> None:
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)


def private_dir(path: Path) -> Path:
    """A 0700 folder: scratch copies of hospital data are readable by the service user only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
