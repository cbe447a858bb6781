"""Text spans for a `Labels` control on `Text`: clinical rules from day one, then what physicians' spans teach.

The rules serve the clinical entity types a control has (medication, strength, problem, lab_value …); the
learner serves every label of any Labels-on-Text control once physicians have annotated (report spans, triage
findings, coding evidence …).
Their spans are kept as JSON in the control's store (task id → text + spans); the learner
(`ml_backend.clinical_ner.SpanLearner`) is rebuilt from them once per store version and process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml_backend.clinical_ner import SpanLearner, TrainingNote, predict_spans
from ml_backend.control_models.base import ControlModel, ControlModelError, Example
from ml_backend.label_codes import value_by_code

EXAMPLES_FILE = "ner_examples.json"
#: store folder → (store version, learner built from it): one learner per project control and process.
_learners: dict[Path, tuple[int, SpanLearner | None]] = {}


class ClinicalNerModel(ControlModel):
    """Entity spans for a Labels control on Text; labels outside the catalog are learned under their own value."""

    kind = "clinical_ner"
    tag = "Labels"
    object_tags = ("Text",)

    def _codes(self) -> dict[str, str]:
        """This control's label value → code (the catalog's, else the value itself)."""
        known = {value: code for code, value in value_by_code(self.labels).items()}
        return {value: known.get(value, value) for value in self.labels}

    def _learner(self) -> SpanLearner | None:
        version = self.store.version
        cached = _learners.get(self.store.root)
        if cached is None or cached[0] != version:
            stored = self.store.read_json(EXAMPLES_FILE, {})
            notes = [
                TrainingNote(item["text"], tuple((s, e, c) for s, e, c in item["spans"]))
                for item in stored.values()
            ]
            cached = (version, SpanLearner(notes) if notes else None)
            _learners[self.store.root] = cached
        return cached[1]

    def predict(self, task: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if context:
            return []
        text = self.media.text(task, self.object)
        values = {code: value for value, code in self._codes().items()}
        return [
            self.region(
                {"start": span.start, "end": span.end, "text": span.text, "labels": [values[span.code]]},
                score=round(span.score, 4),
            )
            for span in predict_spans(text, self._learner())
            if span.code in values
        ]

    def fit(self, examples: Sequence[Example], *, replace: bool) -> bool:
        """Store each annotated task's text and spans (an annotation without spans teaches "nothing here")."""
        codes = self._codes()
        stored: dict[str, Any] = {} if replace else self.store.read_json(EXAMPLES_FILE, {})
        before = dict(stored)
        for example in examples:
            try:
                text = self.media.text(example.task, self.object)
            except ControlModelError:
                continue  # a task without its text cannot teach anything; the backend logs nothing more here
            spans = []
            for result in example.results:
                value = result.get("value") or {}
                labels = value.get("labels") or []
                if labels and labels[0] in codes and "start" in value and "end" in value:
                    spans.append([int(value["start"]), int(value["end"]), codes[labels[0]]])
            stored[str(example.task.get("id"))] = {"text": text, "spans": sorted(spans)}
        if stored == before:
            return False
        self.store.write_json(EXAMPLES_FILE, stored)
        return True

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "training_notes": len(self.store.read_json(EXAMPLES_FILE, {}))}
