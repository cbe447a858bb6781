"""The ECG ingest plugin: DICOM waveforms, WFDB records and CSV become the time-series CSV our ECG templates read.

Output layout (what `<TimeSeries valueType="url" timeColumn="time">` in the ECG templates expects): a header
`time,I,II,…,V6` (only the leads present, in 12-lead order), `time` in seconds with enough decimals that every
sample keeps a distinct, increasing value, leads in mV. The file is named by a keyed hash of its content, so
neither the source's file name nor its record name reaches Label Studio.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from medlabel.tables import csv_writer
from plugins.ingest.base import (
    IngestContext,
    Outcome,
    Quarantine,
    SourceFile,
    SourceRejected,
    TaskDraft,
    source_key,
)
from plugins.ingest.dicom import read as dicom_read
from plugins.ingest.ecg_read import (
    EcgSignal,
    is_dicom_waveform,
    looks_like_ecg_csv,
    looks_like_wfdb_header,
    read_dicom,
    signal_from_csv,
    signal_from_dicom,
    signal_from_wfdb,
    wfdb_key,
    wfdb_signal_files,
)

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv")
WFDB_SIGNAL_SUFFIXES = (".dat", ".mat")  # .mat: WFDB-format MATLAB files (PhysioNet/CinC Challenge layout)
MEDIA_SUBDIR = "ecg"
DEFAULT_DATA_KEY = "csv"  # the ECG templates read `$csv`
VALUE_DECIMALS = 4  # 0.1 µV: finer than any ECG front end resolves


def ecg_csv(signal: EcgSignal) -> bytes:
    """The CSV bytes for `signal`; missing samples (NaN in WFDB) become empty cells."""
    n = signal.millivolts.shape[0]
    time = signal.time_s if signal.time_s is not None else np.arange(n) / signal.sampling_rate_hz
    decimals = max(3, math.ceil(math.log10(signal.sampling_rate_hz)) + 2)
    # Label Studio refuses repeated or decreasing time values: widen the format until rounding keeps them apart.
    while decimals < 9 and np.any(np.diff(np.round(time, decimals)) <= 0):
        decimals += 1
    buffer = io.StringIO()
    # The header (lead names read from the file) goes through the platform's CSV writer; the body is formatted
    # numbers only, which no spreadsheet reads as a formula, so numpy writes it in bulk.
    csv_writer(buffer, lineterminator="\n").writerow(["time", *signal.leads])
    np.savetxt(
        buffer,
        np.column_stack([time, signal.millivolts]),
        fmt=[f"%.{decimals}f"] + [f"%.{VALUE_DECIMALS}f"] * len(signal.leads),
        delimiter=",",
    )
    return buffer.getvalue().replace("nan", "").encode("ascii")


class EcgPlugin:
    """ECG sources → one task per recording, a CSV under `media_dir/ecg/` served by URL.

    Example:
        >>> plugin = EcgPlugin()
        >>> outcomes = list(plugin.convert([s for s in sources if plugin.claims(s)], context))
    """

    name: ClassVar[str] = "ecg"

    def claims(self, source: SourceFile) -> bool:
        suffix = Path(source.display_name).suffix.lower()
        if suffix == ".hea":
            return looks_like_wfdb_header(source.head(1024))
        if suffix in WFDB_SIGNAL_SUFFIXES:
            return True  # WFDB signal files are binary: only their header can vouch for them
        if suffix in CSV_SUFFIXES:
            return looks_like_ecg_csv(source.head(4096))
        return is_dicom_waveform(source)

    def convert(self, sources: Iterable[SourceFile], context: IngestContext) -> Iterator[Outcome]:
        headers: list[SourceFile] = []
        signals: dict[str, SourceFile] = {}
        for source in sources:
            suffix = Path(source.display_name).suffix.lower()
            if suffix == ".hea":
                headers.append(source)
            elif suffix in WFDB_SIGNAL_SUFFIXES:
                signals[wfdb_key(source.display_name)] = source
            else:
                yield from self._guarded(context, [source], lambda s=source: self._single(s, context))
        used: set[str] = set()
        for header in headers:
            try:
                members = self._members(header, signals)
            except SourceRejected as exc:
                yield Quarantine(self._key(header, context), exc.reason, str(exc))
                continue
            used.update(wfdb_key(member.display_name) for member in members)
            yield from self._guarded(
                context, [header, *members], lambda h=header, m=members: self._wfdb(h, m, context)
            )
        for key, source in signals.items():
            if key not in used:
                yield Quarantine(
                    self._key(source, context), "wfdb_incomplete", "WFDB signal file without its header"
                )

    def _guarded(
        self, context: IngestContext, sources: list[SourceFile], work: Callable[[], TaskDraft]
    ) -> list[Outcome]:
        """Run one conversion; when it fails, every source it involved is quarantined and the batch goes on."""
        try:
            return [work()]
        except SourceRejected as exc:
            reason, detail = exc.reason, str(exc)
        except (
            MemoryError,
            OverflowError,
            ValueError,
            IndexError,
            KeyError,
            TypeError,
            AttributeError,
        ) as exc:
            # Readers translate every failure they know; anything else from numpy/pydicom/wfdb on hostile
            # input must still not stop the batch. The type alone is logged: messages may echo file content.
            logger.warning("ecg source %s refused: %s", self._key(sources[0], context), type(exc).__name__)
            reason, detail = "ecg_corrupt", f"unreadable ({type(exc).__name__})"
        return [Quarantine(self._key(source, context), reason, detail) for source in sources]

    def _single(self, source: SourceFile, context: IngestContext) -> TaskDraft:
        data = source.read_bytes()
        if not data:
            raise SourceRejected("ecg_corrupt", "empty file")
        if dicom_read.sniff(data[:132]) is not None:
            signal, fmt = self._dicom_signal(data, context), "dicom"
        else:
            signal, fmt = signal_from_csv(data), "csv"
        return self._draft(signal, fmt, [source_key(context.project_secret, data)], context)

    def _dicom_signal(self, data: bytes, context: IngestContext) -> EcgSignal:
        from plugins.ingest.dicom.deid import Deidentifier, DeidOptions

        deidentifier = Deidentifier(context.project_secret, DeidOptions.from_ingest_options(context.options))
        ds = read_dicom(data)
        deidentifier.apply(ds)  # before anything is derived from the dataset
        return signal_from_dicom(ds)

    @staticmethod
    def _members(header: SourceFile, signals: dict[str, SourceFile]) -> list[SourceFile]:
        """The signal files a header names, found beside it in the batch."""
        keys = [wfdb_key(header.display_name, name) for name in wfdb_signal_files(header.read_bytes())]
        missing = [key for key in keys if key not in signals]
        if missing:
            raise SourceRejected("wfdb_incomplete", f"WFDB header without {len(missing)} of its signal files")
        return [signals[key] for key in keys]

    def _wfdb(self, header: SourceFile, members: list[SourceFile], context: IngestContext) -> TaskDraft:
        header_bytes = header.read_bytes()
        files = {Path(m.display_name.replace("\\", "/")).name: m.read_bytes() for m in members}
        signal = signal_from_wfdb(header_bytes, files)
        source_keys = [
            source_key(context.project_secret, content) for content in (header_bytes, *files.values())
        ]
        return self._draft(signal, "wfdb", source_keys, context)

    def _draft(
        self, signal: EcgSignal, fmt: str, source_keys: list[str], context: IngestContext
    ) -> TaskDraft:
        payload = ecg_csv(signal)
        content_key = context.pseudonym("ecg", hashlib.sha256(payload).hexdigest(), 32)
        target = context.media_dir / MEDIA_SUBDIR / f"{content_key}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(payload)
        os.replace(partial, target)  # never leave a half-written CSV where Label Studio could serve it
        data_key = context.options.data_key if context.options.data_key != "image" else DEFAULT_DATA_KEY
        data = {
            data_key: context.media_url(target),
            "sampling_rate_hz": round(signal.sampling_rate_hz, 3),
            "leads": list(signal.leads),
            "units": "mV",
            "duration_s": round(signal.duration_s, 3),
        }
        facts = {"source_format": fmt, "samples": int(signal.millivolts.shape[0])}
        if signal.ignored_channels:
            facts["ignored_channels"] = signal.ignored_channels
        return TaskDraft(
            data=data, content_key=content_key, source_keys=source_keys, media=[target], facts=facts
        )

    @staticmethod
    def _key(source: SourceFile, context: IngestContext) -> str:
        return source_key(context.project_secret, source.read_bytes())
