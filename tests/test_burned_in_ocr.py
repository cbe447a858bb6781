"""Burned-in text found by OCR and blacked out, on real ultrasound and secondary-capture files from pydicom and
pydicom-data and on a synthetic set with known strings burned into real pixels. Real tesseract, no mocks."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pydicom
import pytesseract
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from bench.burned_in import INK_BLACK, found, ink_black
from plugins.ingest.base import IngestContext, IngestOptions, Quarantine, SourceFile, TaskDraft, source_key
from plugins.ingest.dicom import ocr, read, render
from plugins.ingest.dicom.plugin import DicomPlugin
from plugins.ingest.dicom.read import REASONS
from tests.fixtures.burned_text import make_set

SECRET = b"burned-in-ocr-test-secret-0123456789"
#: Real files whose pixels carry device text (US, SC/OT), one of each kind of encoding and layout. The 120-frame
#: color3d_jpeg_baseline.dcm is left out: its 120 distinct frames take minutes (bench/burned_in.py measures).
REAL_FILES = (
    "US1_UNCR.dcm",
    "US1_J2KR.dcm",
    "OBXXXX1A.dcm",
    "OBXXXX1A_2frame.dcm",
    "gdcm-US-ALOKA-16.dcm",
    "examples_rgb_color.dcm",
    "examples_palette.dcm",
    "examples_ybr_color.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "GDCMJ2K_TextGBR.dcm",
    "SC_rgb.dcm",
    "color-pl.dcm",
    "SC_rgb_small_odd.dcm",
)
#: Device text in those files, as tesseract reads it from the originals (checked by the first test).
KNOWN_TEXT = {
    "US1_UNCR.dcm": ("BAPTIST", "MSCSKEL"),
    "OBXXXX1A.dcm": ("PHILIPS", "5/25/2011", "Healthcare"),
    "GDCMJ2K_TextGBR.dcm": ("red", "blue"),
}
OCR_REASONS = {"burned_in_text_remains", "ocr_unreadable", "burned_in_text_unlocated"}


def _convert(
    paths: list[Path], media: Path, **options: object
) -> tuple[list[TaskDraft], dict[str, Quarantine]]:
    context = IngestContext(
        project_id=1,
        project_secret=SECRET,
        media_dir=media,
        media_url=lambda p: f"/data/local-files/?d={p.relative_to(media).as_posix()}",
        options=IngestOptions(series_mode="frame", **options),  # type: ignore[arg-type]
    )
    sources = [SourceFile(p.name, p.read_bytes, p.stat().st_size, p) for p in paths]
    names = {source_key(SECRET, p.read_bytes()): p.name for p in paths}
    outcomes = list(DicomPlugin().convert(sources, context))
    drafts = [o for o in outcomes if isinstance(o, TaskDraft)]
    refused = {names[o.source_key]: o for o in outcomes if isinstance(o, Quarantine)}
    return drafts, refused


def _read_back(path: Path) -> str:
    """Everything tesseract reads in a served PNG, through every view the scrubber uses and the plain image."""
    frame = np.asarray(Image.open(path))
    scale = ocr.scale_for(*frame.shape[:2])
    pages = [ocr.prepare(frame, scale, view) for view in range(len(ocr.VIEWS))]
    pages.append(Image.fromarray(frame).convert("L"))
    return "\n".join(pytesseract.image_to_string(p, lang=ocr.LANGUAGES, config=ocr.CONFIG) for p in pages)


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[TaskDraft], dict[str, Quarantine]]:
    return _convert([Path(get_testdata_file(n)) for n in REAL_FILES], tmp_path_factory.mktemp("real"))


def test_the_real_files_carry_text_ocr_can_read(tmp_path: Path) -> None:
    for name, words in KNOWN_TEXT.items():
        ds = pydicom.dcmread(get_testdata_file(name))
        png = tmp_path / f"{name}.png"
        Image.fromarray(render.render(ds, read.decode(ds)).frames[0]).save(png)
        text = _read_back(png)
        assert any(found(w, text) for w in words), (name, text)


def test_real_us_and_sc_files_are_accepted_blacked_out_or_refused_by_name(
    real_batch: tuple[list[TaskDraft], dict[str, Quarantine]],
) -> None:
    drafts, refused = real_batch
    assert {q.reason for q in refused.values()} <= OCR_REASONS and OCR_REASONS <= set(REASONS)
    assert refused["SC_rgb_small_odd.dcm"].reason == "ocr_unreadable"
    # A file OCR still reads confident text in after three passes would be refused; today all but the 3x3
    # one are accepted (12 of 13). The floor leaves room for tesseract versions reading speckle differently.
    assert len(REAL_FILES) - len(refused) >= 10, {n: q.reason for n, q in refused.items()}
    for draft in drafts:
        burned = draft.facts["burned_in"]
        assert 0.0 <= burned["blacked_out_share"] < 0.9  # text-dense screens lose much, never all
        image = np.asarray(Image.open(draft.media[0]))
        for _frame, x, y, width, height in burned["ocr_boxes"]:
            assert (image[y : y + height, x : x + width] == 0).all()
        assert set(draft.review_reasons) <= {"ocr_low_confidence", "burned_in_declared"}
    # the device text of the originals is gone from what Label Studio would serve
    served = "\n".join(_read_back(d.media[0]) for d in drafts)
    for name, words in KNOWN_TEXT.items():
        for word in words:
            assert not found(word, served), (name, word)


def test_synthetic_burned_strings_never_reach_the_served_pngs(tmp_path: Path) -> None:
    burned = make_set(tmp_path / "in", 8, seed=11)
    drafts, refused = _convert([b.path for b in burned], tmp_path / "media")
    by_name = {b.path.name: b for b in burned}
    png_of = {}
    for draft in drafts:
        (name,) = [
            n for n in by_name if source_key(SECRET, by_name[n].path.read_bytes()) in draft.source_keys
        ]
        png_of[name] = draft.media[0]
    assert len(png_of) + len(refused) == len(burned) and len(png_of) >= len(burned) - 1
    strings = removed = 0
    for name, png in png_of.items():
        image, data, text = np.asarray(Image.open(png)), png.read_bytes(), _read_back(png)
        for string in by_name[name].strings:
            strings += 1
            assert string.text.encode() not in data and not found(string.text, text), (name, string.text)
            removed += ink_black(image, string.mask) >= INK_BLACK
        assert "burned_in_declared" in next(d for d in drafts if d.media[0] == png).review_reasons
    # Every string is unreadable in what is served (above); fully inked-over is a stricter measure, at 0.97 on
    # the bench's 40 files and lower on this small set (a faint letter edge outside a box counts as a miss).
    assert removed / strings >= 0.9, f"{removed}/{strings} strings fully blacked out"


def test_a_file_without_text_is_accepted_and_a_declared_one_without_readable_text_is_refused(
    tmp_path: Path,
) -> None:
    ds = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    ds.PixelData = np.full((ds.Rows, ds.Columns, 3), 40, np.uint8).tobytes()  # an empty screen
    ds.save_as(tmp_path / "blank_us.dcm")
    ds.BurnedInAnnotation = "YES"
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".1"
    ds.save_as(tmp_path / "blank_declared.dcm")
    drafts, refused = _convert([tmp_path / "blank_us.dcm", tmp_path / "blank_declared.dcm"], tmp_path / "m")
    assert refused["blank_declared.dcm"].reason == "burned_in_text_unlocated"
    (draft,) = drafts
    assert draft.facts["burned_in"]["blacked_out_share"] == 0.0 and draft.review_reasons == []


def test_regions_are_a_second_layer_over_ocr(tmp_path: Path) -> None:
    region = (10, 5, 60, 30)
    drafts, refused = _convert(
        [Path(get_testdata_file("US1_UNCR.dcm"))], tmp_path / "m", burned_in_regions=(region,)
    )
    assert not refused
    (draft,) = drafts
    image = np.asarray(Image.open(draft.media[0]))
    x, y, w, h = region
    assert (image[y : y + h, x : x + w] == 0).all()
    assert draft.facts["burned_in"]["regions"] == [list(region)] and draft.facts["burned_in"]["ocr_boxes"]


def test_tesseract_failing_or_missing_quarantines_by_name_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [Path(get_testdata_file("US1_UNCR.dcm")), Path(get_testdata_file("CT_small.dcm"))]
    broken = tmp_path / "tesseract"  # answers the language query, then fails on every image, as a crash would
    broken.write_text(
        '#!/bin/sh\nif [ "$1" = "--list-langs" ]; then printf "List\\neng\\nkor\\n"; exit 0; fi\nexit 1\n'
    )
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(broken))
    monkeypatch.setattr(ocr, "_SEEN", ocr._Seen())  # as in a fresh process: nothing read yet
    ocr.unavailable.cache_clear()
    try:
        drafts, refused = _convert(paths, tmp_path / "m1")
        assert refused["US1_UNCR.dcm"].reason == "ocr_failed" and [d.data["modality"] for d in drafts] == [
            "CT"
        ]
        monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "missing"))
        ocr.unavailable.cache_clear()
        drafts, refused = _convert(paths, tmp_path / "m2")
        assert refused["US1_UNCR.dcm"].reason == "ocr_unavailable" and len(drafts) == 1
        assert "tesseract-ocr" in refused["US1_UNCR.dcm"].detail
    finally:
        ocr.unavailable.cache_clear()


def test_a_frame_read_once_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same picture (another encoding of one image, a re-sent series) costs tesseract once per process,
    and the second read gives the same boxes."""
    monkeypatch.setattr(ocr, "_SEEN", ocr._Seen())
    calls: list[int] = []
    tesseract = ocr._read
    monkeypatch.setattr(
        ocr, "_read", lambda frames, scales: calls.append(len(frames)) or tesseract(frames, scales)
    )
    burned = make_set(tmp_path, 1)[0]
    ds = pydicom.dcmread(burned.path)
    frame = render.render(ds, read.decode(ds)).frames[0]
    first = ocr.find_words([frame, frame.copy()])
    second = ocr.find_words([frame])
    assert calls == [1] and first[0] == first[1] == second[0] and first[0]
