"""De-identify a pydicom dataset in place per DICOM PS3.15 Annex E (Basic Application Level Confidentiality
Profile, with the options a project may switch on), keyed by the project's secret.

One pass over the dataset and every sequence item at any depth: private elements go, each element the table
names gets its action (`annex_e.py` resolves the table and documents the choices for compound actions), and
everything else is left untouched. Values the walk does not need are never converted: pydicom validates a
value when it converts it and logs an invalid one, which would put an original identifier into the logs.

Replacements:
- U: "2.25." + the decimal of the first 128 bits of HMAC-SHA256(secret, original UID), so one original UID
  maps to one new UID in a project (references between files stay intact) and to another in another project.
  The standard's own UIDs (root 1.2.840.10008, e.g. the UTC synchronization frame of reference) stay.
- D: a fixed dummy valid for the VR (`DUMMY_BY_VR`); for a UI element a remapped UID; for a sequence one
  empty item.
  Patient's Name and Patient ID (Z, Z/D) get the patient pseudonym "ML-" + 16 hex of HMAC(secret, patient key)
  instead of an empty value, so a project's files of one patient stay together.
- Z: an empty value (a sequence without items).
- C ("clean"): DA/DT values are shifted by the patient's date offset (a whole number of days derived from the
  secret and the patient key, between 1 and 10 years back); AE titles become a keyed pseudonym, so one device
  keeps one name; free text cannot be cleaned reliably, so it is replaced by the VR's dummy.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import DicomDictionary, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medlabel.errors import ConfigError
from plugins.ingest.base import IngestOptions
from plugins.ingest.dicom.annex_e import Action, action_table

_PATIENT_NAME = 0x00100010
_PATIENT_ID = 0x00100020
#: File-meta elements the table does not list but that name the sending/receiving stations or carry private
#: data: removed like Station AE Title (X) and private attributes are.
_FILE_META_REMOVE = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
#: UIDs under the DICOM root are the standard's own, public constants, never identifiers: they stay.
_DICOM_ROOT = "1.2.840.10008."
_PSEUDONYM = re.compile(r"ML-[0-9a-f]{16}")
_SQ_TAGS = frozenset(tag for tag, entry in DicomDictionary.items() if entry[0] == "SQ")
_MIN_SHIFT_DAYS, _MAX_SHIFT_DAYS = 365, 3650
#: Dummy values (D), valid for each VR; binary VRs get `_DUMMY_BYTES`.
DUMMY_BY_VR: dict[str, Any] = {
    "AE": "ANONYMOUS",
    "AS": "000D",
    "AT": 0,
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "FD": 0.0,
    "FL": 0.0,
    "IS": "0",
    "LO": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "PN": "ANONYMOUS",
    "SH": "ANONYMIZED",
    "SL": 0,
    "SS": 0,
    "ST": "ANONYMIZED",
    "SV": 0,
    "TM": "000000",
    "UC": "ANONYMIZED",
    "UL": 0,
    "UR": "http://anonymized.invalid",
    "US": 0,
    "UT": "ANONYMIZED",
    "UV": 0,
}
_DUMMY_BYTES = b"\x00\x00"  # OB, OD, OF, OL, OV, OW, UN: an even-length zero value

#: DeidentificationMethodCodeSequence codes (CID 7050) and their meanings.
_BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
_OPTION_CODES = {
    "retain_longitudinal_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
}


@dataclass(frozen=True)
class DeidOptions:
    """The Annex E options a project may switch on (all off is the Basic Profile alone)."""

    retain_longitudinal_modified_dates: bool = False  # rtnLongModifDatesOpt: dates shifted per patient
    retain_patient_characteristics: bool = False  # rtnPatCharsOpt
    retain_device_identity: bool = False  # rtnDevIdOpt

    @classmethod
    def from_ingest_options(cls, options: IngestOptions) -> DeidOptions:
        return cls(
            retain_longitudinal_modified_dates=options.retain_longitudinal_modified_dates,
            retain_patient_characteristics=options.retain_patient_characteristics,
            retain_device_identity=options.retain_device_identity,
        )


@dataclass
class DeidReport:
    """How many elements each action touched (counts only: never values, which may be PHI)."""

    removed: int = 0
    emptied: int = 0
    dummied: int = 0
    uids_replaced: int = 0
    cleaned: int = 0
    private_removed: int = 0


@dataclass
class _Patient:
    """Per-dataset facts the replacements need, worked out once before the walk."""

    pseudonym: str
    shift: datetime.timedelta


class Deidentifier:
    """Applies the Annex E table under a project's secret and options; build one per project and reuse it."""

    def __init__(self, project_secret: bytes, options: DeidOptions = DeidOptions()) -> None:
        if len(project_secret) < 16:
            raise ConfigError(
                "the project secret must be at least 16 bytes: pseudonyms and UIDs are keyed by it"
            )
        self._key = hmac.new(project_secret, digestmod=hashlib.sha256)
        self.options = options
        self._table = action_table(
            options.retain_longitudinal_modified_dates,
            options.retain_patient_characteristics,
            options.retain_device_identity,
        )

    def apply(self, ds: Dataset) -> DeidReport:
        """De-identify in place (file_meta included: MediaStorageSOPInstanceUID follows SOPInstanceUID)."""
        patient_key = self._patient_key(ds)
        days = _MIN_SHIFT_DAYS + int(self._digest("date-offset", patient_key)[:8], 16) % (
            _MAX_SHIFT_DAYS - _MIN_SHIFT_DAYS
        )
        patient = _Patient(pseudonym=self._pseudonym(patient_key), shift=datetime.timedelta(days=-days))
        report = DeidReport()
        self._walk(ds, patient, report, top=True)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            self._walk(meta, patient, report, top=False)
            for tag in _FILE_META_REMOVE:
                if tag in meta:
                    del meta[tag]
                    report.removed += 1
        self._record(ds)
        return report

    def pseudonymous_patient_key(self, ds: Dataset) -> str:
        """The patient pseudonym ("ML-" + 16 hex) of a dataset, before or after `apply`."""
        elem = ds.get_item(_PATIENT_ID)
        patient_id = "\\".join(_text_values(elem)) if elem is not None else ""
        if _PSEUDONYM.fullmatch(patient_id) and ds.get("PatientIdentityRemoved") == "YES":
            return patient_id
        return self._pseudonym(self._patient_key(ds))

    def _walk(self, ds: Dataset, patient: _Patient, report: DeidReport, *, top: bool) -> None:
        table = self._table
        for elem in list(ds.elements()):
            tag = elem.tag
            group = tag >> 16
            if group & 1:
                del ds[tag]
                report.private_removed += 1
                continue
            action = table.by_tag.get(tag)
            if action is None and group & 0xFF00 == 0x5000:
                action = table.curve
            elif action is None and group & 0xFF00 == 0x6000:
                action = table.overlay.get(tag & 0xFFFF)
            if action is None or action is Action.KEEP:
                if elem.VR == "SQ" or tag in _SQ_TAGS:
                    self._walk_sequence(ds, tag, patient, report)
                continue
            if action is Action.REMOVE:
                del ds[tag]
                report.removed += 1
                continue
            vr = _vr(elem)
            if top and tag in (_PATIENT_NAME, _PATIENT_ID):
                ds[tag] = DataElement(tag, vr, patient.pseudonym)
                report.dummied += 1
            elif action is Action.EMPTY:
                ds[tag] = DataElement(tag, vr, Sequence() if vr == "SQ" else None)
                report.emptied += 1
            elif action is Action.UID:
                values = _text_values(elem)
                if any(values):
                    ds[tag] = DataElement(tag, vr, [self._uid(value) if value else "" for value in values])
                    report.uids_replaced += 1
            elif action is Action.DUMMY:
                ds[tag] = DataElement(tag, vr, self._dummy(vr, elem))
                report.dummied += 1
            else:
                ds[tag] = DataElement(tag, vr, self._clean(vr, elem, patient))
                report.cleaned += 1

    def _walk_sequence(self, ds: Dataset, tag: int, patient: _Patient, report: DeidReport) -> None:
        """Walk a kept sequence's items; a value pydicom cannot parse as items is unchecked, so it goes."""
        elem = ds[tag]
        if elem.VR != "SQ":
            del ds[tag]
            report.removed += 1
            return
        for item in elem.value:
            self._walk(item, patient, report, top=False)

    def _dummy(self, vr: str, elem: DataElement | RawDataElement) -> Any:
        if vr == "SQ":
            return Sequence([Dataset()])
        if vr == "UI":
            return [self._uid(value) for value in _text_values(elem) if value] or self._uid("")
        return DUMMY_BY_VR.get(vr, _DUMMY_BYTES)

    def _clean(self, vr: str, elem: DataElement | RawDataElement, patient: _Patient) -> Any:
        values = _text_values(elem)
        if vr in ("DA", "DT"):
            shifted = [_shift(value, patient.shift, vr) if value else "" for value in values]
            return self._dummy(vr, elem) if None in shifted else shifted
        if vr == "AE":
            return ["ML" + self._digest("ae", value)[:14].upper() if value else "" for value in values]
        return self._dummy(vr, elem)

    def _record(self, ds: Dataset) -> None:
        """Say in the dataset what was done (PS3.15 E.1.1 item 6; PS3.3 C.7.1.1 and C.7.6.1)."""
        switched_on = [name for name in _OPTION_CODES if getattr(self.options, name)]
        codes = [_BASIC_PROFILE_CODE, *(_OPTION_CODES[name] for name in switched_on)]
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = [
            "medlabel: PS3.15 Annex E Basic Profile",
            *(meaning for _, meaning in codes[1:]),
        ]
        items = []
        for value, meaning in codes:
            item = Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = items
        dates_kept = self.options.retain_longitudinal_modified_dates
        ds.LongitudinalTemporalInformationModified = "MODIFIED" if dates_kept else "REMOVED"

    def _patient_key(self, ds: Dataset) -> str:
        """Patient ID, or Patient's Name when the ID is empty: what says "same patient" inside a project."""
        for tag in (_PATIENT_ID, _PATIENT_NAME):
            elem = ds.get_item(tag)
            if elem is not None:
                text = "\\".join(_text_values(elem))
                if text:
                    return text
        return ""

    def _pseudonym(self, patient_key: str) -> str:
        # Same formula as plugins.ingest.base.IngestContext.pseudonym("patient", key), so plugins can match it.
        return "ML-" + self._digest("patient", patient_key)[:16]

    def _uid(self, original: str) -> str:
        if original.startswith(_DICOM_ROOT):  # the standard's own UIDs (e.g. UTC synchronization frame)
            return original
        # pydicom.uid.generate_uid hashes its entropy unkeyed; a keyed HMAC keeps UIDs unlinkable across
        # projects, so the 2.25 (UUID-derived) form is built here from the HMAC's first 128 bits.
        return "2.25." + str(int(self._digest("uid", original)[:32], 16))

    def _digest(self, kind: str, value: str) -> str:
        mac = self._key.copy()
        mac.update(f"{kind}\x00{value}".encode())
        return mac.hexdigest()


