"""Safe DICOM reading: sniff the bytes, parse without ever forcing, decode, and name every refusal.

Policy for files without the 128-byte preamble and File Meta Information (PS3.10 7.1). pydicom's
`force=True` is never used: on an empty or foreign file it returns an empty or garbage data set instead of
failing. A file with no "DICM" marker is accepted only when its first bytes sniff as a raw little-endian data
set that starts with a group 0008 element (explicit or implicit VR, told apart by whether bytes 4-5 are a
known VR) AND the parsed data set carries SOPClassUID and SOPInstanceUID; it is then read with that transfer
syntax set explicitly. Anything else that looks like DICOM (a big-endian group 0008 start, a ".dcm"/".dicom"
name, a raw data set without SOP UIDs) is refused as "no_file_meta"; the rest is "not_dicom". pydicom's own
`no_meta.dcm` is CT_small's data set behind one stray byte, so it is refused as "no_file_meta".
"""

from __future__ import annotations

import io
import warnings
from typing import Any, BinaryIO

import numpy as np
import pydicom.config
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import VR

from plugins.ingest.base import SourceRejected

#: The length field of a value with undefined length (PS3.5 7.1.1).
UNDEFINED_LENGTH = 0xFFFFFFFF

# pydicom logs and warns with the raw value when one is invalid for its VR ("Invalid value for VR DA:
# '<birth date>'"). Hospital files hold such values and, before de-identification, they are PHI: ingest never
# validates values on reading (de-identification replaces or removes the identifying ones anyway).
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

# Stable quarantine reason codes this package can produce, with what each means (README table source).
REASONS: dict[str, str] = {
    "empty_file": "the file has no bytes",
    "not_dicom": "the content is not DICOM",
    "no_file_meta": "no preamble/File Meta Information and the data set fails the no-meta policy",
    "corrupt": "the file cannot be parsed, or its image attributes are missing or invalid",
    "no_pixel_data": "the data set has no pixel data (SR, RT plan, DICOMDIR, waveform, ...)",
    "no_decoder": "no installed decoder handles the transfer syntax (named in the detail)",
    "truncated_pixel_data": "the pixel data holds fewer bytes than rows x columns x frames need",
    "unsupported_image": "a photometric interpretation that cannot be shown (e.g. 4-sample colour)",
    "burned_in_text_remains": "OCR still reads text in the pixels after black-out",
    "burned_in_text_unlocated": "BurnedInAnnotation is YES but neither OCR nor a region located the text",
    "ocr_unreadable": "frames too small for OCR to check for burned-in text",
    "ocr_failed": "tesseract failed or timed out on the frames (burned-in text could not be checked)",
    "ocr_unavailable": "tesseract or its Korean/English language data is not installed",
    "deid_failed": "de-identification raised an error; nothing derived from the file",
    "duplicate_instance": "same SOP Instance as another file of the batch (series mode)",
}

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_WAVEFORM_SOP_PREFIX = "1.2.840.10008.5.1.4.1.1.9."  # PS3.4 B.5: every Waveform Storage SOP class
_DICOM_SUFFIXES = (".dcm", ".dicom")
_VRS = frozenset(vr.value.encode() for vr in VR)


def sniff(head: bytes) -> str | None:
    """Classify the first 132+ bytes: "part10" (DICM marker), "raw_explicit"/"raw_implicit" (a little-endian
    data set starting at a group 0008 tag), "raw_big_endian", or None."""
    if head[128:132] == b"DICM":
        return "part10"
    if head[:2] == b"\x08\x00" and len(head) >= 8:
        return "raw_explicit" if head[4:6] in _VRS else "raw_implicit"
    if head[:2] == b"\x00\x08":
        return "raw_big_endian"
    return None


def looks_like_dicom(head: bytes, name: str) -> bool:
    """What `claims` accepts: DICOM content, or a DICOM file name (so a no-meta file gets a named refusal)."""
    return sniff(head) is not None or name.lower().endswith(_DICOM_SUFFIXES)


def is_waveform(ds: Dataset) -> bool:
    """Waveform SOP classes, or a WaveformSequence without pixel data, belong to the ECG plugin."""
    if str(ds.get("SOPClassUID", "")).startswith(_WAVEFORM_SOP_PREFIX):
        return True
    return "WaveformSequence" in ds and not any(k in ds for k in PIXEL_KEYWORDS)


def read_header(fp: BinaryIO) -> Dataset | None:
    """The header up to the pixel data, or None when it does not parse (used by `claims`, must be cheap)."""
    head = fp.read(132)
    fp.seek(0)
    try:
        return _parse(fp, sniff(head), stop_before_pixels=True)
    except SourceRejected:
        return None


def read(data: bytes, name: str) -> Dataset:
    """Parse a whole file under the no-meta policy.

    Args:
        data: the file's bytes.
        name: the file name, only its suffix is looked at.

    Raises:
        SourceRejected: empty_file, not_dicom, no_file_meta, corrupt or no_pixel_data.
    """
    if not data:
        raise SourceRejected("empty_file", "the file is empty")
    kind = sniff(data[:132])
    if kind is None:
        if name.lower().endswith(_DICOM_SUFFIXES):
            raise SourceRejected(
                "no_file_meta",
                "no DICOM preamble/File Meta Information and the data set does not start at a group 0008 tag",
            )
        raise SourceRejected("not_dicom", "the content is not DICOM (no DICM marker, no data set start)")
    if kind == "raw_big_endian":
        raise SourceRejected(
            "no_file_meta", "big-endian data set without File Meta Information is not accepted"
        )
    ds = _parse(io.BytesIO(data), kind, stop_before_pixels=False)
    if kind != "part10" and not ("SOPClassUID" in ds and "SOPInstanceUID" in ds):
        raise SourceRejected(
            "no_file_meta", "data set without File Meta Information lacks SOP Class/Instance UID"
        )
    if not any(k in ds for k in PIXEL_KEYWORDS):
        if _cut_short(ds):
            # pydicom stops quietly at a clean cut between elements: an image object without pixels was cut short.
            raise SourceRejected(
                "corrupt", "an image data set that ends before its pixel data (truncated file)"
            )
        what = "a DICOMDIR" if "DirectoryRecordSequence" in ds else "no Pixel Data element"
        raise SourceRejected("no_pixel_data", f"the data set has {what}")
    return ds


