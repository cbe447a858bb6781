"""DICOM de-identification (PS3.15 Annex E): every table row seeded with a canary; every real test file."""

from __future__ import annotations

import copy
import datetime
import io
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import config
from pydicom.data import get_testdata_files
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import validate_value

from medlabel.errors import ConfigError
from plugins.ingest.dicom.deid import DUMMY_BY_VR, Deidentifier, DeidOptions

TABLE_PATH = Path(__file__).resolve().parent.parent / "plugins" / "ingest" / "dicom" / "annex_e.json"
SECRET = b"test-project-secret-0123456789ab"
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
PSEUDONYM = re.compile(r"^ML-[0-9a-f]{16}$")
OUTER_SEQ, INNER_SEQ = 0x00081115, 0x0008114A  # Referenced Series / Instance Sequence: not in the table
CODE_MEANING = 0x00080104  # not in the table: what a canary sequence item carries
REFERENCE_ROWS = {0x00081140, 0x00082112}  # X/Z/U*: kept, the UIDs inside remapped
PRIVATE_CREATOR = "CNRY PRIVATE CREATOR"
BASE_DATE = datetime.date(1987, 1, 1)


@dataclass(frozen=True)
class Row:
    index: int
    name: str
    tag: int
    vr: str
    basic: str
    options: dict[str, str]

    @property
    def first(self) -> str:
        return self.basic.split("/")[0]


def table_rows() -> list[Row]:
    """Every row of the shipped table with a concrete tag; repeating groups instantiated (5000/6000/6002)."""
    raw = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    assert len(raw) == 621
    rows: list[Row] = []
    for index, row in enumerate(raw):
        options = {key: value for key, value in row.items() if key.startswith(("rtn", "clean"))}
        text = row["tag"]
        if text.startswith("(GGGG"):  # private attributes: covered by the private sequence and elements
            continue
        if text == "(50XX,XXXX)":
            tags = [(0x50003000, "OB"), (0x50000005, "US"), (0x50022500, "LO")]
        elif text.startswith("(60XX"):
            element = int(text[6:10], 16)
            tags = [(0x60000000 | element, dictionary_VR(0x60000000 | element)), (0x60020000 | element, None)]
        else:
            tag = int(text[1:5] + text[6:10], 16)
            tags = [(tag, dictionary_VR(tag))]
        for offset, (tag, vr) in enumerate(tags):
            vr = vr or dictionary_VR(0x60000000 | (tag & 0xFFFF))
            vr = "OW" if vr == "OB or OW" else vr
            rows.append(Row(index * 4 + offset, row["name"], tag, vr, row["basicProfile"], options))
    return rows


ROWS = table_rows()
BY_TAG = {row.tag: row for row in ROWS}


def canary(row: Row) -> Any:
    """A value valid for the row's VR that appears nowhere else (text marked CNRY, distinctive numbers)."""
    i, vr = row.index, row.vr
    if vr in ("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"):
        return f"CNRY{i:04d}"
    if vr == "UR":
        return f"http://cnry{i:04d}.example"
    if vr == "DA":
        return (BASE_DATE + datetime.timedelta(days=i)).strftime("%Y%m%d")
    if vr == "TM":
        return f"101010.{i:06d}"
    if vr == "DT":
        return (BASE_DATE + datetime.timedelta(days=i)).strftime("%Y%m%d") + f"101010.{i:06d}"
    if vr == "DS":
        return f"-9{i:04d}.753"
    if vr == "IS":
        return f"-9{i:04d}"
    if vr == "AS":
        return f"{i % 1000:03d}W"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.10.999.{10000 + i}"
    if vr in ("US", "UL"):
        return 0xBEEF
    if vr in ("OB", "OW", "UN"):
        return f"CNRY{i:04d}".encode()
    raise AssertionError(f"no canary for VR {vr} ({row.name})")


def canary_bytes(row: Row) -> bytes | None:
    """What the raw scan looks for (None for sequences: their canaries are the items' own)."""
    if row.vr == "SQ":
        return None
    value = canary(row)
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return value.to_bytes(2, "little")
    return value.encode()


def sequence_item(row: Row, referenced_uid: str) -> Dataset:
    """The item a canary sequence holds: a reference for X/Z/U* rows, otherwise a canary text."""
    item = Dataset()
    if row.tag in REFERENCE_ROWS:
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        item.ReferencedSOPInstanceUID = referenced_uid
    else:
        item[CODE_MEANING] = DataElement(CODE_MEANING, "LO", f"CNRYSQ{row.index:04d}")
    return item


