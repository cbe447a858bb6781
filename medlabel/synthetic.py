"""Labelled synthetic data with known truth, for measuring pre-annotation honestly (tests and `bench/`).

ECGs are built beat by beat from Gaussian waves (the ECGSYN morphology model of McSharry et al. 2003,
written out here so every beat's time, QRS extent and class is known by construction rather than
recovered by a detector). Clinical notes are assembled from phrase templates whose entity spans are
recorded while the text is written, so the truth never comes from the rules being measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medlabel.tables import csv_writer

# ------------------------------------------------------------------ ECG


@dataclass(frozen=True)
class TrueBeat:
    """One placed beat: R peak and QRS extent in seconds, AAMI class ("N" or "V")."""

    r_peak: float
    qrs_onset: float
    qrs_offset: float
    aami: str


@dataclass(frozen=True)
class SyntheticEcg:
    """A strip: sampling rate, time axis, leads in mV, the placed beats and the rhythm it was built as."""

    fs: int
    time: np.ndarray
    leads: dict[str, np.ndarray]
    beats: list[TrueBeat]
    rhythm: str  # "sinus_rhythm" | "atrial_fibrillation"
    heart_rate: float

    @property
    def rhythm_code(self) -> str:
        """The underlying rhythm statement a reader would give (catalog code), ectopy aside."""
        if self.rhythm == "atrial_fibrillation":
            return "atrial_fibrillation"
        if self.heart_rate < 60:
            return "sinus_bradycardia"
        return "sinus_tachycardia" if self.heart_rate > 100 else "sinus_rhythm"

    def beat_regions(
        self, labels: Mapping[str, str], control: str = "beats", to_name: str = "ts"
    ) -> list[dict[str, Any]]:
        """The regions a physician would draw: each beat's QRS with its AAMI class (`labels`: code → value)."""
        return [
            {"from_name": control, "to_name": to_name, "type": "timeserieslabels",
             "value": {"start": b.qrs_onset, "end": b.qrs_offset, "instant": False,
                       "timeserieslabels": [labels[f"aami_{b.aami.lower()}"]]}}
            for b in self.beats
        ]  # fmt: skip

    def beats_found(
        self, result: list[dict[str, Any]], labels: Mapping[str, str], control: str = "beats"
    ) -> int:
        """How many placed beats a predicted region of the right class covers at the R peak."""
        return sum(
            any(
                r["value"]["start"] <= beat.r_peak <= r["value"]["end"]
                and r["value"]["timeserieslabels"] == [labels[f"aami_{beat.aami.lower()}"]]
                for r in result
                if r["from_name"] == control
            )
            for beat in self.beats
        )

    def write_csv(self, target: Path) -> Path:
        """Write the Label Studio time-series layout (`time` + one column per lead, like samples.py)."""
        names = list(self.leads)
        with target.open("w", newline="") as handle:
            writer = csv_writer(handle)
            writer.writerow(["time", *names])
            for index, t in enumerate(self.time):
                writer.writerow([f"{t:.6f}", *(f"{self.leads[n][index]:.4f}" for n in names)])
        return target


# (amplitude mV, centre s relative to R, width s) per wave; lead V1 flips the QRS like a right precordial lead.
_NORMAL_WAVES = {
    "P": (0.15, -0.16, 0.022),
    "Q": (-0.12, -0.028, 0.009),
    "R": (1.1, 0.0, 0.011),
    "S": (-0.3, 0.028, 0.010),
}
_VENTRICULAR_WAVES = {"R": (1.4, 0.0, 0.035), "S": (-0.6, 0.075, 0.03)}
_NORMAL_QRS = (-0.05, 0.05)  # onset/offset relative to R: the Q and S waves' ±2 widths
_VENTRICULAR_QRS = (-0.09, 0.14)


def _gauss(t: np.ndarray, amplitude: float, centre: float, width: float) -> np.ndarray:
    return amplitude * np.exp(-(((t - centre) / width) ** 2) / 2)


