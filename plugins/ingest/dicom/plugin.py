"""The DICOM ingest plugin: claim DICOM image files, refuse the unsafe or unreadable, de-identify, render, and
turn series (or single frames) into Label Studio task drafts.

Per file: read (no-meta policy in `read.py`) → de-identify (Annex E, `deid.py`) → decode
(every frame, so truncation shows) → render → burned-in text blacked out and checked by OCR where the file may
carry it (`burned_in.py`) → 8-bit PNGs under `<media_dir>/<series_key>/`. Any failure of one
file becomes a Quarantine and the batch goes on. Media names and task data carry only pseudonymous keys.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
from pydicom.dataset import Dataset

from medlabel.errors import MedlabelError
from plugins.ingest.base import (
    IngestContext,
    IngestOptions,
    Outcome,
    Quarantine,
    SourceFile,
    SourceRejected,
    TaskDraft,
    source_key,
)
from plugins.ingest.dicom import burned_in, read, render, series
from plugins.ingest.dicom.deid import Deidentifier, DeidOptions
from plugins.ingest.dicom.series import Instance

log = logging.getLogger(__name__)

SERIES_MODES = ("series", "frame")


class InvalidIngestOptionsError(MedlabelError):
    """Ingest options the DICOM plugin cannot honour; raised before any file is touched."""

    code = "invalid_ingest_options"
    http_status = 400
    exit_code = 2


class DicomPlugin:
    """DICOM images (not waveforms: the ECG plugin claims those).

    Example:
        >>> outcomes = list(DicomPlugin().convert(sources, context))
    """

    name: ClassVar[str] = "dicom"

    def claims(self, source: SourceFile) -> bool:
        head = source.head(132)
        if not read.looks_like_dicom(head, source.display_name):
            return False
        if read.sniff(head) in (None, "raw_big_endian"):
            return True  # a DICOM name without a readable data set: claimed so it is refused by name
        with source.path.open("rb") if source.path else io.BytesIO(source.read_bytes()) as fp:
            header = read.read_header(fp)
        if header is None:
            return True  # unparseable DICOM: quarantined as corrupt by `convert`
        if "WaveformSequence" in header and not read.is_waveform(header):
            # The header stops before the pixel data, so whether a waveform file also has pixels needs a full read.
            try:
                header = read.read(source.read_bytes(), source.display_name)
            except SourceRejected as exc:
                return exc.reason != "no_pixel_data"
        return not read.is_waveform(header)

    def convert(self, sources: Iterable[SourceFile], context: IngestContext) -> Iterator[Outcome]:
        """Yield a Quarantine per refused file as it comes, then (series mode) one TaskDraft per series, or
        (frame mode) one TaskDraft per frame as each file is done.

        Raises:
            InvalidIngestOptionsError: bad series mode or burned-in regions (before any file is read).
            UnknownPresetError: the window preset does not exist (before any file is read).
        """
        options = context.options
        _validate(options)
        converter = _Converter(context)
        by_series: dict[str, list[Instance]] = defaultdict(list)
        for source in sources:
            try:
                data = source.read_bytes()
            except OSError as exc:
                key = source_key(context.project_secret, source.display_name.encode())
                yield _quarantine(
                    key, SourceRejected("corrupt", f"the file could not be read ({type(exc).__name__})")
                )
                continue
            key = source_key(context.project_secret, data)
            try:
                instance = converter.instance(data, source.display_name, key)
            except SourceRejected as exc:
                yield _quarantine(key, exc)
                continue
            except OSError:
                raise  # the media folder failing (disk full, permissions) is no fault of this file
            except Exception as exc:  # malformed input reaches pydicom in ways no list of types covers
                log.warning("unexpected %s while converting source %s", type(exc).__name__, key)
                reason = SourceRejected("corrupt", f"the file could not be processed ({type(exc).__name__})")
                yield _quarantine(key, reason)
                continue
            if options.series_mode == "frame":
                yield from _frame_drafts(instance, context)
            else:
                by_series[instance.series_key].append(instance)
        for instances in by_series.values():
            yield _series_draft(sorted(instances, key=Instance.sort_key), context)


class _Converter:
    """Per-batch state: the project's Deidentifier and the render settings every file shares."""

    def __init__(self, context: IngestContext) -> None:
        self.context = context
        self.options = context.options
        self.deid = Deidentifier(context.project_secret, DeidOptions.from_ingest_options(context.options))
        # Files rendered differently must not share names: the render settings go into every pixel key.
        self.render_tag = repr((self.options.window_preset, tuple(self.options.burned_in_regions))).encode()
        self.seen: set[tuple[str, str]] = set()
        self.hash_key = hashlib.sha256(b"medlabel-dicom-pixels\x00" + context.project_secret).digest()

    def instance(self, data: bytes, name: str, key: str) -> Instance:
        """Read, check, de-identify, decode and render one file; raises SourceRejected to refuse it."""
        ds = read.read(data, name)
        suspicion = burned_in.assess(ds)
        try:
            self.deid.apply(ds)
        except Exception as exc:  # one bad file must not stop the batch; nothing was derived from it yet
            raise SourceRejected("deid_failed", f"de-identification failed ({type(exc).__name__})") from exc
        pseudonym = self.context.pseudonym
        study_key = pseudonym("study", str(ds.get("StudyInstanceUID") or key))
        series_key = pseudonym("series", str(ds.get("SeriesInstanceUID") or key))
        sop_key = pseudonym("instance", str(ds.get("SOPInstanceUID") or key))
        if self.options.series_mode == "series":
            if (series_key, sop_key) in self.seen:
                raise SourceRejected(
                    "duplicate_instance", "another file of this batch holds the same SOP Instance"
                )
            self.seen.add((series_key, sop_key))
        pixels = read.decode(ds)
        pixel_key = self._pixel_key(pixels)
        rendered = _render(ds, pixels, self.options.window_preset)
        scrubbed = (
            burned_in.scrub(rendered.frames, self.options.burned_in_regions, suspicion)
            if suspicion is not None
            else None
        )
        images = []
        for index, frame in enumerate(rendered.frames):
            path = self.context.media_dir / series_key / f"{pixel_key}-{index:04d}.png"
            render.write_png(frame, path)
            images.append(path)
        facts = series.describe(ds)
        facts["window"] = rendered.window.as_fact() if rendered.window else None
        facts["transfer_syntax"] = read.transfer_syntax(ds).name
        if scrubbed is not None:
            facts["burned_in"] = scrubbed.as_fact()
        return Instance(
            source_key=key,
            study_key=study_key,
            series_key=series_key,
            sop_key=sop_key,
            pixel_key=pixel_key,
            instance_number=series.instance_number(ds),
            slice_positions_mm=series.slice_positions(ds, len(images)),
            images=images,
            facts=facts,
            review_reasons=scrubbed.review_reasons if scrubbed else [],
        )

    def _pixel_key(self, pixels: np.ndarray) -> str:
        """Keyed hash of the decoded pixels (byte order normalised, so one image in two encodings agrees)."""
        native = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("="))
        digest = hashlib.blake2b(native.data, key=self.hash_key, digest_size=12)
        digest.update(self.render_tag)
        return digest.hexdigest()