def native(row: Row, referenced_uid: str) -> DataElement:
    if row.vr == "SQ":
        return DataElement(row.tag, "SQ", Sequence([sequence_item(row, referenced_uid)]))
    return DataElement(row.tag, row.vr, canary(row))


def as_un(elem: DataElement) -> RawDataElement:
    """The element as a reader meets an explicit-VR file that wrote it as UN: implicit little-endian bytes."""
    holder = Dataset()
    holder[elem.tag] = elem
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, holder)
    value = fp.getvalue()[8:]  # drop tag and length
    return RawDataElement(BaseTag(elem.tag), "UN", len(value), value, 0, False, True)


def at_top(row: Row) -> bool:
    """dcmwrite refuses command (0000) and file-meta (0002) elements in a dataset: those rows sit in items."""
    return row.tag >> 16 not in (0x0000, 0x0002)


def in_item(row: Row) -> bool:
    return row.tag >> 16 != 0x0002


def make_file(patient_id: str, sop_uid: str, referenced_uid: str, *, un: bool) -> Dataset:
    """A dataset with every row at the top level (natively or as UN), and, natively, every row again in an
    item nested two sequences deep and in a private sequence."""
    ds = Dataset()
    for row in ROWS:
        if at_top(row):
            elem = native(row, referenced_uid)
            ds[row.tag] = as_un(elem) if un else elem
    ds.PatientID = patient_id
    ds.SOPInstanceUID = sop_uid
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.Modality = "OT"
    ds[0x60000010] = DataElement(0x60000010, "US", 512)  # Overlay Rows: not in the table, kept
    if un:  # a kept sequence written as UN, holding rows: walked after conversion
        item = Dataset()
        for row in ROWS[:40]:
            if in_item(row):
                item[row.tag] = native(row, referenced_uid)
        ds[OUTER_SEQ] = as_un(DataElement(OUTER_SEQ, "SQ", Sequence([item])))
    else:
        inner = Dataset()
        private = Dataset()
        for row in ROWS:
            if in_item(row):
                inner[row.tag] = native(row, referenced_uid)
                private[row.tag] = native(row, referenced_uid)
        middle = Dataset()
        middle[INNER_SEQ] = DataElement(INNER_SEQ, "SQ", Sequence([inner]))
        ds[OUTER_SEQ] = DataElement(OUTER_SEQ, "SQ", Sequence([middle]))
        block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
        block.add_new(0x01, "SQ", Sequence([private]))
        ds.private_block(0x0011, PRIVATE_CREATOR, create=True).add_new(0x10, "LO", "CNRYPRIVATELO")
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "CNRYSENDER"
    return ds