def synthetic_ecg(
    rhythm: str = "sinus_rhythm",
    heart_rate: float = 72.0,
    duration: float = 10.0,
    fs: int = 500,
    pvc_every: int = 0,
    pac_every: int = 0,
    bbb_every: int = 0,
    noise: float = 0.02,
    seed: int = 0,
) -> SyntheticEcg:
    """A lead II + V1 strip with beats at known times.

    `rhythm="atrial_fibrillation"` draws RR intervals independently (coefficient of variation ~0.2), drops
    P waves and adds fibrillatory baseline; sinus rhythms vary RR by 2 %. `pvc_every=k` makes every k-th
    beat a premature ventricular beat (coupling 60 % of RR, wide QRS, no P, inverted T, compensatory pause);
    `pac_every=k` makes every k-th beat a premature atrial beat (coupling 70 %, normal QRS and P, no full
    compensatory pause). `bbb_every=k` gives every k-th beat an intermittent bundle-branch-block QRS: as wide
    and as differently shaped as a PVC, but on time and after its P wave, so AAMI class N. PVCs take
    precedence where several fall on one beat, then PACs.
    """
    rng = np.random.default_rng(seed)
    rr_mean = 60.0 / heart_rate
    time = np.arange(int(duration * fs)) / fs
    lead_ii = np.zeros_like(time)
    lead_v1 = np.zeros_like(time)
    beats: list[TrueBeat] = []
    t = -rng.uniform(0.3, 1.0)  # beats run on past both edges, as in a strip cut from a longer record
    index = 0
    while t < duration + 1.0:
        index += 1
        ventricular = pvc_every > 0 and index % pvc_every == 0
        atrial = not ventricular and pac_every > 0 and index % pac_every == 0
        blocked = not ventricular and not atrial and bbb_every > 0 and index % bbb_every == 0
        if ventricular:
            waves = dict(_VENTRICULAR_WAVES)
        elif blocked:
            waves = {"P": _NORMAL_WAVES["P"], **_VENTRICULAR_WAVES}
        else:
            waves = dict(_NORMAL_WAVES)
        if rhythm == "atrial_fibrillation":
            waves.pop("P", None)
        for name, (amplitude, centre, width) in waves.items():
            lead_ii += _gauss(time, amplitude, t + centre, width)
            v1_amplitude = amplitude if ventricular or blocked or name == "P" else -0.6 * amplitude
            lead_v1 += _gauss(time, v1_amplitude, t + centre, width)
        qt = 0.4 * np.sqrt(rr_mean)  # Bazett-like T-wave timing
        t_amplitude = -0.35 if ventricular else 0.3
        lead_ii += _gauss(time, t_amplitude, t + qt * 0.75, 0.045)
        lead_v1 += _gauss(time, t_amplitude * 0.5, t + qt * 0.75, 0.045)
        onset, offset = _VENTRICULAR_QRS if ventricular or blocked else _NORMAL_QRS
        if t + onset >= 0 and t + offset <= time[-1]:  # a beat cut by the strip edge is not labelled
            beats.append(
                TrueBeat(
                    round(t, 4),
                    round(t + onset, 4),
                    round(t + offset, 4),
                    "V" if ventricular else "S" if atrial else "N",
                )
            )
        if rhythm == "atrial_fibrillation":
            rr = rr_mean * float(np.clip(rng.normal(1.0, 0.2), 0.55, 1.6))
        else:
            rr = rr_mean * float(rng.normal(1.0, 0.02))
        next_is_pvc = pvc_every > 0 and (index + 1) % pvc_every == 0
        next_is_pac = not next_is_pvc and pac_every > 0 and (index + 1) % pac_every == 0
        if next_is_pvc:
            rr = rr_mean * 0.6
        elif next_is_pac:
            rr = rr_mean * 0.7
        elif ventricular:
            rr = rr_mean * 1.4  # compensatory pause
        elif atrial:
            rr = rr_mean * 1.1  # the sinus node is reset: a less than compensatory pause
        t += rr
    if rhythm == "atrial_fibrillation":
        f_waves = (
            0.05
            * np.sin(2 * np.pi * 6.0 * time + rng.uniform(0, 2 * np.pi))
            * (1 + 0.3 * rng.standard_normal())
        )
        lead_ii += f_waves
        lead_v1 += 1.5 * f_waves
    wander = 0.1 * np.sin(2 * np.pi * 0.25 * time + rng.uniform(0, 2 * np.pi))
    lead_ii += wander + rng.normal(0, noise, time.size)
    lead_v1 += wander + rng.normal(0, noise, time.size)
    return SyntheticEcg(fs, time, {"II": lead_ii, "V1": lead_v1}, beats, rhythm, heart_rate)


# ------------------------------------------------------------------ clinical notes


@dataclass(frozen=True)
class TrueSpan:
    start: int
    end: int
    text: str
    code: str  # entity label code of the clinical_ner_relations template


@dataclass
class SyntheticNote:
    text: str = ""
    spans: list[TrueSpan] = field(default_factory=list)

    def add(self, piece: str, code: str | None = None) -> None:
        if code is not None:
            self.spans.append(TrueSpan(len(self.text), len(self.text) + len(piece), piece, code))
        self.text += piece


