"""What an ingest plugin receives and returns: the contract between `medlabel.ingest` and `plugins/*`.

A plugin turns source files of one kind (DICOM, ECG, clinical text) into de-identified Label Studio task
drafts. The ingest driver walks the input, asks each plugin which files it claims, hands it those files in one
call (so a plugin can group a DICOM series), imports the drafts into Label Studio and writes the manifest. A
plugin never talks to Label Studio and never writes outside `IngestContext.media_dir`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from medlabel.errors import MedlabelError


@dataclass(frozen=True)
class SourceFile:
    """One input file. `display_name` may itself carry PHI (hospital file names do): it is logged only as
    `source_key`, a keyed hash, and never copied into task data, media names or the manifest."""

    display_name: str
    read_bytes: Callable[[], bytes]
    size: int
    path: Path | None = None  # set when the file exists on disk (not inside an archive)

    def head(self, n: int = 512) -> bytes:
        if self.path is not None:
            with self.path.open("rb") as handle:
                return handle.read(n)
        return self.read_bytes()[:n]


@dataclass(frozen=True)
class IngestOptions:
    """Per-project choices that change what a plugin produces (all default to the safest behaviour)."""

    # DICOM PS3.15 Annex E options a project may switch on.
    retain_longitudinal_modified_dates: bool = False
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    # Burned-in text: regions (x, y, width, height in pixels) blacked out instead of quarantining.
    burned_in_regions: tuple[tuple[int, int, int, int], ...] = ()
    # Rendering: a named window preset ("lung", "bone", ...) or None for the file's own VOI.
    window_preset: str | None = None
    # "series": one task per series with a list of images; "frame": one task per frame/instance.
    series_mode: str = "series"
    # The task data key the project's template reads its image/series/time series/text from.
    data_key: str = "image"


@dataclass(frozen=True)
class IngestContext:
    """Where and how a plugin writes; `media_url` turns a written file into the URL Label Studio serves."""

    project_id: int
    project_secret: bytes
    media_dir: Path
    media_url: Callable[[Path], str]
    options: IngestOptions = field(default_factory=IngestOptions)

    def pseudonym(self, kind: str, value: str, length: int = 16) -> str:
        """A stable, keyed, non-reversible token for an identifier (same input, same project → same token)."""
        digest = hmac.new(self.project_secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:length]


@dataclass
class TaskDraft:
    """One future Label Studio task: de-identified `data`, the media files written for it, and the keys of
    its sources (a draft already in the project under the same `content_key` is skipped)."""

    data: dict[str, Any]
    content_key: str
    source_keys: list[str]
    media: list[Path] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    #: Why a person should look before physicians do (stable codes, no PHI), e.g. "uncertain_name" for a
    #: name-like token the scrubber scored low, or "ocr_low_confidence"; a project with PHI review queues these.
    review_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Quarantine:
    """A source that was refused. `reason` is a stable code (e.g. "burned_in_text_remains", "truncated_pixel_data",
    "no_decoder"); `detail` is a human sentence naming the cause and must not contain PHI."""

    source_key: str
    reason: str
    detail: str


Outcome = TaskDraft | Quarantine


class SourceRejected(MedlabelError):
    """A plugin refuses a source: `reason` is the stable quarantine code, `detail` names the cause without PHI."""

    code = "source_rejected"
    http_status = 400
    exit_code = 2

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    def quarantine(self, source_key: str) -> Quarantine:
        return Quarantine(source_key, self.reason, self.detail)


class Plugin(Protocol):
    """One kind of source data."""

    name: ClassVar[str]

    def claims(self, source: SourceFile) -> bool:
        """True when this plugin should handle the file (sniff content, not only the extension)."""
        ...

    def convert(self, sources: Iterable[SourceFile], context: IngestContext) -> Iterator[Outcome]:
        """Yield one outcome per task or refused source; must not raise for a bad file (quarantine it)."""
        ...


def source_key(secret: bytes, content: bytes) -> str:
    """The content hash that names a source in logs and the manifest: keyed so it cannot be looked up."""
    return hmac.new(secret, content, hashlib.sha256).hexdigest()[:24]
