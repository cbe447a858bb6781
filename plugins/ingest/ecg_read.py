"""Read ECGs from DICOM waveforms, WFDB records and CSV into one shape: named leads in mV at a sampling rate.

Only what a reader of the tracing needs survives: sampling rate, lead names, the samples in mV. Everything
else a source carries (WFDB record names and comment lines, base dates, DICOM headers) is dropped here, so
it cannot reach task data or file names.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import wfdb
from pydicom.errors import InvalidDicomError

from medlabel.samples import ECG_LEADS
from plugins.ingest.base import SourceFile, SourceRejected
from plugins.ingest.dicom import read as dicom_read
from plugins.ingest.ecg_leads import lead_from_code, lead_name, mv_factor

# DICOM Waveform Storage SOP classes all live under this root (12-lead, general, ambulatory ECG, hemodynamic…).
WAVEFORM_SOP_ROOT = "1.2.840.10008.5.1.4.1.1.9."

_TIME_SECONDS = {"time", "t", "time_s", "times", "seconds", "second", "sec", "s"}
_TIME_MILLIS = {"time_ms", "ms", "milliseconds", "timems"}
_SAMPLE_INDEX = {"sample", "samples", "index", "sample_index", "n"}
_HEADER_CELL = re.compile(r"^(?P<name>.*?)\s*(?:[(\[]\s*(?P<unit>[^)\]]*?)\s*[)\]]|_(?P<unit2>[mµμun]?V))?$")
_DIRECTIVE = re.compile(r"^#\s*(?P<key>[a-z_]+)\s*[=:]\s*(?P<value>\S+)\s*$", re.I)
_WFDB_RECORD_LINE = re.compile(
    rb"^[^\s#/]+(?:/\d+)?\s+\d+(?:\s+[\d.eE+-]+(?:/[\d.eE+-]+)?(?:\([\d.eE+-]+\))?)?"
)


@dataclass(frozen=True)
class EcgSignal:
    """Leads in the canonical 12-lead order; `time_s` is None when samples are evenly spaced from 0."""

    sampling_rate_hz: float
    leads: tuple[str, ...]
    millivolts: np.ndarray  # (samples, leads)
    time_s: np.ndarray | None = None
    ignored_channels: int = 0

    @property
    def duration_s(self) -> float:
        if self.time_s is not None and len(self.time_s):
            return float(self.time_s[-1] - self.time_s[0]) + 1.0 / self.sampling_rate_hz
        return self.millivolts.shape[0] / self.sampling_rate_hz


def _to_mv(unit: str | None) -> float:
    factor = mv_factor(unit)
    if factor is None:
        raise SourceRejected("ecg_unrecognised", "a lead's unit is not a voltage (expected mV, uV or V)")
    return factor


def _canonical(
    fs: float, named: list[tuple[str | None, np.ndarray]], time_s: np.ndarray | None = None
) -> EcgSignal:
    """Keep the first channel of each lead, in 12-lead order; refuse a source with no ECG lead."""
    if not np.isfinite(fs) or fs <= 0:
        raise SourceRejected("ecg_corrupt", "sampling rate is missing or not positive")
    by_lead: dict[str, np.ndarray] = {}
    for lead, samples in named:
        if lead is not None and lead not in by_lead:
            by_lead[lead] = samples
    if not by_lead:
        raise SourceRejected("ecg_unrecognised", f"none of the {len(named)} channels is an ECG lead")
    leads = tuple(lead for lead in ECG_LEADS if lead in by_lead)
    values = np.column_stack([by_lead[lead] for lead in leads]).astype(np.float64)
    if values.shape[0] < 2:
        raise SourceRejected("ecg_corrupt", "the recording has fewer than two samples")
    return EcgSignal(fs, leads, values, time_s, ignored_channels=len(named) - len(leads))


# ------------------------------------------------------------------ DICOM waveforms


def is_dicom_waveform(source: SourceFile) -> bool:
    """Exactly the DICOM files the DICOM plugin leaves to us: Waveform Storage SOP classes, and data sets with a
    Waveform Sequence and no pixel data (same reader and no-meta policy as `plugins.ingest.dicom.read`)."""
    if dicom_read.sniff(source.head(132)) is None:
        return False
    with source.path.open("rb") if source.path else io.BytesIO(source.read_bytes()) as fp:
        header = dicom_read.read_header(fp)
    if header is None or not dicom_read.is_waveform(header):
        return False
    if str(header.get("SOPClassUID", "")).startswith(WAVEFORM_SOP_ROOT):
        return True
    try:  # a Waveform Sequence beside an image: the header stops before the pixels, so read it all
        dicom_read.read(source.read_bytes(), source.display_name)
    except SourceRejected as exc:
        return exc.reason == "no_pixel_data"
    return False


def read_dicom(data: bytes) -> pydicom.Dataset:
    """Parse a DICOM file without `force` (an empty or foreign file must not read as an empty dataset)."""
    if data[128:132] != b"DICM":
        raise SourceRejected(
            "ecg_unsupported", "DICOM waveforms are accepted only with File Meta Information"
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # pydicom reports a file cut inside an element only as a warning
            ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise SourceRejected("ecg_corrupt", f"DICOM file cannot be parsed ({type(exc).__name__})") from None
    if any("End of file" in str(w.message) for w in caught):
        raise SourceRejected("ecg_corrupt", "the file ends before its data set does (truncated file)")
    if "WaveformSequence" not in ds:
        raise SourceRejected("ecg_unrecognised", "DICOM file has no Waveform Sequence")
    return ds


def signal_from_dicom(ds: pydicom.Dataset) -> EcgSignal:
    """The ECG multiplex group of a (de-identified) waveform dataset: original groups first, then most leads."""
    candidates: list[tuple[tuple[bool, int, int], int, list[str | None]]] = []
    for index, group in enumerate(ds.WaveformSequence):
        leads: list[str | None] = []
        for channel in group.get("ChannelDefinitionSequence", []):
            source = channel.get("ChannelSourceSequence", [None])[0]
            lead = None
            if source is not None:
                lead = lead_from_code(str(source.get("CodeValue", "")), str(source.get("CodeMeaning", "")))
            leads.append(lead or lead_name(str(channel.get("ChannelLabel", ""))))
        found = sum(lead is not None for lead in leads)
        if found:
            original = group.get("WaveformOriginality") == "ORIGINAL"
            candidates.append(((original, found, int(group.get("NumberOfWaveformSamples", 0))), index, leads))
    if not candidates:
        raise SourceRejected("ecg_unrecognised", "no multiplex group of the DICOM waveform holds ECG leads")
    _, index, leads = max(candidates, key=lambda item: item[0])
    group = ds.WaveformSequence[index]
    try:
        values = ds.waveform_array(index)  # channel sensitivity, correction factor and baseline applied
    except (AttributeError, ValueError, KeyError) as exc:
        raise SourceRejected(
            "ecg_corrupt", f"waveform data cannot be decoded ({type(exc).__name__})"
        ) from None
    named: list[tuple[str | None, np.ndarray]] = []
    for column, (lead, channel) in enumerate(zip(leads, group.ChannelDefinitionSequence, strict=True)):
        if lead is None:
            named.append((None, values[:, column]))
            continue
        units = channel.get("ChannelSensitivityUnitsSequence")
        if "ChannelSensitivity" not in channel or not units:
            raise SourceRejected("ecg_unrecognised", f"lead {lead} has no channel sensitivity units")
        named.append((lead, values[:, column] * _to_mv(str(units[0].get("CodeValue", "")))))
    return _canonical(float(group.get("SamplingFrequency", 0) or 0), named)


# ------------------------------------------------------------------ WFDB


def looks_like_wfdb_header(head: bytes) -> bool:
    """A WFDB header's first non-comment line is `record[/segments] n_signals [fs[/counter][(base)] ...]`."""
    for line in head.splitlines():
        if line.strip() and not line.lstrip().startswith(b"#"):
            return bool(_WFDB_RECORD_LINE.match(line.strip()))
    return False


