"""Agreement of the ECG and clinical-text pre-annotations with truth built independently of the models.

Used by `bench.preannotate` (see its docstring for how each truth is built and what "work saved" means).
Everything here runs in-process: no server, no Label Studio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from config_templates import Overrides, get_template
from medlabel.synthetic import SyntheticEcg, synthetic_ecg, synthetic_note

UNDERLYING_RHYTHMS = {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia", "atrial_fibrillation"}


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def ecg_agreement(strips: list[SyntheticEcg]) -> dict[str, float]:
    from ml_backend.ecg_analysis import EcgRecord, analyse

    tp = fp = fn = accepted = true_total = rhythm_ok = 0
    for ecg in strips:
        analysis = analyse(EcgRecord(ecg.fs, ecg.time, ecg.leads))
        unmatched = list(ecg.beats)
        for beat in analysis.beats:
            near = min(unmatched, key=lambda b: abs(b.r_peak - beat.r_peak), default=None)
            if near is not None and abs(near.r_peak - beat.r_peak) <= 0.075:
                unmatched.remove(near)
                tp += 1
                good = (
                    near.aami == beat.aami
                    and _iou((beat.onset, beat.offset), (near.qrs_onset, near.qrs_offset)) >= 0.5
                )
                accepted += good
            else:
                fp += 1
        fn += len(unmatched)
        true_total += len(ecg.beats)
        rhythms = [f for f in analysis.rhythm if f.code in UNDERLYING_RHYTHMS]
        best = max(rhythms, key=lambda f: f.score, default=None)
        rhythm_ok += best is not None and best.code == ecg.rhythm_code
    return {
        "beat_f1": 2 * tp / (2 * tp + fp + fn),
        "accepted": accepted / true_total,
        "work_saved": 1 - ((true_total - accepted) + (tp + fp - accepted)) / true_total,
        "rhythm_accuracy": rhythm_ok / len(strips),
        "strips": len(strips),
        "beats": true_total,
    }


def ecgsyn_f1(count: int) -> float:
    import neurokit2 as nk
    from scipy.signal import find_peaks

    from ml_backend.ecg_analysis import EcgRecord, analyse

    tp = fp = fn = 0
    for i in range(count):
        kwargs = {
            "duration": 10,
            "sampling_rate": 500,
            "heart_rate": 50 + 7 * i,
            "method": "ecgsyn",
            "random_state": i,
        }
        clean = np.asarray(nk.ecg_simulate(noise=0, **kwargs))
        noisy = np.asarray(nk.ecg_simulate(noise=0.1, **kwargs))
        peaks, _ = find_peaks(clean, height=0.5 * clean.max(), distance=125)
        truth = [p / 500 for p in peaks if 75 < p < len(clean) - 100]
        found = [b.r_peak for b in analyse(EcgRecord(500, np.arange(len(noisy)) / 500, {"II": noisy})).beats]
        for t in found:
            near = min(truth, key=lambda u: abs(u - t), default=None)
            if near is not None and abs(near - t) <= 0.075:
                truth.remove(near)
                tp += 1
            else:
                fp += 1
        fn += len(truth)
    return 2 * tp / (2 * tp + fp + fn)


def beat_learning_agreement(root: Path, train: int, test: int) -> tuple[float, float]:
    """Beat class accuracy on strips with intermittent bundle-branch-block beats (AAMI N, but wide like PVCs),
    rules only and after fitting on `train` annotated strips (truth as the physicians' regions)."""
    from ml_backend.model import MedlabelBackend

    xml = get_template("ecg_rhythm_strip_beats").render(Overrides(language="en")).xml
    values = {e.code: e.en for e in get_template("ecg_rhythm_strip_beats").labelsets["beats"]}
    model = MedlabelBackend(label_config=xml, project="992.0", model_dir=root / "models-beats")

    def strip(seed: int) -> tuple[dict[str, Any], SyntheticEcg]:
        ecg = synthetic_ecg(heart_rate=60 + seed % 30, bbb_every=3, pvc_every=5, seed=seed)
        # in-process, label-studio-ml resolves local-files URLs against its default document root "/"
        path = ecg.write_csv(root / f"bbb_{seed}.csv")
        return {"id": seed, "data": {"csv": f"/data/local-files/?d={str(path).lstrip('/')}"}}, ecg

    held_out = [strip(20_000 + i) for i in range(test)]

    def accuracy() -> float:
        predictions = model.predict([t for t, _ in held_out])
        found = sum(
            ecg.beats_found(p["result"], values) for p, (_, ecg) in zip(predictions, held_out, strict=True)
        )
        return found / sum(len(ecg.beats) for _, ecg in held_out)

    before = accuracy()
    annotated = []
    for task, ecg in (strip(21_000 + i) for i in range(train)):
        annotated.append((task, {"id": task["id"], "result": ecg.beat_regions(values)}))
    model.fit_annotations(annotated, replace=False)
    return before, accuracy()


def ner_agreement(model_dir: Path, train: int, test: int) -> dict[str, float]:
    from ml_backend.model import MedlabelBackend

    xml = get_template("clinical_ner_relations").render(Overrides(language="en")).xml
    values = {e.code: e.en for e in get_template("clinical_ner_relations").labelsets["entities"]}
    model = MedlabelBackend(label_config=xml, project="990.0", model_dir=model_dir)
    held_out = [synthetic_note(10_000 + i) for i in range(test)]
    tasks = [{"id": 10_000 + i, "data": {"text": n.text}} for i, n in enumerate(held_out)]
    truth = {(i, s.start, s.end, values[s.code]) for i, n in enumerate(held_out) for s in n.spans}

    def score() -> tuple[float, float]:
        found = {
            (i, r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
            for i, p in enumerate(model.predict(tasks))
            for r in p["result"]
        }
        tp = len(found & truth)
        return 2 * tp / (len(found) + len(truth)), 1 - (len(truth - found) + len(found - truth)) / len(truth)

    before = score()
    notes = [synthetic_note(i, vocabulary="train") for i in range(train)]
    model.fit_annotations(
        [
            ({"id": i, "data": {"text": n.text}}, {"id": i, "result": [
                {"from_name": "entities", "to_name": "text", "type": "labels",
                 "value": {"start": s.start, "end": s.end, "text": s.text, "labels": [values[s.code]]}}
                for s in n.spans]})
            for i, n in enumerate(notes)
        ],
        replace=False,
    )  # fmt: skip
    after = score()
    return {"f1_before": before[0], "f1_after": after[0], "saved_before": before[1], "saved_after": after[1]}