def _render(ds: Dataset, pixels: np.ndarray, window_preset: str | None) -> render.Rendered:
    try:
        return render.render(ds, pixels, window_preset)
    except render.UnsupportedImageError as exc:
        raise SourceRejected("unsupported_image", str(exc)) from exc
    except Exception as exc:  # a broken LUT or odd attribute in one file must not stop the batch
        raise SourceRejected("corrupt", f"the pixels could not be rendered ({type(exc).__name__})") from exc


_SHARED_FACTS = ("modality", "body_part", "view", "laterality", "pixel_spacing_mm", "window")


def _series_draft(instances: list[Instance], context: IngestContext) -> TaskDraft:
    first = instances[0]
    images = [path for instance in instances for path in instance.images]
    data: dict[str, Any] = {context.options.data_key: [context.media_url(path) for path in images]}
    data.update({name: first.facts.get(name) for name in _SHARED_FACTS})
    data.update(
        study=first.study_key,
        series=first.series_key,
        frames=len(images),
        instances=len(instances),
        slice_positions_mm=[p for instance in instances for p in instance.slice_positions_mm],
    )
    windows = [instance.facts.get("window") for instance in instances for _ in instance.images]
    if any(window != windows[0] for window in windows):
        # Files of one series rendered through different windows: one per frame, none shared.
        data.update(window=None, frame_windows=windows)
    content_key = _content_key(first.series_key, *(i.pixel_key for i in instances))
    return TaskDraft(
        data=data,
        content_key=content_key,
        source_keys=[i.source_key for i in instances],
        media=images,
        facts=_draft_facts(instances),
        review_reasons=_review_reasons(instances),
    )