def _cut_short(ds: Dataset) -> bool:
    """Image pixel attributes without pixels, or a last element that holds fewer bytes than it declares or does
    not convert: the file was cut short.

    pydicom reads a file that stops between elements, or inside a value, without a warning. A cut exactly between
    two elements before the image attributes cannot be told from a pixel-less object (an image SOP class is no
    proof: DICOMDIR test sets carry CT Image Storage stubs with no image attribute).
    """
    if any(k in ds for k in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel")):
        return True
    elements = list(ds.elements())
    if not elements or not isinstance(elements[-1], RawDataElement):
        return False
    last = elements[-1]
    if last.value is not None and last.length != UNDEFINED_LENGTH and len(last.value) < last.length:
        return True
    try:
        ds[last.tag]
    except Exception:  # pydicom fails on a cut sequence with several exception types
        return True
    return False


def _parse(fp: BinaryIO, kind: str | None, *, stop_before_pixels: bool) -> Dataset:
    # pydicom reports a file that ends inside an element or sequence only as a warning (and keeps what it
    # read), so warnings are recorded here and "End of file" ones turn into a refusal.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if kind == "part10":
                ds: Dataset = dcmread(fp, stop_before_pixels=stop_before_pixels)
                if "TransferSyntaxUID" not in ds.file_meta:
                    raise SourceRejected("corrupt", "the File Meta Information has no Transfer Syntax UID")
            elif kind in ("raw_explicit", "raw_implicit"):
                implicit = kind == "raw_implicit"
                ds = read_dataset(
                    fp,
                    is_implicit_VR=implicit,
                    is_little_endian=True,
                    stop_when=_stop_at_pixels if stop_before_pixels else None,
                )
                ds.file_meta = FileMetaDataset()
                ds.file_meta.TransferSyntaxUID = (
                    ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
                )
            else:
                raise SourceRejected("not_dicom", "the content is not DICOM")
        except SourceRejected:
            raise
        except Exception as exc:  # pydicom fails on malformed input with many exception types
            raise SourceRejected(
                "corrupt", f"the file does not parse as DICOM ({type(exc).__name__})"
            ) from exc
    if any("End of file" in str(w.message) for w in caught):
        raise SourceRejected("corrupt", "the file ends before its data set does (truncated file)")
    return ds


def _stop_at_pixels(tag: BaseTag, vr: str | None, length: int) -> bool:
    return int(tag) >= 0x7FE00008


def lookup(ds: Dataset, keyword: str, group: str) -> Any:
    """`keyword` from the top level, else from the shared, else the first per-frame functional group item."""
    if keyword in ds:
        return ds[keyword].value
    for container in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(container)
        if items and group in items[0] and items[0][group].value and keyword in items[0][group][0]:
            return items[0][group][0][keyword].value
    return None


def transfer_syntax(ds: Dataset) -> UID:
    """The data set's transfer syntax (always present after `read`)."""
    return UID(ds.file_meta.TransferSyntaxUID)


def decode(ds: Dataset) -> np.ndarray:
    """Decode every frame as (frames, rows, columns[, samples]); YBR is converted to RGB by pydicom.

    Raises:
        SourceRejected: no_decoder, truncated_pixel_data or corrupt.
    """
    tsyntax = transfer_syntax(ds)
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError as exc:
        raise SourceRejected(
            "no_decoder", f"no pixel data decoder exists for transfer syntax {_ts_name(tsyntax)}"
        ) from exc
    if not decoder.is_available:
        raise SourceRejected(
            "no_decoder",
            f"no installed plugin decodes transfer syntax {_ts_name(tsyntax)}; install one of its plugins",
        )
    for keyword in ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation"):
        if ds.get(keyword) in (None, ""):
            raise SourceRejected("corrupt", f"the image attribute {keyword} is missing")
    try:
        with warnings.catch_warnings():
            # Decoders warn about oddities they fix themselves (e.g. a Pixel Representation that disagrees with
            # the J2K stream); only an exception means the pixels are unusable.
            warnings.simplefilter("ignore")
            if not tsyntax.is_encapsulated and "PixelData" in ds:
                expected = get_expected_length(ds, unit="bytes")
                actual = len(ds.PixelData)
                if actual < expected:
                    raise SourceRejected(
                        "truncated_pixel_data",
                        f"the pixel data has {actual} of the {expected} bytes its size needs",
                    )
            arr: np.ndarray = ds.pixel_array
            frames = int(ds.get("NumberOfFrames") or 1)
    except SourceRejected:
        raise
    except Exception as exc:  # decoders raise anything (RuntimeError, ValueError, OSError...)
        raise SourceRejected(
            "corrupt", f"the pixel data does not decode ({_ts_name(tsyntax)}, {type(exc).__name__})"
        ) from exc
    samples = int(ds.SamplesPerPixel)
    if frames == 1 and arr.ndim == (3 if samples > 1 else 2):
        arr = arr[np.newaxis]
    return arr


def _ts_name(tsyntax: UID) -> str:
    return (
        f"{tsyntax.name} ({tsyntax})" if tsyntax.is_valid and tsyntax.name != str(tsyntax) else str(tsyntax)
    )
