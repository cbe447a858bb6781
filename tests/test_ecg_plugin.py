"""ECG ingest: DICOM waveforms, WFDB records and CSV → the time-series CSV of the ECG templates, free of PHI."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import neurokit2 as nk
import numpy as np
import pydicom
import pytest
import wfdb
from pydicom.data import get_testdata_file
from wfdb.io.convert.matlab import wfdb_to_mat

from medlabel.samples import ECG_LEADS
from plugins.ingest.base import IngestContext, IngestOptions, Quarantine, SourceFile, TaskDraft
from plugins.ingest.ecg import EcgPlugin
from plugins.ingest.ecg_leads import lead_name
from plugins.ingest.text import TextPlugin

SECRET = b"ecg-test-project-secret-32-bytes"
WAVEFORM = Path(get_testdata_file("waveform_ecg.dcm", download=False))


def _context(media: Path, **options: object) -> IngestContext:
    return IngestContext(
        project_id=7,
        project_secret=SECRET,
        media_dir=media,
        media_url=lambda path: f"/data/local-files/?d=media/{path.relative_to(media)}",
        options=IngestOptions(**options),  # type: ignore[arg-type]
    )


def _file(path: Path, display_name: str | None = None) -> SourceFile:
    return SourceFile(display_name or path.name, path.read_bytes, path.stat().st_size, path)


def _memory(display_name: str, data: bytes) -> SourceFile:
    return SourceFile(display_name, lambda: data, len(data))


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    header = path.read_text().split("\n", 1)[0].split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def _everything_written(media: Path, drafts: list[TaskDraft]) -> str:
    """All text a physician or Label Studio could see: task data, facts, media names and media content."""
    parts = [json.dumps([d.data for d in drafts]), json.dumps([d.facts for d in drafts])]
    for path in media.rglob("*"):
        parts.append(str(path))
        if path.is_file():
            parts.append(path.read_text())
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("raw", "lead"),
    [
        ("Lead I (Einthoven)", "I"),
        ("Lead II", "II"),
        ("MLII", "II"),
        ("ECG II", "II"),
        ("ecg_ii", "II"),
        ("AVR", "aVR"),
        ("aVL", "aVL"),
        ("MDC_ECG_LEAD_aVF", "aVF"),
        ("v1", "V1"),
        ("Lead V6", "V6"),
        ("DIII", "III"),
        ("RESP", None),
        ("ABP", None),
        ("text", None),
        ("V7", None),
    ],
)
def test_lead_names_are_normalised(raw: str, lead: str | None) -> None:
    assert lead_name(raw) == lead


def test_dicom_waveform_becomes_twelve_named_leads_in_mv(tmp_path: Path) -> None:
    plugin = EcgPlugin()
    source = _file(WAVEFORM)
    assert plugin.claims(source)

    [draft] = list(plugin.convert([source], _context(tmp_path)))

    assert isinstance(draft, TaskDraft)
    [csv_path] = draft.media
    header, table = _read_csv(csv_path)
    assert header == ["time", *ECG_LEADS]
    assert draft.data["leads"] == list(ECG_LEADS)
    assert draft.data["csv"] == f"/data/local-files/?d=media/ecg/{csv_path.name}"
    assert draft.data["sampling_rate_hz"] == 1000
    assert draft.data["units"] == "mV"
    assert draft.data["duration_s"] == pytest.approx(10.0)  # the 10 s RHYTHM group, not the 1.2 s median beat
    time = table[:, 0]
    assert np.all(np.diff(time) > 0)
    assert np.diff(time) == pytest.approx(np.full(time.size - 1, 0.001))
    # Stored as 1.25 µV steps: lead I of the source, in µV, must come back divided by 1000.
    source_uv = pydicom.dcmread(WAVEFORM).waveform_array(0)
    assert table[:, 1:] == pytest.approx(source_uv / 1000, abs=1e-4)
    assert np.abs(table[:, 1:]).max() < 5  # physiological mV range, i.e. not µV


def test_dicom_waveform_phi_reaches_no_output(tmp_path: Path) -> None:
    ds = pydicom.dcmread(WAVEFORM)
    originals = [str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate)]
    ds.PatientName = "Canaryhong^Gildong"
    ds.PatientID = "CANARY-PID-4711"
    ds.PatientBirthDate = "19230405"
    ds.InstitutionName = "Canary Memorial Hospital"
    ds.add_new(0x00091010, "LO", "CANARY-PRIVATE")
    ds.private_block(0x0009, "CANARY CREATOR", create=True)
    canary = tmp_path / "src" / "Canaryhong_Gildong_ecg.dcm"
    canary.parent.mkdir()
    ds.save_as(canary, enforce_file_format=True)
    media = tmp_path / "media"

    drafts = list(EcgPlugin().convert([_file(WAVEFORM), _file(canary)], _context(media)))

    assert all(isinstance(d, TaskDraft) for d in drafts)
    written = _everything_written(media, drafts)  # type: ignore[arg-type]
    for secret in (*originals, "Canaryhong", "Gildong", "CANARY", "19230405", "Memorial"):
        assert secret not in written
    # Same signal, different headers: one content key, so the second copy dedupes.
    assert drafts[0].content_key == drafts[1].content_key  # type: ignore[union-attr]


def _write_wfdb(folder: Path, name: str, fs: int = 360) -> np.ndarray:
    leads = nk.ecg_simulate(duration=4, sampling_rate=fs, method="multileads", random_state=11)
    signal = np.column_stack(
        [leads["I"], leads["II"], leads["V1"] * 1000, np.sin(np.arange(len(leads)) / 50)]
    )
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV", "mV", "uV", "mV"],
        sig_name=["Lead I", "MLII", "V1", "RESP"],
        p_signal=signal,
        fmt=["16"] * 4,
        comments=["Name: Canaryhong Gildong", "Age: 67", "Dx: anterior STEMI, Canary Memorial Hospital"],
        base_date=datetime.date(2024, 3, 5),
        base_time=datetime.time(10, 1, 2),
        write_dir=str(folder),
    )
    return signal


def test_wfdb_record_maps_leads_and_drops_header_identifiers(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    signal = _write_wfdb(folder, "canaryhong_gildong")
    plugin = EcgPlugin()
    sources = [_file(folder / "canaryhong_gildong.hea", "export/canaryhong_gildong.hea")]
    sources.append(_file(folder / "canaryhong_gildong.dat", "export/canaryhong_gildong.dat"))
    assert all(plugin.claims(s) for s in sources)
    media = tmp_path / "media"

    [draft] = list(plugin.convert(sources, _context(media)))

    assert isinstance(draft, TaskDraft)
    header, table = _read_csv(draft.media[0])
    assert header == ["time", "I", "II", "V1"]
    assert draft.data["sampling_rate_hz"] == 360
    assert draft.data["duration_s"] == pytest.approx(4.0, abs=0.01)
    assert draft.facts["ignored_channels"] == 1  # RESP
    assert len(draft.source_keys) == 2
    assert np.all(np.diff(table[:, 0]) > 0)  # 1/360 s steps stay distinct after formatting
    assert table[:, 1:] == pytest.approx(signal[:, :3] * [1, 1, 1e-3], abs=2e-3)  # V1 µV → mV
    written = _everything_written(media, [draft])
    for secret in (
        "canaryhong",
        "Canaryhong",
        "Gildong",
        "Age: 67",
        "STEMI",
        "Memorial",
        "2024-03-05",
        "05/03/2024",
        "10:01:02",
    ):
        assert secret not in written


def test_wfdb_matlab_signal_files_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signal = _write_wfdb(tmp_path, "canaryhong", fs=500)
    monkeypatch.chdir(tmp_path)
    wfdb_to_mat("canaryhong")  # writes canaryhongm.hea + canaryhongm.mat into the working directory
    sources = [_file(tmp_path / "canaryhongm.hea"), _file(tmp_path / "canaryhongm.mat")]

    [draft] = list(EcgPlugin().convert(sources, _context(tmp_path / "media")))

    assert isinstance(draft, TaskDraft) and draft.data["leads"] == ["I", "II", "V1"]
    assert _read_csv(draft.media[0])[1][:, 1] == pytest.approx(signal[:, 0], abs=2e-3)


def test_wfdb_halves_without_their_partner_are_quarantined(tmp_path: Path) -> None:
    _write_wfdb(tmp_path, "rec1")
    _write_wfdb(tmp_path, "rec2")
    sources = [_file(tmp_path / "rec1.hea"), _file(tmp_path / "rec2.dat")]

    outcomes = list(EcgPlugin().convert(sources, _context(tmp_path / "media")))

    assert [type(o) for o in outcomes] == [Quarantine, Quarantine]
    assert {o.reason for o in outcomes} == {"wfdb_incomplete"}  # type: ignore[union-attr]
    assert not (tmp_path / "media").exists()


def test_csv_ecg_accepted_and_notes_csv_left_to_the_text_plugin(tmp_path: Path) -> None:
    leads = nk.ecg_simulate(duration=3, sampling_rate=250, method="multileads", random_state=3)
    time = np.arange(len(leads)) / 250
    rows = "\n".join(
        f"{t:.4f},{i * 1000:.1f},{ii * 1000:.1f}"
        for t, i, ii in zip(time, leads["I"], leads["II"], strict=True)
    )
    head = "# Patient: Kimcanary Minsu, 1955-03-05\ntime,Lead I (uV),Lead II (uV)"
    ecg = _memory("holter/kimcanary.csv", f"{head}\n{rows}\n".encode())
    by_fs = _memory(
        "strip.csv", b"# fs=500\nsample,V1,V2\n" + b"\n".join(b"%d,0.1,0.2" % n for n in range(1000))
    )
    notes = _memory("notes.csv", "id,patient_name,text\n1,Hong Gildong,흉통으로 내원\n".encode())
    vitals = _memory("vitals.csv", b"time,abp,ecg_ii,pleth\n0.0,80,0.1,0.5\n")
    ecg_plugin, text_plugin = EcgPlugin(), TextPlugin()

    assert ecg_plugin.claims(ecg) and ecg_plugin.claims(by_fs)
    assert not ecg_plugin.claims(notes) and text_plugin.claims(notes)
    assert not ecg_plugin.claims(vitals) and not text_plugin.claims(vitals)
    first, second = list(ecg_plugin.convert([ecg, by_fs], _context(tmp_path)))

    assert isinstance(first, TaskDraft) and isinstance(second, TaskDraft)
    assert first.data["leads"] == ["I", "II"]
    assert first.data["sampling_rate_hz"] == pytest.approx(250)
    _, table = _read_csv(first.media[0])
    assert table[:, 1] == pytest.approx(leads["I"].to_numpy(), abs=1e-4)  # µV columns → mV
    assert second.data["sampling_rate_hz"] == 500 and second.data["duration_s"] == pytest.approx(2.0)
    assert "anary" not in _everything_written(tmp_path, [first, second])  # comment lines and names dropped
    [refused] = list(ecg_plugin.convert([notes], _context(tmp_path)))
    assert isinstance(refused, Quarantine) and refused.reason == "ecg_unrecognised"


def test_corrupt_files_are_quarantined_while_the_batch_goes_on(tmp_path: Path) -> None:
    whole = WAVEFORM.read_bytes()
    _write_wfdb(tmp_path, "kimcanary")
    dat = tmp_path / "kimcanary.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    sources = [
        _memory("kimcanary_1.dcm", whole[: len(whole) - 40000]),
        _memory("kimcanary_2.dcm", b""),
        _memory("kimcanary_3.csv", b"time,II\n0.0,0.1\n0.002,0.2\n0.001,0.3\n"),
        _memory("kimcanary_4.csv", b"time,II\n0.0,high\n0.002,0.2\n"),
        _file(tmp_path / "kimcanary.hea"),
        _file(dat),
        _file(WAVEFORM),
    ]
    media = tmp_path / "media"

    outcomes = list(EcgPlugin().convert(sources, _context(media)))

    refused = [o for o in outcomes if isinstance(o, Quarantine)]
    accepted = [o for o in outcomes if isinstance(o, TaskDraft)]
    assert len(accepted) == 1 and accepted[0].data["leads"] == list(ECG_LEADS)
    assert [o.reason for o in refused] == ["ecg_corrupt"] * 6  # the WFDB record: its .hea and its .dat
    assert all("kimcanary" not in o.detail for o in refused)  # no file names in details
    assert sorted(p.name for p in (media / "ecg").iterdir()) == [accepted[0].media[0].name]  # no partials


def test_data_key_follows_the_template(tmp_path: Path) -> None:
    [default] = list(EcgPlugin().convert([_file(WAVEFORM)], _context(tmp_path)))
    [custom] = list(EcgPlugin().convert([_file(WAVEFORM)], _context(tmp_path, data_key="ecg")))

    assert "csv" in default.data and "image" not in default.data  # type: ignore[union-attr]
    assert "ecg" in custom.data and "csv" not in custom.data  # type: ignore[union-attr]
