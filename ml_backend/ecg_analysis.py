"""ECG analysis for pre-annotation: beats (R peak, QRS extent, AAMI class), rhythm, and one beat's waves.

R peaks come from neurokit2 (`ecg_clean` + `ecg_peaks`, the NeuroKit QRS detector); P/T waves from
neurokit2's wavelet delineator. What neurokit2 does not offer is written here, each piece small:
QRS extent from the spatial velocity of all leads (global onset/offset, as Kligfield 2007 defines them),
beat classes from RR prematurity, QRS width and correlation with the dominant beat, and rhythm from RR
statistics. Scores are heuristic confidences in [0, 1] (distance from the decision thresholds), not
calibrated probabilities.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medlabel.errors import MedlabelError

#: Leads searched for beat timing, best first (lead II shows P and QRS most clearly in most people).
PREFERRED_LEADS = ("II", "ecg_ii", "MLII", "I", "V5", "V1")
#: P-wave deflection / QRS amplitude of the median beat above which P waves count as present (sinus strips
#: measure ~0.14, fibrillatory baselines 0.01-0.065 on the synthetic strips of medlabel.synthetic).
P_WAVE_RATIO = 0.09


class EcgDataError(MedlabelError):
    """The time series is not a readable ECG (missing columns, too short, non-numeric)."""

    code = "ecg_data_error"
    http_status = 400
    exit_code = 2


@dataclass(frozen=True)
class EcgRecord:
    fs: float
    time: np.ndarray
    leads: dict[str, np.ndarray]


@dataclass(frozen=True)
class Beat:
    """A detected beat: times in seconds on the record's time axis, AAMI class N/S/V and its confidence."""

    r_peak: float
    onset: float
    offset: float
    aami: str
    score: float
    #: What the class rests on, for models that learn classes from physicians: QRS width (s), preceding and
    #: following RR relative to the strip's median RR, correlation with the dominant beat.
    features: tuple[float, float, float, float] = (0.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Finding:
    """A suggested statement (rhythm or ectopy pattern) by catalog code, or a wave region with times."""

    code: str
    score: float
    start: float | None = None
    end: float | None = None


@dataclass
class EcgAnalysis:
    beats: list[Beat]
    heart_rate: float | None
    rr_cv: float | None  # of normal-to-normal intervals; None when there are fewer than three
    p_wave_ratio: float | None
    quality: float = 0.0  # how much the beats repeat their shape, 0-1; every score is scaled by it
    rhythm: list[Finding] = field(default_factory=list)
    waves: list[Finding] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def read_ecg_csv(path: Path, time_column: str = "time", sep: str = ",") -> EcgRecord:
    """Read Label Studio's time-series CSV: a numeric time column in seconds plus one column per lead."""
    try:
        frame = pd.read_csv(path, sep=sep)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise EcgDataError(f"not a readable CSV: {exc.__class__.__name__}") from exc
    if time_column not in frame.columns:
        raise EcgDataError(f"the CSV has no time column {time_column!r}")
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    time = numeric[time_column].to_numpy(dtype=np.float64)
    if len(time) < 2 or not np.all(np.diff(time) > 0):
        raise EcgDataError("the time column must be numeric seconds, strictly increasing")
    fs = 1.0 / float(np.median(np.diff(time)))
    if time[-1] - time[0] < 2.0 or fs < 50:
        raise EcgDataError(
            f"need at least 2 s sampled at >= 50 Hz, got {time[-1] - time[0]:.1f} s at {fs:.0f} Hz"
        )
    leads = {
        str(name): numeric[name].interpolate(limit_direction="both").to_numpy(dtype=np.float64)
        for name in frame.columns
        if name != time_column and numeric[name].notna().mean() > 0.9
    }
    if not leads:
        raise EcgDataError("the CSV has no numeric lead column")
    return EcgRecord(fs=fs, time=time, leads=leads)


def timing_lead(available: Sequence[str]) -> str:
    for name in PREFERRED_LEADS:
        if name in available:
            return name
    return available[0]


def _clean(signal: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk  # imported on first use (seconds): paid only by processes that see ECGs

    return np.asarray(nk.ecg_clean(signal, sampling_rate=int(round(fs)), method="neurokit"), dtype=np.float64)


def _r_peaks(cleaned: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    # Reflect one second at each edge so beats near the strip edges are found; peaks in the padding are dropped.
    pad = int(fs)
    padded = np.concatenate([cleaned[pad:0:-1], cleaned, cleaned[-2 : -pad - 2 : -1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(padded, sampling_rate=int(round(fs)), method="neurokit")
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int) - pad
    return peaks[(peaks >= 0) & (peaks < len(cleaned))]


def _qrs_extents(cleaned: Sequence[np.ndarray], peaks: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """Global QRS onset/offset per beat: where the spatial velocity of all leads drops below 8 % of its peak.

    neurokit2's delineators return no QRS boundaries for wide (ventricular) beats, which are the ones whose
    width matters, so this threshold method (the classic spatial-velocity one) is written out here.
    """
    velocity = np.sqrt(sum(np.gradient(lead) ** 2 for lead in cleaned))
    window = max(1, int(0.008 * fs))
    velocity = np.convolve(velocity, np.ones(window) / window, mode="same")
    floor = float(np.median(velocity))
    hold = max(1, int(0.012 * fs))  # the velocity must stay low this long: bridges the dip between R and S
    extents = []
    for peak in peaks:
        reach = int(0.06 * fs)
        before = velocity[max(0, peak - reach) : peak + 1]
        after = velocity[peak : peak + reach]
        top = float(max(before.max(), after.max()))
        threshold = floor + 0.08 * (top - floor)
        onset = max(0, peak - reach) + int(np.argmax(before))
        limit = max(0, peak - int(0.15 * fs))
        while onset > limit and velocity[max(0, onset - hold) : onset].max(initial=0) > threshold:
            onset -= 1
        offset = peak + int(np.argmax(after))
        limit = min(len(velocity) - 1, peak + int(0.2 * fs))
        while offset < limit and velocity[offset + 1 : offset + 1 + hold].max(initial=0) > threshold:
            offset += 1
        extents.append((onset, offset))
    return extents


def _windows(
    signal: np.ndarray, peaks: np.ndarray, fs: float, before_s: float = 0.25, after_s: float = 0.4
) -> np.ndarray:
    before, after = int(before_s * fs), int(after_s * fs)
    padded = np.pad(signal, (before, after), mode="edge")
    return np.stack([padded[p : p + before + after] for p in peaks])


def _correlations(windows: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Correlation of each beat with the dominant (narrowest-cluster) beat's median shape.

    Callers pass QRS-centred windows: a premature beat's window would otherwise include the previous T wave.
    """
    reference = np.percentile(widths, 25)
    template = np.median(windows[widths <= reference + 0.02], axis=0)
    centred = windows - windows.mean(axis=1, keepdims=True)
    t = template - template.mean()
    denom = np.linalg.norm(centred, axis=1) * np.linalg.norm(t) + 1e-12
    return (centred @ t) / denom


def _p_wave_ratio(signal: np.ndarray, peaks: np.ndarray, fs: float, normal: np.ndarray) -> float | None:
    """P-wave prominence of the median `normal` beat: the PR-window deflection relative to its QRS amplitude."""
    if normal.sum() < 2:
        return None
    beats = _windows(signal, peaks[normal], fs)
    median = np.median(beats, axis=0)
    r = int(0.25 * fs)
    pr = median[r - int(0.25 * fs) : r - int(0.07 * fs)]
    baseline = median[: int(0.02 * fs)].mean()
    qrs = np.ptp(median[r - int(0.05 * fs) : r + int(0.05 * fs)]) + 1e-9
    return float(np.max(np.abs(pr - baseline)) / qrs)


def _classify(
    peaks: np.ndarray, widths: np.ndarray, correlation: np.ndarray, fs: float, irregular: bool
) -> list[tuple[str, float]]:
    """AAMI class per beat from QRS width, shape and prematurity (see module docstring)."""
    rr = np.diff(peaks) / fs
    median_rr = float(np.median(rr)) if len(rr) else 1.0
    classes = []
    for i in range(len(peaks)):
        wide = _sigmoid((widths[i] * 1000 - 125) / 8)
        different = _sigmoid((0.8 - correlation[i]) / 0.05)
        premature = _sigmoid((0.88 - rr[i - 1] / median_rr) / 0.03) if i > 0 else 0.0
        p_v = wide * max(different, premature)
        p_s = 0.0 if irregular else (1 - wide) * premature * (1 - different)
        p_n = max(0.0, 1 - p_v - p_s)
        label, prob = max((("N", p_n), ("V", p_v), ("S", p_s)), key=lambda item: item[1])
        classes.append((label, float(prob)))
    return classes


def _rhythm(beats: list[Beat], rate: float, cv: float | None, p_ratio: float | None) -> list[Finding]:
    """Rhythm statements (catalog codes) from rate, NN-interval variability and P-wave presence."""
    p_present = 0.5 if p_ratio is None else _sigmoid((p_ratio - P_WAVE_RATIO) / 0.015)
    af = 0.3 if cv is None else _sigmoid((cv - 0.09) / 0.015) * (0.5 + 0.5 * (1 - p_present))
    findings: list[Finding] = []
    if af >= 0.5:
        findings.append(Finding("atrial_fibrillation", af))
    else:
        regular = 1 - af
        if rate < 60:
            findings.append(Finding("sinus_bradycardia", regular * p_present * _sigmoid((60 - rate) / 3)))
        elif rate > 100:
            findings.append(Finding("sinus_tachycardia", regular * p_present * _sigmoid((rate - 100) / 3)))
        else:
            margin = min(rate - 60, 100 - rate)
            findings.append(Finding("sinus_rhythm", regular * p_present * _sigmoid(margin / 3)))
    classes = "".join(b.aami for b in beats)
    v_scores = [b.score for b in beats if b.aami == "V"]
    if v_scores:
        ectopy = float(np.mean(v_scores))
        findings.append(Finding("pvc", ectopy))
        runs = [len(run) for run in classes.replace("N", " ").replace("S", " ").split()]
        if max(runs) >= 3:
            findings.append(Finding("nsvt", ectopy))
        elif 2 in runs:
            findings.append(Finding("ventricular_couplet", ectopy))
        if "NVNVNV" in classes:
            findings.append(Finding("ventricular_bigeminy", ectopy))
        elif "NNVNNVNNV" in classes:
            findings.append(Finding("ventricular_trigeminy", ectopy))
    s_scores = [b.score for b in beats if b.aami == "S"]
    if s_scores:
        findings.append(Finding("pac", float(np.mean(s_scores))))
    return findings


def _waves(
    cleaned: np.ndarray, peaks: np.ndarray, beats: list[Beat], time: np.ndarray, fs: float
) -> list[Finding]:
    """P wave, QRS, T wave, PR and QT of one representative normal beat; P/T only where the delineator found them."""
    import neurokit2 as nk

    candidates = [i for i in range(1, len(beats) - 1) if beats[i].aami == "N" and beats[i - 1].aami == "N"]
    if not candidates:
        return []
    rr = np.diff(peaks)
    median_rr = np.median(rr)
    index = min(candidates, key=lambda i: abs(rr[i - 1] - median_rr))
    beat = beats[index]
    findings = [Finding("qrs_complex", beat.score, beat.onset, beat.offset)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, waves = nk.ecg_delineate(cleaned, peaks, sampling_rate=int(round(fs)), method="dwt")
        except (ValueError, IndexError, ZeroDivisionError):
            return findings

    def at(key: str) -> float | None:
        value = waves.get(key, [math.nan] * len(peaks))[index]
        return None if value is None or math.isnan(value) else float(time[int(value)])

    p_on, p_off, t_on, t_off = (
        at("ECG_P_Onsets"),
        at("ECG_P_Offsets"),
        at("ECG_T_Onsets"),
        at("ECG_T_Offsets"),
    )
    if p_on is not None and p_off is not None and p_on < p_off <= beat.onset and beat.onset - p_on < 0.35:
        findings.append(Finding("p_wave", 0.6, p_on, p_off))
        findings.append(Finding("pr_interval", 0.6, p_on, beat.onset))
    if t_on is not None and t_off is not None and beat.offset <= t_on < t_off and t_off - beat.onset < 0.6:
        findings.append(Finding("t_wave", 0.6, t_on, t_off))
        findings.append(Finding("qt_interval", 0.6, beat.onset, t_off))
    return findings


def analyse(record: EcgRecord, leads: Sequence[str] | None = None, waves: bool = False) -> EcgAnalysis:
    """Detect and classify beats on `leads` (default: all), suggest rhythms; `waves` adds one beat's waves."""
    names = [name for name in (leads or record.leads) if name in record.leads]
    if not names:
        raise EcgDataError(
            f"none of the leads {list(leads or [])} is in the CSV (it has {list(record.leads)})"
        )
    fs = record.fs
    cleaned = {name: _clean(record.leads[name], fs) for name in names}
    primary = timing_lead(names)
    peaks = _r_peaks(cleaned[primary], fs)
    if len(peaks) < 2:
        return EcgAnalysis(beats=[], heart_rate=None, rr_cv=None, p_wave_ratio=None)
    extents = _qrs_extents(list(cleaned.values()), peaks, fs)
    last = len(record.time) - 1
    keep = np.array([on > 0 and off < last for on, off in extents])  # beats cut by the strip edge
    peaks = peaks[keep]
    extents = [e for e, k in zip(extents, keep, strict=True) if k]
    if len(peaks) < 2:
        return EcgAnalysis(beats=[], heart_rate=None, rr_cv=None, p_wave_ratio=None)
    widths = np.array([(off - on) / fs for on, off in extents])
    correlation = _correlations(_windows(cleaned[primary], peaks, fs, 0.1, 0.15), widths)
    # Strip quality: real beats repeat their shape (even in bigeminy most beats match the dominant one), noise
    # does not. Scores are scaled by it, and a strip with no repeating beat gets no pre-annotation at all.
    # Fewer than seven beats (< 42 bpm over 10 s) make a poor template, so they cap the quality too.
    quality = float(np.clip((np.percentile(correlation, 75) - 0.5) / 0.3, 0.0, 1.0))
    quality *= min(1.0, max(0, len(peaks) - 3) / 4)
    if quality == 0.0:
        return EcgAnalysis(beats=[], heart_rate=None, rr_cv=None, p_wave_ratio=None)
    rr = np.diff(peaks) / fs
    # Rhythm regularity. With P waves (sinus), premature beats are ectopics: regularity is judged on the
    # intervals between normal-shaped, non-premature beats (an interval ending in an ectopic beat is its
    # coupling, one starting there its pause). Without P waves, every interval between normal-shaped beats
    # counts: short intervals are the irregularity of atrial fibrillation, not ectopy.
    shape_normal = (correlation > 0.8) & (widths < 0.125)
    premature = np.concatenate([[False], rr / np.median(rr) < 0.88])
    regular_beat = shape_normal & ~premature
    p_ratio = _p_wave_ratio(cleaned[primary], peaks, fs, regular_beat)
    sinus_like = p_ratio is not None and p_ratio > P_WAVE_RATIO
    counted = regular_beat if sinus_like else shape_normal
    nn = rr[counted[1:] & counted[:-1]]
    cv = float(np.std(nn) / np.mean(nn)) if len(nn) >= 3 else None  # e.g. bigeminy has no N-N pairs
    classes = _classify(peaks, widths, correlation, fs, irregular=cv is not None and cv > 0.09)
    ratio = np.concatenate([[1.0], rr / np.median(rr), [1.0]])
    beats = [
        Beat(
            float(record.time[p]),
            float(record.time[on]),
            float(record.time[off]),
            label,
            score * quality,
            (float(widths[i]), float(ratio[i]), float(ratio[i + 1]), float(correlation[i])),
        )
        for i, (p, (on, off), (label, score)) in enumerate(zip(peaks, extents, classes, strict=True))
    ]
    rate = 60.0 * (len(peaks) - 1) / ((peaks[-1] - peaks[0]) / fs)
    analysis = EcgAnalysis(beats=beats, heart_rate=rate, rr_cv=cv, p_wave_ratio=p_ratio, quality=quality)
    if len(beats) >= 4:
        analysis.rhythm = [
            Finding(f.code, f.score * quality, f.start, f.end) for f in _rhythm(beats, rate, cv, p_ratio)
        ]
    if waves:
        analysis.waves = _waves(cleaned[primary], peaks, beats, record.time, fs)
    return analysis