# Vocabularies: some of these words are in the rule dictionaries, some deliberately are not, so that
# learning from physicians' spans has something to add.
_DRUGS = (
    "furosemide", "metformin", "amlodipine", "aspirin", "atorvastatin", "bisoprolol", "warfarin",
    "apixaban", "omeprazole", "vancomycin", "ceftriaxone", "insulin glargine", "empagliflozin",
    "spironolactone", "nitroglycerin", "rivaroxaban", "tamsulosin", "levothyroxine", "febuxostat",
    "finasteride", "colchicine", "levetiracetam", "mirtazapine",
)  # fmt: skip
_KOREAN_DRUGS = ("아스피린", "메트포르민", "암로디핀", "푸로세미드", "와파린", "아토르바스타틴")
_ROUTES = ("PO", "IV", "SC", "IM", "po", "경구")
_FREQUENCIES = (
    "bid",
    "tid",
    "qd",
    "once daily",
    "twice daily",
    "q8h",
    "prn",
    "1일 2회",
    "1일 1회",
    "하루 3번",
)
_UNITS = ("mg", "mcg", "g", "units", "mEq")
_PROBLEMS = (
    "hypertension", "type 2 diabetes mellitus", "atrial fibrillation", "pneumonia", "heart failure",
    "chronic kidney disease", "COPD", "cellulitis", "urinary tract infection", "hypokalemia", "anemia",
    "gastroesophageal reflux", "hyperlipidemia", "deep vein thrombosis", "hypothyroidism", "sepsis",
    "dyspnea", "chest pain", "leg edema", "fever", "gout", "osteoarthritis", "benign prostatic hyperplasia",
    "peptic ulcer", "pancreatitis", "atrial flutter",
)  # fmt: skip
_KOREAN_PROBLEMS = ("고혈압", "당뇨병", "폐렴", "심부전", "빈혈")
_LABS = (("Hb", "g/dL", 8.0, 15.0), ("Cr", "mg/dL", 0.6, 3.0), ("K", "mmol/L", 2.9, 5.5),
         ("Na", "mmol/L", 128, 145), ("WBC", "x10^3/uL", 3.0, 18.0), ("CRP", "mg/L", 1, 150),
         ("HbA1c", "%", 5.5, 11.0), ("BNP", "pg/mL", 50, 3000))  # fmt: skip
_CONNECT = ("He was started on ", "Continue ", "Patient takes ", "Discharged on ", "투약: ", "Switched to ")
_HISTORY = ("History of ", "Known ", "Admitted for ", "과거력: ", "Diagnosed with ", "Treated for ")


def synthetic_note(seed: int, vocabulary: str = "all") -> SyntheticNote:
    """A short discharge-summary-like note with medication lines, diagnoses, labs and vitals.

    `vocabulary="train"` never uses every third drug and problem name, so notes made with "all" contain
    names a model fitted on "train" notes has never seen (measuring generalisation, not memory).
    """
    rng = np.random.default_rng(seed)
    drugs = _DRUGS if vocabulary == "all" else _DRUGS[1::3] + _DRUGS[2::3]
    problems = _PROBLEMS if vocabulary == "all" else _PROBLEMS[1::3] + _PROBLEMS[2::3]

    def pick(options: Sequence[str]) -> str:
        return str(options[rng.integers(len(options))])

    note = SyntheticNote()
    for _ in range(rng.integers(1, 3)):
        note.add(pick(_HISTORY))
        note.add(pick(_KOREAN_PROBLEMS if rng.random() < 0.2 else problems), "problem")
        note.add(" and ")
        note.add(pick(problems), "problem")
        note.add(". ")
    for _ in range(rng.integers(2, 4)):
        note.add(pick(_CONNECT))
        note.add(pick(_KOREAN_DRUGS if rng.random() < 0.25 else drugs), "medication")
        note.add(" ")
        dose = pick(("10", "20", "40", "500", "1.25", "5", "100", "1000"))
        note.add(f"{dose} {pick(_UNITS)}", "strength")
        note.add(" ")
        note.add(pick(_ROUTES), "route")
        note.add(" ")
        note.add(pick(_FREQUENCIES), "frequency")
        note.add(". ")
    note.add("Labs: ")
    for i, lab_index in enumerate(rng.choice(len(_LABS), size=3, replace=False)):
        name, unit, low, high = _LABS[lab_index]
        if i:
            note.add(", ")
        note.add(name, "test")
        note.add(" ")
        note.add(f"{rng.uniform(low, high):.1f} {unit}", "lab_value")
    note.add(". Vitals: ")
    note.add("BP", "test")
    note.add(" ")
    note.add(f"{rng.integers(95, 170)}/{rng.integers(55, 100)}", "lab_value")
    note.add(", ")
    note.add("HR", "test")
    note.add(" ")
    note.add(f"{rng.integers(48, 130)}", "lab_value")
    note.add(", ")
    note.add("SpO2", "test")
    note.add(" ")
    note.add(f"{rng.integers(88, 100)}%", "lab_value")
    note.add(".")
    return note
