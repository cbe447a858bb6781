"""ECG and clinical-text pre-annotation: detection against known truth, predictions valid for the real templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.label_interface import LabelInterface
from scipy.signal import find_peaks

from config_templates import Overrides, get_template
from medlabel.synthetic import SyntheticEcg, synthetic_ecg, synthetic_note
from ml_backend.clinical_ner import SpanLearner, TrainingNote, predict_spans
from ml_backend.ecg_analysis import EcgRecord, analyse
from ml_backend.model import MedlabelBackend


def beat_f1(detected: list[float], truth: list[float], tolerance: float = 0.075) -> float:
    """F1 of detected R peaks against true ones, one-to-one within ±75 ms (AAMI EC57 uses 150 ms windows)."""
    unmatched = list(truth)
    hits = 0
    for t in detected:
        if unmatched:
            nearest = min(unmatched, key=lambda u: abs(u - t))
            if abs(nearest - t) <= tolerance:
                unmatched.remove(nearest)
                hits += 1
    return 2 * hits / (len(detected) + len(truth)) if detected or truth else 1.0


def span_f1(
    predicted: set[tuple[int, int, str]], gold: set[tuple[int, int, str]]
) -> tuple[float, float, float]:
    tp = len(predicted & gold)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(gold) if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if tp else 0.0)


def record_of(ecg: SyntheticEcg) -> EcgRecord:
    return EcgRecord(ecg.fs, ecg.time, ecg.leads)


# ------------------------------------------------------------------ ECG


@pytest.mark.parametrize("heart_rate", [50, 75, 110], ids=["50bpm", "75bpm", "110bpm"])
def test_beats_on_ecgsyn_match_peaks_of_the_clean_simulation(heart_rate: int) -> None:
    import neurokit2 as nk

    fs = 500
    kwargs = {
        "duration": 20,
        "sampling_rate": fs,
        "heart_rate": heart_rate,
        "method": "ecgsyn",
        "random_state": 4,
    }
    clean = nk.ecg_simulate(noise=0, **kwargs)
    noisy = nk.ecg_simulate(noise=0.08, **kwargs)
    # Truth by a different method than the model's: maxima of the noise-free signal.
    peaks, _ = find_peaks(clean, height=0.5 * np.max(clean), distance=int(0.25 * fs))
    truth = [
        p / fs for p in peaks if 0.15 * fs < p < len(clean) - 0.2 * fs
    ]  # beats cut by the edges excluded
    time = np.arange(len(noisy)) / fs
    beats = analyse(EcgRecord(fs, time, {"II": np.asarray(noisy)})).beats
    assert len(truth) >= 15
    assert beat_f1([b.r_peak for b in beats], truth) >= 0.97


@pytest.mark.parametrize("ectopy", [{"pvc_every": 4}, {"pac_every": 4}], ids=["pvc", "pac"])
def test_premature_beats_are_classified_and_the_rest_n(ectopy: dict[str, int]) -> None:
    ecg = synthetic_ecg(heart_rate=70, seed=11, **ectopy)
    analysis = analyse(record_of(ecg))
    beats = analysis.beats
    truth = {round(b.r_peak, 1): b.aami for b in ecg.beats}
    matched = [(truth[round(b.r_peak, 1)], b.aami) for b in beats if round(b.r_peak, 1) in truth]
    assert len(matched) >= len(ecg.beats) - 1
    assert sum(t == p for t, p in matched) / len(matched) >= 0.95
    expected = "V" if "pvc_every" in ectopy else "S"
    assert {expected, "N"} == {p for _, p in matched}
    # Isolated ectopics in sinus rhythm: the rhythm stays sinus, the ectopy is named beside it.
    codes = {f.code for f in analysis.rhythm if f.score > 0.5}
    assert codes == {"sinus_rhythm", "pvc" if expected == "V" else "pac"}
    for beat, true in zip(sorted(beats, key=lambda b: b.r_peak), ecg.beats, strict=False):
        assert 0 <= beat.score <= 1
        if abs(beat.r_peak - true.r_peak) < 0.05:  # regions cover the true QRS: IoU >= 0.5
            inter = min(beat.offset, true.qrs_offset) - max(beat.onset, true.qrs_onset)
            union = max(beat.offset, true.qrs_offset) - min(beat.onset, true.qrs_onset)
            assert inter / union >= 0.5


@pytest.mark.parametrize(
    ("rhythm", "heart_rate", "expected"),
    [
        ("sinus_rhythm", 72, "sinus_rhythm"),
        ("sinus_rhythm", 48, "sinus_bradycardia"),
        ("sinus_rhythm", 118, "sinus_tachycardia"),
        ("atrial_fibrillation", 90, "atrial_fibrillation"),
        ("atrial_fibrillation", 70, "atrial_fibrillation"),
    ],
    ids=["sinus", "brady", "tachy", "af-90", "af-70"],
)
def test_rhythm_from_rr_statistics(rhythm: str, heart_rate: int, expected: str) -> None:
    for seed in (1, 2, 3):
        analysis = analyse(record_of(synthetic_ecg(rhythm, heart_rate=heart_rate, seed=seed)))
        best = max(analysis.rhythm, key=lambda f: f.score)
        assert best.code == expected and best.score > 0.5, (seed, analysis.rhythm)


def test_noise_gets_no_confident_pre_annotation() -> None:
    time = np.arange(5000) / 500
    for seed in range(8):
        analysis = analyse(EcgRecord(500, time, {"II": np.random.default_rng(seed).normal(0, 1, time.size)}))
        assert all(b.score < 0.5 for b in analysis.beats) and all(f.score < 0.5 for f in analysis.rhythm)


def test_bigeminy_is_not_mistaken_for_atrial_fibrillation() -> None:
    analysis = analyse(record_of(synthetic_ecg(heart_rate=65, pvc_every=2, seed=5)))
    codes = {f.code for f in analysis.rhythm}
    assert "ventricular_bigeminy" in codes and "atrial_fibrillation" not in codes


# ------------------------------------------------------------------ through the backend, real templates


def local_url(path: Path) -> str:
    """A Label Studio local-files URL; label-studio-ml reads it from disk when it exists under the document root."""
    return f"/data/local-files/?d={str(path).lstrip('/')}"


def backend_for(template_id: str, tmp_path: Path, language: str = "en") -> tuple[MedlabelBackend, str]:
    xml = get_template(template_id).render(Overrides(language=language)).xml
    return MedlabelBackend(label_config=xml, project="41.0", model_dir=tmp_path / "models"), xml


def assert_valid(xml: str, result: list[dict[str, Any]]) -> None:
    interface = LabelInterface(xml)
    for index, region in enumerate(result):
        assert not interface.validate_region(region, return_errors=True, region_index=index)
        assert 0 <= region["score"] <= 1


@pytest.mark.parametrize("language", ["en", "ko", "both"])
def test_rhythm_strip_predictions_validate_against_the_template(tmp_path: Path, language: str) -> None:
    ecg = synthetic_ecg(heart_rate=70, pvc_every=4, seed=2)
    csv = ecg.write_csv(tmp_path / "strip.csv")
    backend, xml = backend_for("ecg_rhythm_strip_beats", tmp_path, language)
    [prediction] = backend.predict([{"id": 1, "data": {"csv": local_url(csv)}}])
    result = prediction["result"]
    assert_valid(xml, result)
    beats = [r for r in result if r["from_name"] == "beats"]
    assert abs(len(beats) - len(ecg.beats)) <= 1
    assert sum(r["value"]["timeserieslabels"][0].startswith("V") for r in beats) == sum(
        b.aami == "V" for b in ecg.beats
    )
    [rhythm] = [r for r in result if r["from_name"] == "rhythm"]
    sinus = next(
        e for e in get_template("ecg_rhythm_strip_beats").labelsets["rhythm"] if e.code == "sinus_rhythm"
    )
    assert rhythm["value"]["choices"][0] == sinus.display(language)
    assert prediction["score"] == pytest.approx(min(r["score"] for r in result))
    assert "beats@ecg_beats.0" in prediction["model_version"]


def test_beat_classes_learned_from_physicians_correct_the_rules(tmp_path: Path) -> None:
    """Intermittent bundle-branch-block beats are wide and odd-shaped like PVCs, so the rules call them V;
    physicians call them N (AAMI). After fitting on annotated strips the held-out strips get them right."""
    backend, xml = backend_for("ecg_rhythm_strip_beats", tmp_path)
    values = {e.code: e.en for e in get_template("ecg_rhythm_strip_beats").labelsets["beats"]}

    def task(seed: int) -> tuple[dict[str, Any], SyntheticEcg]:
        ecg = synthetic_ecg(heart_rate=70, bbb_every=3, pvc_every=5, seed=seed)
        return {"id": seed, "data": {"csv": local_url(ecg.write_csv(tmp_path / f"{seed}.csv"))}}, ecg

    def accuracy(pairs: list[tuple[dict[str, Any], SyntheticEcg]]) -> float:
        found = 0
        for prediction, (_, ecg) in zip(backend.predict([t for t, _ in pairs]), pairs, strict=True):
            assert_valid(xml, prediction["result"])
            found += ecg.beats_found(prediction["result"], values)
        return found / sum(len(ecg.beats) for _, ecg in pairs)

    held_out = [task(seed) for seed in range(100, 104)]
    before = accuracy(held_out)
    annotated = []
    for t, ecg in (task(seed) for seed in range(4)):
        annotated.append((t, {"id": t["id"], "result": ecg.beat_regions(values)}))
    assert "beats@ecg_beats.1" in backend.fit_annotations(annotated, replace=False)
    after = accuracy(held_out)
    assert before < 0.8 and after >= 0.95, (before, after)


def test_12lead_sample_gets_waves_and_statements(tmp_path: Path) -> None:
    from medlabel.samples import ensure_sample_media

    csv = ensure_sample_media(tmp_path / "media", {"ecg_12lead.csv"}) / "ecg_12lead.csv"
    backend, xml = backend_for("ecg_12lead_interpretation", tmp_path)
    [prediction] = backend.predict([{"id": 1, "data": {"csv": local_url(csv)}}])
    assert_valid(xml, prediction["result"])
    waves = {r["value"]["timeserieslabels"][0] for r in prediction["result"] if r["from_name"] == "waves"}
    assert "QRS complex" in waves
    statements = [r for r in prediction["result"] if r["from_name"] == "statements"]
    assert statements and "Sinus rhythm" in statements[0]["value"]["choices"]


def test_missing_data_key_or_unreadable_csv_fails_that_task_alone(tmp_path: Path) -> None:
    good = synthetic_ecg(seed=3).write_csv(tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    backend, _ = backend_for("ecg_rhythm_strip_beats", tmp_path)
    predictions = backend.predict(
        [
            {"id": 1, "data": {}},
            {"id": 2, "data": {"csv": local_url(bad)}},
            {"id": 3, "data": {"csv": local_url(good)}},
        ]
    )
    assert [bool(p["result"]) for p in predictions] == [False, False, True]


# ------------------------------------------------------------------ clinical text


def gold(note: Any) -> set[tuple[int, int, str]]:
    return {(s.start, s.end, s.code) for s in note.spans}


def test_rules_find_known_entities_in_notes() -> None:
    notes = [synthetic_note(seed) for seed in range(200, 240)]
    predicted = set().union(
        *({(s.start, s.end, s.code, i) for s in predict_spans(n.text)} for i, n in enumerate(notes))
    )
    truth = set().union(*({(*g, i) for g in gold(n)} for i, n in enumerate(notes)))
    precision, recall, _ = span_f1(predicted, truth)  # type: ignore[arg-type]
    assert precision >= 0.95 and recall >= 0.85, (precision, recall)


def test_korean_medication_dose_route_frequency() -> None:
    text = "아스피린 100 mg 경구 1일 1회, 메트포르민 500 mg PO bid. Hb 10.2 g/dL, BP 120/80, HR 88, SpO2 97%."
    found = {(s.text, s.code) for s in predict_spans(text)}
    assert {
        ("아스피린", "medication"),
        ("100 mg", "strength"),
        ("경구", "route"),
        ("1일 1회", "frequency"),
        ("메트포르민", "medication"),
        ("bid", "frequency"),
        ("Hb", "test"),
        ("10.2 g/dL", "lab_value"),
        ("120/80", "lab_value"),
        ("88", "lab_value"),
        ("97%", "lab_value"),
    } <= found


def test_learning_from_physicians_spans_improves_f1_through_the_backend(tmp_path: Path) -> None:
    backend, xml = backend_for("clinical_ner_relations", tmp_path, "both")
    values = {
        entry.code: entry.display("both")
        for entry in get_template("clinical_ner_relations").labelsets["entities"]
    }
    train = [synthetic_note(seed, vocabulary="train") for seed in range(30)]
    held_out = [synthetic_note(seed) for seed in range(500, 530)]
    tasks = [{"id": 1000 + i, "data": {"text": n.text}} for i, n in enumerate(held_out)]

    def f1() -> float:
        predictions = backend.predict(tasks)
        predicted = {
            (i, r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
            for i, p in enumerate(predictions)
            for r in p["result"]
        }
        truth = {(i, s, e, values[c]) for i, n in enumerate(held_out) for s, e, c in gold(n)}
        for p in predictions:
            assert_valid(xml, p["result"])
        return span_f1(predicted, truth)[2]  # type: ignore[arg-type]

    before = f1()
    annotated = [
        (
            {"id": i + 1, "data": {"text": n.text}},
            {"id": i + 1, "result": [
                {"from_name": "entities", "to_name": "text", "type": "labels",
                 "value": {"start": s.start, "end": s.end, "text": s.text, "labels": [values[s.code]]}}
                for s in n.spans
            ]},
        )
        for i, n in enumerate(train)
    ]  # fmt: skip
    version = backend.fit_annotations(annotated, replace=False)
    assert version == "entities@clinical_ner.1"
    after = f1()
    assert after > before + 0.02, (before, after)
    # A fresh backend (another process, after a restart) reads the stored spans and predicts the same.
    fresh, _ = backend_for("clinical_ner_relations", tmp_path, "both")
    assert fresh.predict(tasks[:3]) == backend.predict(tasks[:3])


def test_span_learner_generalises_beyond_its_gazetteer() -> None:
    notes = [synthetic_note(seed) for seed in range(30)]
    learner = SpanLearner([TrainingNote(n.text, tuple(sorted(gold(n)))) for n in notes])
    text = "Switched to nebivolol 5 mg PO bid. Known gastritis and anemia."
    assert "nebivolol" not in learner.gazetteer and "gastritis" not in learner.gazetteer
    found = {(s.text, s.code) for s in predict_spans(text, learner)}
    assert {("nebivolol", "medication"), ("gastritis", "problem")} <= found
    assert ("nebivolol", "medication") not in {(s.text, s.code) for s in predict_spans(text)}


def test_other_text_templates_learn_their_own_labels(tmp_path: Path) -> None:
    backend, xml = backend_for("radiology_report_classification", tmp_path)
    control = next(c for c in LabelInterface(xml).controls if c.tag == "Labels")
    finding = next(v for v in control.labels if v.lower().startswith("finding"))
    reports = [
        f"CT chest: {w} in the right lower lobe. No effusion." for w in ("consolidation", "nodule", "mass")
    ]
    task = {"id": 99, "data": {"text": "CT chest: nodule in the left upper lobe."}}
    assert backend.predict([task])[0]["result"] == []  # no rules for this label set: nothing before training
    annotated = [
        (
            {"id": i, "data": {"text": text}},
            {"id": i, "result": [{"from_name": control.name, "to_name": "text", "type": "labels",
             "value": {"start": 10, "end": text.index(" in "), "labels": [finding]}}]},
        )
        for i, text in enumerate(reports)
    ]  # fmt: skip
    backend.fit_annotations(annotated, replace=False)
    [prediction] = backend.predict([task])
    assert_valid(xml, prediction["result"])
    assert {(r["value"]["text"], r["value"]["labels"][0]) for r in prediction["result"]} >= {
        ("nodule", finding)
    }


def test_every_text_span_and_ecg_control_of_the_catalog_is_served(tmp_path: Path) -> None:
    """Labels on Text get the text model; ECG beat/wave labels and rhythm choices get the ECG models."""
    from config_templates import list_templates

    expected: dict[str, str] = {}
    found: dict[str, str] = {}
    for template in list_templates():
        xml = template.render().xml
        interface = LabelInterface(xml)
        kinds = {
            m.control.name: m.kind
            for m in MedlabelBackend(label_config=xml, project=1, model_dir=tmp_path).control_models()
        }
        for control in interface.controls:
            key = f"{template.id}:{control.name}"
            objects = {interface.get_object(name).tag for name in control.to_name}
            if control.tag == "Labels" and objects == {"Text"}:
                expected[key] = "clinical_ner"
            elif template.id.startswith("ecg_") and control.name in (
                "beats",
                "waves",
                "rhythm",
                "statements",
            ):
                expected[key] = {"beats": "ecg_beats", "waves": "ecg_waves"}.get(control.name, "ecg_rhythm")
            if key in expected:
                found[key] = kinds.get(control.name, "")
    assert len(expected) >= 9 and found == expected