def wfdb_signal_files(header: bytes) -> list[str]:
    """The signal file names a header refers to (in order, unique), refusing anything but a plain name."""
    names: list[str] = []
    with tempfile.TemporaryDirectory(prefix="medlabel-wfdb-") as tmp:
        record = _read_header(Path(tmp), header)
    if isinstance(record, wfdb.MultiRecord):
        raise SourceRejected("ecg_unsupported", "multi-segment WFDB records are not supported")
    for name in record.file_name or []:
        if not name or name in {".", "..", "-"} or "/" in name or "\\" in name:
            raise SourceRejected("ecg_corrupt", "WFDB header names a signal file outside its folder")
        if name not in names:
            names.append(name)
    if not names:
        raise SourceRejected("ecg_unrecognised", "WFDB header lists no signals")
    return names


def _read_header(folder: Path, header: bytes) -> wfdb.Record | wfdb.MultiRecord:
    (folder / "record.hea").write_bytes(header)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return wfdb.rdheader(str(folder / "record"))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError/UnicodeError on bad headers
        raise SourceRejected("ecg_corrupt", f"WFDB header cannot be parsed ({type(exc).__name__})") from None


def signal_from_wfdb(header: bytes, signal_files: dict[str, bytes]) -> EcgSignal:
    """Read a record from a private temp folder under neutral names; only fs, leads, units and samples leave.

    The record name, comment lines and base date/time of the header are never read out of the wfdb Record.
    """
    with tempfile.TemporaryDirectory(prefix="medlabel-wfdb-") as tmp:
        folder = Path(tmp)
        for name, content in signal_files.items():
            (folder / name).write_bytes(content)
        record = _read_header(folder, header)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                record = wfdb.rdrecord(str(folder / "record"), physical=True)
        except Exception as exc:  # short or mis-formatted .dat files surface as ValueError, IndexError…
            raise SourceRejected(
                "ecg_corrupt", f"WFDB signal data cannot be read ({type(exc).__name__})"
            ) from None
    if record.p_signal is None or record.p_signal.ndim != 2:
        raise SourceRejected("ecg_corrupt", "WFDB record holds no physical signal")
    units = record.units or [None] * record.n_sig
    named: list[tuple[str | None, np.ndarray]] = []
    for column, (raw_name, unit) in enumerate(zip(record.sig_name, units, strict=True)):
        lead = lead_name(raw_name or "")
        named.append(
            (lead, record.p_signal[:, column] * _to_mv(unit) if lead else record.p_signal[:, column])
        )
    return _canonical(float(record.fs or 0), named)