def _vr(elem: DataElement | RawDataElement) -> str:
    """The element's VR; the dictionary's when it was read as implicit VR or written as UN."""
    if elem.VR is None or elem.VR == "UN":
        try:
            return str(dictionary_VR(elem.tag))
        except KeyError:
            return "UN"
    return str(elem.VR)


def _text_values(elem: DataElement | RawDataElement) -> list[str]:
    """The values of a text element; raw bytes are decoded here, not by pydicom (see the module docstring).

    Only used for the ASCII VRs (UI, DA, DT, AE) and for the patient key, where Latin-1 loses nothing."""
    value = elem.value
    if value is None:
        return []
    if isinstance(value, bytes):
        return [part.strip(" \x00") for part in value.decode("latin-1").split("\\")]
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return [str(value).strip(" \x00")]
    return [str(part).strip(" \x00") for part in value]


def _shift(value: str, shift: datetime.timedelta, vr: str) -> str | None:
    """A DA or DT value moved by `shift`, at its own precision (DT keeps its time and offset); None if it is
    not a date. Hand-written because pydicom's DA/DT parse but do not reformat at the original precision."""
    digits = value.replace(".", "") if vr == "DA" else value  # DA may be ACR-NEMA "YYYY.MM.DD"
    date_part = digits[:8]
    for length in (8, 6, 4):
        if len(date_part) >= length and date_part[:length].isdigit():
            date_part = date_part[:length]
            break
    else:
        return None
    if vr == "DA" and len(digits) != 8:
        return None
    padded = date_part + "0101"[len(date_part) - 4 :]
    try:
        moved = datetime.date(int(padded[:4]), int(padded[4:6]), int(padded[6:8])) + shift
    except (ValueError, OverflowError):
        return None
    text = f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"
    return text[: len(date_part)] + digits[len(date_part) :]