def written(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def nested(ds: Dataset) -> Dataset:
    return ds[OUTER_SEQ].value[0][INNER_SEQ].value[0]


PATIENT_A, PATIENT_C = "CNRYPATIENTA", "CNRYPATIENTC"
SOP_A, SOP_B, SOP_C = (f"1.2.826.0.1.3680043.10.998.{n}" for n in (1, 2, 3))


@dataclass
class Canaries:
    before: dict[str, Dataset]
    after: dict[str, Dataset]
    reports: dict[str, Any]
    output: dict[str, bytes]


@pytest.fixture(scope="module")
def seeded() -> Canaries:
    """File A (native rows, nested and private copies), file B (same patient and study, rows as UN, pointing
    at A) and file C (another patient), de-identified with one project's secret."""
    before = {
        "A": make_file(PATIENT_A, SOP_A, SOP_A, un=False),
        "B": make_file(PATIENT_A, SOP_B, SOP_A, un=True),
        "C": make_file(PATIENT_C, SOP_C, SOP_C, un=False),
    }
    # C is a different study of another patient: its study-level UIDs are other originals.
    before["C"].StudyInstanceUID = "1.2.826.0.1.3680043.10.997.1"
    after = {name: copy.deepcopy(ds) for name, ds in before.items()}
    deid = Deidentifier(SECRET)
    reports = {name: deid.apply(ds) for name, ds in after.items()}
    return Canaries(before, after, reports, {name: written(ds) for name, ds in after.items()})


def check_action(row: Row, ds: Dataset, *, top: bool, where: str) -> None:
    action = "U*" if row.tag in REFERENCE_ROWS else row.first
    if action == "X":
        assert row.tag not in ds, f"{row.name} ({where}) should be removed"
        return
    assert row.tag in ds, f"{row.name} ({where}) should be present"
    elem = ds[row.tag]
    assert elem.VR == row.vr, f"{row.name} ({where}) has VR {elem.VR}"
    if top and row.tag in (0x00100010, 0x00100020):
        assert PSEUDONYM.match(str(elem.value)), f"{row.name} ({where}) should be the patient pseudonym"
    elif action == "Z":
        assert elem.is_empty, f"{row.name} ({where}) should be empty"
    elif action == "D" and row.vr == "SQ":
        assert len(elem.value) == 1 and len(elem.value[0]) == 0, f"{row.name} ({where}) dummy item"
    elif action == "D":
        assert not elem.is_empty and elem.value != canary(row), f"{row.name} ({where}) should be a dummy"
        validate_value(row.vr, elem.value, config.RAISE)
    elif action == "U":
        assert UID_PATTERN.match(elem.value) and len(elem.value) <= 64, f"{row.name} ({where}): {elem.value}"
        assert elem.value != canary(row)
    else:  # U*: the sequence stays, the reference inside is remapped
        assert len(elem.value) == 1, f"{row.name} ({where}) should keep its item"


@pytest.mark.parametrize("row", ROWS, ids=[f"{row.tag:08X}" for row in ROWS])
def test_every_row_gets_its_action(seeded: Canaries, row: Row) -> None:
    a, b = seeded.after["A"], seeded.after["B"]
    if not in_item(row):  # (0002,0003) Media Storage SOP Instance UID: follows the SOP Instance UID
        assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID != SOP_A
        assert b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID != SOP_B
        return
    check_action(row, nested(a), top=False, where="nested item")
    if not at_top(row):
        return
    check_action(row, a, top=True, where="top level")
    check_action(row, b, top=True, where="UN element")
    if 0x00090010 not in a:
        assert not any(tag.is_private for tag in a.keys())
    if row.first == "U" and row.tag != 0x00080018:  # one original, one new UID, wherever it sits
        assert a[row.tag].value == nested(a)[row.tag].value == b[row.tag].value


def walk_elements(ds: Dataset) -> Iterator[tuple[Dataset, DataElement | RawDataElement]]:
    """Every element at any depth, without converting values that are not sequences."""
    for elem in list(ds.elements()):
        yield ds, elem
        if elem.VR == "SQ" or (isinstance(elem, RawDataElement) and _is_sequence(elem.tag)):
            converted = ds[elem.tag]
            if converted.VR == "SQ":
                for item in converted.value:
                    yield from walk_elements(item)


def _is_sequence(tag: int) -> bool:
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


def test_no_canary_and_no_private_tag_survive(seeded: Canaries) -> None:
    needles = {canary_bytes(row) for row in ROWS} - {None}
    needles |= {f"CNRYSQ{row.index:04d}".encode() for row in ROWS}
    needles |= {
        PRIVATE_CREATOR.encode(),
        b"CNRYPRIVATELO",
        b"CNRYSENDER",
        PATIENT_A.encode(),
        PATIENT_C.encode(),
    }
    needles |= {SOP_A.encode(), SOP_B.encode(), SOP_C.encode()}
    for name, data in seeded.output.items():
        found = sorted(needle for needle in needles if needle in data)
        assert not found, f"file {name}: canaries left in the written bytes: {found[:5]}"
        ds = seeded.after[name]
        assert not [elem.tag for _, elem in walk_elements(ds) if elem.tag.is_private]
    assert seeded.reports["A"].private_removed == 4  # two creators, one private sequence, one private LO


def test_references_and_study_structure_survive(seeded: Canaries) -> None:
    a, b, c = seeded.after["A"], seeded.after["B"], seeded.after["C"]
    assert a.StudyInstanceUID == b.StudyInstanceUID != c.StudyInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID
    # B's Referenced Image Sequence pointed at A's SOP Instance UID, and still points at A after remapping.
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert (
        a.ReferencedImageSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    )  # well-known: kept
    assert a.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    utc = Dataset()
    utc.SynchronizationFrameOfReferenceUID = "1.2.840.10008.15.1.1"  # a U row holding a well-known UID
    utc.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.996.1"
    Deidentifier(SECRET).apply(utc)
    assert utc.SynchronizationFrameOfReferenceUID == "1.2.840.10008.15.1.1"
    assert utc.FrameOfReferenceUID.startswith("2.25.")
    assert a.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert a.PatientID == b.PatientID != c.PatientID
    assert Deidentifier(SECRET).pseudonymous_patient_key(seeded.before["A"]) == a.PatientID
    assert Deidentifier(SECRET).pseudonymous_patient_key(a) == a.PatientID
    other_project = copy.deepcopy(seeded.before["A"])
    Deidentifier(b"another-project-secret-456789abc").apply(other_project)
    assert other_project.StudyInstanceUID != a.StudyInstanceUID
    assert other_project.PatientID != a.PatientID
    assert a.Modality == "OT" and a[0x60000010].value == 512  # elements the table does not name are kept
    assert "SourceApplicationEntityTitle" not in a.file_meta


def test_output_records_what_was_done(seeded: Canaries) -> None:
    a = seeded.after["A"]
    assert a.PatientIdentityRemoved == "YES"
    assert a.LongitudinalTemporalInformationModified == "REMOVED"
    assert [item.CodeValue for item in a.DeidentificationMethodCodeSequence] == ["113100"]
    assert a.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert "Annex E" in str(a.DeidentificationMethod)
    report = seeded.reports["A"]
    assert min(report.removed, report.emptied, report.dummied, report.uids_replaced) > 0
    assert report.cleaned == 0  # C only comes with an option


def shifted_days(before: str, after: str) -> int:
    return (datetime.date.fromisoformat(after[:8]) - datetime.date.fromisoformat(before[:8])).days


def apply_with(options: DeidOptions, patient_id: str, sop_uid: str = SOP_A) -> tuple[Dataset, Dataset]:
    before = make_file(patient_id, sop_uid, sop_uid, un=False)
    after = copy.deepcopy(before)
    Deidentifier(SECRET, options).apply(after)
    return before, after


def option_rows(column: str) -> list[Row]:
    return [row for row in ROWS if column in row.options and at_top(row)]


def test_retain_device_identity_option() -> None:
    _, after = apply_with(DeidOptions(retain_device_identity=True), PATIENT_A)
    rows = option_rows("rtnDevIdOpt")
    assert len(rows) == 57
    for row in rows:
        value = after[row.tag].value
        if row.options["rtnDevIdOpt"] == "K" and row.vr == "SQ":
            assert value[0][CODE_MEANING].value == f"CNRYSQ{row.index:04d}", row.name
        elif row.options["rtnDevIdOpt"] == "K":
            assert value == canary(row), row.name
        else:  # C on AE titles: a keyed pseudonym, the same for the same original
            assert row.vr == "AE" and value != canary(row) and re.fullmatch(r"ML[0-9A-F]{14}", value), (
                row.name
            )
            assert value == nested(after)[row.tag].value
    assert after["ContentDate"].is_empty  # rows without the option column keep the Basic Profile action
    codes = [item.CodeValue for item in after.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113109"]


def test_retain_patient_characteristics_option() -> None:
    _, after = apply_with(DeidOptions(retain_patient_characteristics=True), PATIENT_A)
    rows = option_rows("rtnPatCharsOpt")
    assert len(rows) == 13
    for row in rows:
        value = after[row.tag].value
        if row.options["rtnPatCharsOpt"] == "K":
            assert value == canary(row), row.name
        else:  # C on free text: replaced by a dummy valid for the VR
            assert value == DUMMY_BY_VR[row.vr] != canary(row), row.name
    assert PSEUDONYM.match(after.PatientID)
    assert [item.CodeValue for item in after.DeidentificationMethodCodeSequence] == ["113100", "113108"]


def test_retain_modified_dates_option_shifts_per_patient() -> None:
    options = DeidOptions(retain_longitudinal_modified_dates=True)
    before, after = apply_with(options, PATIENT_A)
    _, again = apply_with(options, PATIENT_A, SOP_B)  # another file of the same patient
    _, other = apply_with(options, PATIENT_C)
    offsets: set[int] = set()
    for row in option_rows("rtnLongModifDatesOpt"):
        value = after[row.tag].value if row.tag in after else None
        if row.vr in ("DA", "DT"):
            original = canary(row)
            assert value != original and len(value) == len(original), row.name
            validate_value(row.vr, value, config.RAISE)
            offsets.add(shifted_days(original, value))
            assert value[8:] == original[8:]  # DT: time of day and fraction kept
            assert nested(after)[row.tag].value == value  # same patient, same offset at any depth
        elif row.vr == "TM":  # a whole-day shift leaves times of day as they were
            assert value == canary(row), row.name
        else:  # OB timestamps, Timezone Offset From UTC: cannot be shifted, Basic Profile action
            assert (value is None) == (row.first == "X"), row.name
    assert len(offsets) == 1
    offset = offsets.pop()
    assert -3650 <= offset <= -365
    assert shifted_days(before.StudyDate, again.StudyDate) == offset
    assert shifted_days(before.StudyDate, other.StudyDate) != offset
    assert after.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [item.CodeValue for item in after.DeidentificationMethodCodeSequence] == ["113100", "113107"]


def test_dates_option_wins_over_device_identity_for_calibration_dates() -> None:
    options = DeidOptions(retain_longitudinal_modified_dates=True, retain_device_identity=True)
    before, after = apply_with(options, PATIENT_A)
    assert shifted_days(before.DateOfLastCalibration, after.DateOfLastCalibration) < 0
    assert after.DeviceSerialNumber == before.DeviceSerialNumber
    assert [item.CodeValue for item in after.DeidentificationMethodCodeSequence] == [
        "113100",
        "113107",
        "113109",
    ]


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="16 bytes"):
        Deidentifier(b"short")


def test_unparseable_dates_become_dummies_not_originals() -> None:
    ds = Dataset()
    ds.PatientID = "CNRYID"
    ds.AcquisitionDateTime = "2004"  # a DT at year precision
    # An invalid DA as some writers leave them, raw as read (pydicom would warn if it were set as a value).
    ds[0x00080020] = RawDataElement(Tag(0x00080020), "DA", 8, b"CNRYDATE", 0, False, True)
    Deidentifier(SECRET, DeidOptions(retain_longitudinal_modified_dates=True)).apply(ds)
    assert ds.StudyDate == DUMMY_BY_VR["DA"]
    assert len(ds.AcquisitionDateTime) == 4 and int(ds.AcquisitionDateTime) < 2004


# ---- every real file shipped by pydicom and pydicom-data -------------------------------------------------


def readable_files() -> list[str]:
    paths = []
    for path in get_testdata_files():
        if not Path(path).is_file():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not DICOM or unreadable: the dicom plugin quarantines those
            continue
        paths.append(path)
    return paths


REAL_FILES = readable_files()
BASIC_FIRST = {row.tag: row.first for row in ROWS if row.tag not in REFERENCE_ROWS}


def first_action(tag: int) -> str | None:
    if tag >> 16 & 0xFF00 == 0x5000:
        return "X"
    if tag >> 16 & 0xFF00 == 0x6000 and tag & 0xFFFF in (0x3000, 0x4000):
        return "X"
    return BASIC_FIRST.get(tag)


def raw_text(elem: DataElement | RawDataElement | None) -> bytes:
    if elem is None or elem.value is None:
        return b""
    value = elem.value
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")


def compare(before: Dataset, after: Dataset, path: str) -> list[str]:
    """Elements the table marks X/Z/D/U (non-K) whose original non-empty value is still there."""
    problems = []
    for elem in list(before.elements()):
        tag = elem.tag
        if tag.is_private or tag not in after:
            continue
        action = first_action(tag)
        old, new = before[tag], after[tag]
        if old.VR == "SQ" and new.VR == "SQ":
            for index, (item_before, item_after) in enumerate(zip(old.value, new.value, strict=False)):
                problems += compare(item_before, item_after, f"{path}{tag}[{index}]")
            continue
        if action is None or old.is_empty:
            continue
        if old.value == new.value and old.value != DUMMY_BY_VR.get(old.VR):
            problems.append(f"{path}{tag} kept its value ({action})")
    return problems


@pytest.mark.parametrize("path", REAL_FILES, ids=[Path(p).name for p in REAL_FILES])
def test_real_file(path: str) -> None:
    with warnings.catch_warnings():  # pydicom warns about the originals' own defects while reading them
        warnings.simplefilter("ignore")
        before = pydicom.dcmread(path)
        after = copy.deepcopy(before)
        Deidentifier(SECRET).apply(after)
        problems = compare(before, after, "")
        needles = [
            raw_text(before.get_item(tag)).strip(b" \x00") for tag in (0x00100010, 0x00100020, 0x00100030)
        ]
        buffer = io.BytesIO()
        try:
            pydicom.dcmwrite(buffer, after)
        except (
            TypeError
        ):  # implicit-VR data under an explicit transfer syntax (SC_rgb_jpeg.dcm): convert first
            after.walk(lambda _ds, _elem: None)
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, after)
        private = [elem.tag for _, elem in walk_elements(after) if elem.tag.is_private]
    assert not problems
    assert not private
    data = buffer.getvalue()
    assert not [needle for needle in needles if len(needle) >= 3 and needle in data]
    assert after.PatientIdentityRemoved == "YES"
    meta = before.file_meta
    if "SOPInstanceUID" in before and meta.get("MediaStorageSOPInstanceUID") == before.SOPInstanceUID:
        assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
