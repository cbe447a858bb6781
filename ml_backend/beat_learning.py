"""Beat classes and region boundaries learned from physicians' beat annotations of a project.

Each annotated beat the detector also found becomes one row: the beat's features (QRS width, RR before and
after relative to the median, correlation with the dominant beat), the physician's class code, and how far
the physician's region starts and ends from the detected QRS. A logistic regression on the features replaces
the rule classes once physicians have used at least two classes; the median boundary offsets shift every
region to the project's own drawing convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml_backend.ecg_analysis import Beat

#: Below these counts the rules stay in charge (of the classes, of the boundaries).
MIN_CLASS_ROWS = 8
MIN_BOUNDARY_ROWS = 5


@dataclass(frozen=True)
class BeatRow:
    features: tuple[float, float, float, float]
    code: str
    onset_shift: float
    offset_shift: float

    def as_list(self) -> list[float | str]:
        return [*self.features, self.code, self.onset_shift, self.offset_shift]

    @classmethod
    def from_list(cls, row: Sequence[float | str]) -> BeatRow:
        f = tuple(float(x) for x in row[:4])
        return cls((f[0], f[1], f[2], f[3]), str(row[4]), float(row[5]), float(row[6]))


def rows_from_annotation(beats: Sequence[Beat], regions: Sequence[tuple[float, float, str]]) -> list[BeatRow]:
    """Pair each physician region (start, end, code) with the detected beat whose R peak lies inside it."""
    rows = []
    for start, end, code in regions:
        inside = [b for b in beats if start <= b.r_peak <= end]
        if len(inside) == 1:  # a region over several beats (or none) says nothing about one beat
            beat = inside[0]
            rows.append(BeatRow(beat.features, code, start - beat.onset, end - beat.offset))
    return rows


class BeatLearner:
    """Fitted from the stored rows of one project control; cheap enough to rebuild per model version."""

    def __init__(self, rows: Sequence[BeatRow]) -> None:
        self.onset_shift = (
            float(np.median([r.onset_shift for r in rows])) if len(rows) >= MIN_BOUNDARY_ROWS else 0.0
        )
        self.offset_shift = (
            float(np.median([r.offset_shift for r in rows])) if len(rows) >= MIN_BOUNDARY_ROWS else 0.0
        )
        self.classifier = None
        codes = {r.code for r in rows}
        if len(rows) >= MIN_CLASS_ROWS and len(codes) >= 2:
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            self.classifier = make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced")
            )
            self.classifier.fit(np.array([r.features for r in rows]), [r.code for r in rows])

    def classify(self, beats: Sequence[Beat]) -> list[tuple[str, float]] | None:
        """(code, probability) per beat, or None while the rules should decide."""
        if self.classifier is None or not beats:
            return None
        probabilities = self.classifier.predict_proba(np.array([b.features for b in beats]))
        classes = list(self.classifier.classes_)
        return [(str(classes[int(np.argmax(p))]), float(np.max(p))) for p in probabilities]