# ------------------------------------------------------------------ CSV


@dataclass(frozen=True)
class _CsvLayout:
    delimiter: str
    header_row: int  # lines before the header (directives)
    time_column: int | None
    time_scale: float | None  # seconds per time unit; None: sample index
    leads: list[tuple[int, str, float]]  # column, lead, factor to mV
    sampling_rate_hz: float | None


def _csv_layout(text: str) -> _CsvLayout:
    """Parse directives (`# fs=500`, `# units=uV`) and the header row; refuse a header that is not time + leads."""
    lines = text.splitlines()
    directives: dict[str, str] = {}
    index = 0
    while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        match = _DIRECTIVE.match(lines[index].strip())
        if match:
            directives[match.group("key").lower()] = match.group("value")
        index += 1
    if index == len(lines):
        raise SourceRejected("ecg_unrecognised", "CSV has no header row")
    header = lines[index]
    delimiter = max((",", ";", "\t"), key=header.count)
    cells = next(csv.reader([header], delimiter=delimiter))
    default_unit = directives.get("units") or directives.get("unit")
    time_column: int | None = None
    time_scale: float | None = None
    leads: list[tuple[int, str, float]] = []
    for column, cell in enumerate(cells):
        match = _HEADER_CELL.match(cell.strip())
        name = (match.group("name") if match else cell).strip()
        unit = (match.group("unit") or match.group("unit2")) if match else None
        key = re.sub(r"[\s-]+", "_", name.lower())
        if time_column is None and key in _TIME_SECONDS | _TIME_MILLIS | _SAMPLE_INDEX:
            time_column = column
            if key in _SAMPLE_INDEX:
                time_scale = None
            elif key in _TIME_MILLIS or (unit or "").lower() == "ms":
                time_scale = 1e-3
            else:
                time_scale = 1.0
            continue
        lead = lead_name(name)
        if lead is None:
            if not cell.strip() and column == len(cells) - 1:
                continue  # a trailing delimiter
            raise SourceRejected(
                "ecg_unrecognised", f"CSV column {column + 1} is neither time nor an ECG lead"
            )
        leads.append((column, lead, _to_mv(unit or default_unit)))
    if not leads:
        raise SourceRejected("ecg_unrecognised", "CSV has no ECG lead column")
    fs_text = directives.get("fs") or directives.get("sampling_rate") or directives.get("sampling_rate_hz")
    try:
        fs = float(fs_text) if fs_text else None
    except ValueError:
        raise SourceRejected("ecg_unrecognised", "the CSV's fs= directive is not a number") from None
    if time_column is None and fs is None:
        raise SourceRejected("ecg_unrecognised", "CSV has neither a time column nor an '# fs=<Hz>' line")
    if time_column is not None and time_scale is None and fs is None:
        raise SourceRejected("ecg_unrecognised", "a sample-index column needs an '# fs=<Hz>' line")
    return _CsvLayout(delimiter, index, time_column, time_scale, leads, fs)


