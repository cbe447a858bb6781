"""ECG control models: beat regions and wave regions (TimeSeriesLabels) and rhythm statements (Choices).

All three read the task's CSV (the TimeSeries `value`, served by Label Studio) and share one analysis per
file and process (`ml_backend.ecg_analysis`). A control is served only if some of its label values map to
codes these models produce (AAMI beat classes, wave/interval names, rhythm statements); the rest of its
labels are never predicted. The beats model learns from physicians' beat regions (`ml_backend.beat_learning`:
classes from beat features, the project's boundary convention); waves and rhythm do not learn yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.control_tags import ControlTag

from ml_backend.beat_learning import BeatLearner, BeatRow, rows_from_annotation
from ml_backend.control_models.base import ControlModel, ControlModelError, Example, ModelStore
from ml_backend.ecg_analysis import EcgAnalysis, EcgDataError, analyse, read_ecg_csv
from ml_backend.label_codes import value_by_code

BEAT_CODES = {"N": "aami_n", "S": "aami_s", "V": "aami_v"}
WAVE_CODES = frozenset({"p_wave", "qrs_complex", "t_wave", "pr_interval", "qt_interval"})
RHYTHM_CODES = frozenset(
    {
        "sinus_rhythm",
        "sinus_bradycardia",
        "sinus_tachycardia",
        "atrial_fibrillation",
        "pvc",
        "pac",
        "ventricular_bigeminy",
        "ventricular_trigeminy",
        "ventricular_couplet",
        "nsvt",
    }
)


EXAMPLES_FILE = "beat_examples.json"
#: store folder → (store version, learner built from it): one learner per project control and process.
_learners: dict[Path, tuple[int, BeatLearner | None]] = {}


@lru_cache(maxsize=32)
def _cached_analysis(
    path: str, mtime: float, time_column: str, sep: str, leads: tuple[str, ...]
) -> EcgAnalysis:
    """One analysis per file version and process, shared by the beats, waves and rhythm controls of a task."""
    return analyse(read_ecg_csv(Path(path), time_column, sep), leads or None, waves=True)


class _EcgModel(ControlModel):
    """Shared by the ECG models: which codes the control offers, and the task's analysis."""

    object_tags: ClassVar[tuple[str, ...]] = ("TimeSeries",)
    codes: ClassVar[frozenset[str]]

    @classmethod
    def matches(cls, control: ControlTag, interface: LabelInterface, store: ModelStore) -> bool:
        return super().matches(control, interface, store) and bool(
            cls.codes & set(value_by_code(control.labels))
        )

    @property
    def values(self) -> dict[str, str]:
        """code → this project's label value, for the codes this model may predict."""
        return {code: value for code, value in value_by_code(self.labels).items() if code in self.codes}

    def analysis(self, task: dict[str, Any]) -> EcgAnalysis:
        attrs = self.object.attr or {}
        if attrs.get("valueType") != "url":
            raise ControlModelError(
                f'<TimeSeries name={self.object.name!r}> must load a CSV by URL (valueType="url")'
            )
        path = self.media.local_path(task, self.object)
        leads = tuple(
            str(child.get("column"))
            for child in getattr(self.object, "children", None) or ()
            if child.get("column")
        )
        try:
            return _cached_analysis(
                str(path),
                path.stat().st_mtime,
                attrs.get("timeColumn", "time"),
                attrs.get("sep", ","),
                leads,
            )
        except EcgDataError as exc:
            raise ControlModelError(f"task {task.get('id')}: {exc}") from exc

    def _span(self, start: float, end: float, value: str, score: float) -> dict[str, Any]:
        return self.region(
            {"start": round(start, 4), "end": round(end, 4), "instant": False, "timeserieslabels": [value]},
            score=round(score, 4),
        )


class EcgBeatsModel(_EcgModel):
    """One region per QRS complex (onset to offset), labelled N, S or V by the rules, or by the classes
    physicians taught it once they have annotated enough beats."""

    kind = "ecg_beats"
    tag = "TimeSeriesLabels"
    codes = frozenset(BEAT_CODES.values())

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        values = value_by_code(self.labels)  # learned classes may be any of the control's labels
        analysis = self.analysis(task)
        learner = self._learner()
        learned = learner.classify(analysis.beats) if learner else None
        regions = []
        for index, beat in enumerate(analysis.beats):
            code, score = (
                (learned[index][0], learned[index][1] * analysis.quality)
                if learned
                else (BEAT_CODES[beat.aami], beat.score)
            )
            start = beat.onset + (learner.onset_shift if learner else 0.0)
            end = beat.offset + (learner.offset_shift if learner else 0.0)
            if code in values and end > start:
                regions.append(self._span(start, end, values[code], score))
        return regions

    def _learner(self) -> BeatLearner | None:
        version = self.store.version
        cached = _learners.get(self.store.root)
        if cached is None or cached[0] != version:
            stored = self.store.read_json(EXAMPLES_FILE, {})
            rows = [BeatRow.from_list(row) for task_rows in stored.values() for row in task_rows]
            cached = (version, BeatLearner(rows) if rows else None)
            _learners[self.store.root] = cached
        return cached[1]

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        """Store, per annotated task, each physician beat region paired with the beat the detector found there."""
        codes = {value: code for code, value in value_by_code(self.labels).items()}
        stored: dict[str, Any] = {} if replace else self.store.read_json(EXAMPLES_FILE, {})
        before = dict(stored)
        for example in examples:
            regions = [
                (float(v["start"]), float(v["end"]), codes[v["timeserieslabels"][0]])
                for v in (r.get("value") or {} for r in example.results)
                if v.get("timeserieslabels")
                and v["timeserieslabels"][0] in codes
                and "start" in v
                and "end" in v
            ]
            if not regions:
                continue
            try:
                beats = self.analysis(example.task).beats
            except ControlModelError:
                continue  # its strip cannot be read: nothing to pair the physician's regions with
            stored[str(example.task.get("id"))] = [
                row.as_list() for row in rows_from_annotation(beats, regions)
            ]
        if stored == before:
            return False
        self.store.write_json(EXAMPLES_FILE, stored)
        return True


class EcgWavesModel(_EcgModel):
    """P wave, QRS, T wave, PR and QT of one representative beat (the 12-lead template asks for one)."""

    kind = "ecg_waves"
    tag = "TimeSeriesLabels"
    codes = WAVE_CODES

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        values = self.values
        return [
            self._span(wave.start, wave.end, values[wave.code], wave.score)
            for wave in self.analysis(task).waves
            if wave.code in values and wave.start is not None and wave.end is not None
        ]


class EcgRhythmModel(_EcgModel):
    """Rhythm and ectopy statements for a Choices control on an ECG; one region per statement."""

    kind = "ecg_rhythm"
    tag = "Choices"
    codes = RHYTHM_CODES

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        values = self.values
        findings = [f for f in self.analysis(task).rhythm if f.code in values]
        if not findings:
            return []
        if (self.control.attr or {}).get("choice", "single") == "single":
            best = max(findings, key=lambda f: f.score)
            return [self.region({"choices": [values[best.code]]}, score=round(best.score, 4))]
        # One result per control: Label Studio shows one selection; the weakest statement's score is its score.
        return [
            self.region(
                {"choices": [values[f.code] for f in findings]},
                score=round(min(f.score for f in findings), 4),
            )
        ]