def _frame_drafts(instance: Instance, context: IngestContext) -> Iterator[TaskDraft]:
    for index, path in enumerate(instance.images):
        data: dict[str, Any] = {context.options.data_key: context.media_url(path)}
        data.update({name: instance.facts.get(name) for name in _SHARED_FACTS})
        data.update(
            study=instance.study_key,
            series=instance.series_key,
            frame=index,
            frames=len(instance.images),
            slice_position_mm=instance.slice_positions_mm[index],
        )
        yield TaskDraft(
            data=data,
            content_key=_content_key(instance.series_key, instance.pixel_key, str(index)),
            source_keys=[instance.source_key],
            media=[path],
            facts=_draft_facts([instance], frame=index),
            review_reasons=_review_reasons([instance]),
        )


def _draft_facts(instances: list[Instance], frame: int | None = None) -> dict[str, Any]:
    """Plugin facts, and for burned-in text what was blacked out, by image of the draft (for PHI review)."""
    facts: dict[str, Any] = {
        "plugin": DicomPlugin.name,
        "transfer_syntaxes": sorted({i.facts["transfer_syntax"] for i in instances}),
    }
    if not any("burned_in" in i.facts for i in instances):
        return facts
    boxes: list[list[int]] = []
    offset, pixels, black = 0, 0, 0.0
    for instance in instances:
        scrubbed = instance.facts.get("burned_in")
        count = 1 if frame is not None else len(instance.images)
        pixels += count
        if scrubbed is not None:
            for index, x, y, width, height in scrubbed["ocr_boxes"]:
                if frame is None or index == frame:
                    boxes.append([offset + (0 if frame is not None else index), x, y, width, height])
            black += scrubbed["blacked_out_share"] * count
        offset += count
    first = next(i.facts["burned_in"] for i in instances if "burned_in" in i.facts)
    facts["burned_in"] = {
        "checked_because": first["checked_because"],
        "ocr_boxes": boxes,
        "regions": first["regions"],
        "blacked_out_share": round(black / pixels, 5),
    }
    return facts


def _review_reasons(instances: list[Instance]) -> list[str]:
    return sorted({reason for instance in instances for reason in instance.review_reasons})


def _content_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _quarantine(key: str, exc: SourceRejected) -> Quarantine:
    return exc.quarantine(key)  # the ingest driver logs it, once


def _validate(options: IngestOptions) -> None:
    if options.series_mode not in SERIES_MODES:
        raise InvalidIngestOptionsError(
            f"series_mode must be one of {', '.join(SERIES_MODES)}, not {options.series_mode!r}"
        )
    if options.window_preset:
        render.preset(options.window_preset)
    for region in options.burned_in_regions:
        if (
            len(region) != 4
            or not all(isinstance(v, int) and v >= 0 for v in region)
            or region[2] == 0
            or region[3] == 0
        ):
            raise InvalidIngestOptionsError(
                f"a burned-in region must be (x, y, width, height) in whole pixels, width and height > 0: {region!r}"
            )