def looks_like_ecg_csv(head: bytes) -> bool:
    """Sniff the first lines: a time column (or `# fs=`) and nothing but ECG lead columns."""
    try:
        text = head.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:  # the head may cut a multi-byte character at its end
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8-sig")
    complete = text.rsplit("\n", 1)[0] if "\n" in text else text
    try:
        _csv_layout(complete)
    except SourceRejected:
        return False
    return True


def signal_from_csv(data: bytes) -> EcgSignal:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceRejected("ecg_corrupt", "CSV is not valid UTF-8") from None
    layout = _csv_layout(text)
    columns = sorted({column for column, _, _ in layout.leads} | {layout.time_column or 0})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on an empty body; the size check below reports it
            table = np.loadtxt(
                io.StringIO(text),
                delimiter=layout.delimiter,
                comments="#",
                skiprows=layout.header_row + 1,
                usecols=columns,
                ndmin=2,
                dtype=np.float64,
            )
    except ValueError as exc:
        raise SourceRejected(
            "ecg_corrupt", f"CSV holds a non-numeric or missing value ({exc.__class__.__name__})"
        ) from None
    position = {column: at for at, column in enumerate(columns)}
    time_s: np.ndarray | None = None
    fs = layout.sampling_rate_hz
    if layout.time_column is not None and table.shape[0]:
        raw_time = table[:, position[layout.time_column]]
        time_s = raw_time / fs if layout.time_scale is None else raw_time * layout.time_scale  # type: ignore[operator]
        steps = np.diff(time_s)
        if not np.all(np.isfinite(time_s)) or (steps.size and np.any(steps <= 0)):
            raise SourceRejected("ecg_corrupt", "the CSV time column is not strictly increasing")
        if fs is None and steps.size:
            fs = 1.0 / float(np.median(steps))
    named = [(lead, table[:, position[column]] * factor) for column, lead, factor in layout.leads]
    return _canonical(float(fs or 0), named, time_s)


def wfdb_key(display_name: str, name: str | None = None) -> str:
    """Where a WFDB file sits in the batch: its folder plus a file name, so a header finds its .dat."""
    path = display_name.replace("\\", "/")
    return posixpath.join(posixpath.dirname(path), name) if name else path
