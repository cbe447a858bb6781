"""Scores on a scale (`Rating`, `Number`, rubric `Choices`): the median, with a per-task dispersion score.

A single-choice `Choices` control is a rubric (ordinal) when at least three of its choices are distinct
scores sharing one form: the score alone or followed by " - ", ":", "." or ")" and a description,
optionally after one prefix word common to all ("0 - Not at all" … "3 - Nearly every day" in PHQ-9,
"KL 0 - …" … "KL 4 - …", "Grade 1 - …", "1", "2", "3"). Other choices ("Not assessable") are unscored
options. A choice that starts like a score but is none ("4A - …" in BI-RADS and Lung-RADS, "1 Humerus" in AO
codes) means the codes are not a plain scale: the control stays categorical. The scale's order is the
scores', not the config's.

Project-level agreement for these controls is Krippendorff's alpha (ordinal for Rating and rubrics, interval
for Number) in `medlabel.quality.agreement`; the per-task score here is a dispersion measure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from plugins.consensus.base import MIN_READS, Consensus, Control, Read, incomplete, result_item

_CODE = re.compile(r"^\s*([A-Za-z]{1,8}\s+)?\d")
_SCORE = re.compile(r"^\s*(?P<prefix>[A-Za-z]{1,8}\s+)?(?P<score>-?\d+(?:\.\d+)?)\s*(?:[-–:.)]\s|$)")


def rubric_scores(control: Control) -> dict[str, float] | None:
    """Scored choice value → its score, when `control` is a rubric (see the module docstring); else None."""
    if control.tag != "Choices" or control.attrs.get("choice", "single") != "single":
        return None
    matches = {label: m for label in control.labels if (m := _SCORE.match(label))}
    prefixes = {(m["prefix"] or "").strip().lower() for m in matches.values()}
    scores = {label: float(m["score"]) for label, m in matches.items()}
    if len(scores) < 3 or len(prefixes) != 1 or len(set(scores.values())) != len(scores):
        return None
    if any(_CODE.match(label) for label in control.labels if label not in scores):
        return None
    return scores


def measurement_level(control: Control) -> Literal["nominal", "ordinal", "interval"]:
    """The level of measurement agreement coefficients should use for `control` (Krippendorff's alpha,
    weighted kappa): interval for Number, ordinal for Rating and rubrics, nominal for the rest."""
    if control.tag == "Number":
        return "interval"
    if control.tag == "Rating" or rubric_scores(control) is not None:
        return "ordinal"
    return "nominal"


def scale_of(control: Control) -> tuple[float, float] | None:
    """The scale's (low, high) bounds when the config gives them; the dispersion score needs them."""
    if (scores := rubric_scores(control)) is not None:
        return min(scores.values()), max(scores.values())
    if control.tag == "Rating":
        return 0.0, float(control.attrs.get("maxrating", 5))
    if control.tag == "Number" and "min" in control.attrs and "max" in control.attrs:
        return float(control.attrs["min"]), float(control.attrs["max"])
    return None


def tastle_wierman(values: Sequence[float], low: float, high: float) -> float:
    """Consensus of ordinal or interval scores, 1 when all equal, 0 when split between the two extremes.

    Tastle WJ, Wierman MJ (2007), Consensus and dissention: a measure of ordinal dispersion, Int J Approx
    Reason 45:531-45: Cns = 1 + Σ p_i log2(1 − |X_i − μ| / d), d the scale's width. Hand-written: no
    maintained package has it, and it is one line.
    """
    width = high - low
    if width <= 0:
        return 1.0
    x = np.asarray(values, dtype=float)
    gap = np.clip(np.abs(x - x.mean()) / width, 0.0, 1.0)
    return float(1.0 + np.mean(np.log2(np.maximum(1.0 - gap, 1e-12))))


class MedianScore:
    """The median score.

    For an even number of reads whose middle scores differ on a discrete scale (Rating, rubric) no score
    is the median: no consensus, adjudication decides, as for a tied vote; Number takes the mean of the
    middle two. When more than half of a rubric's reads chose an unscored option ("Not assessable"), that
    option wins if they agree on it. per_reader: each scored read's `distance` from the median.
    """

    method: ClassVar[str] = "median"

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        scores = rubric_scores(control)
        scale = scale_of(control)
        results: dict[int, Consensus] = {}
        for task_id, reads in reads_by_task.items():
            answers = [(read, a) for read in reads if (a := _answer(read, scores)) is not None]
            if len(answers) < MIN_READS:
                results[task_id] = incomplete(reads)
                continue
            valued = [(read, a) for read, a in answers if isinstance(a, float)]
            if 2 * len(valued) < len(answers):
                results[task_id] = self._unscored(control, answers)
            elif len(valued) < MIN_READS:
                results[task_id] = incomplete(reads)
            else:
                results[task_id] = self._median(control, valued, scores, scale)
        return results

    def reader_quality(self) -> dict[int, float]:
        return {}

    def _median(
        self,
        control: Control,
        valued: Sequence[tuple[Read, Any]],
        scores: Mapping[str, float] | None,
        scale: tuple[float, float] | None,
    ) -> Consensus:
        values = sorted(v for _, v in valued)
        lower, upper = values[(len(values) - 1) // 2], values[len(values) // 2]
        median = None if control.tag != "Number" and lower != upper else (lower + upper) / 2
        return Consensus(
            None if median is None else [_item(control, median, scores)],
            tastle_wierman(values, *scale) if scale else None,
            self.method,
            tuple(sorted(read.annotation_id for read, _ in valued)),
            {}
            if median is None
            else {read.physician_id: {"distance": abs(v - median)} for read, v in valued},
        )

    def _unscored(self, control: Control, answers: Sequence[tuple[Read, Any]]) -> Consensus:
        counts = Counter(a for _, a in answers if isinstance(a, str)).most_common(2)
        option = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else None
        return Consensus(
            None if option is None else [result_item(control, "choices", {"choices": [option]})],
            sum(a == option for _, a in answers) / len(answers),
            self.method,
            tuple(sorted(read.annotation_id for read, _ in answers)),
        )


def _answer(read: Read, scores: Mapping[str, float] | None) -> float | str | None:
    """The read's score, or for a rubric an unscored option's value as it is."""
    for item in read.items:
        value = item.get("value", {})
        if scores is not None and (choices := value.get("choices")):
            return scores.get(str(choices[0]), str(choices[0]))
        for key in ("rating", "number"):
            if value.get(key) is not None:
                return float(value[key])
    return None


def _item(control: Control, median: float, scores: Mapping[str, float] | None) -> dict[str, Any]:
    if scores is not None:
        label = next(label for label, score in scores.items() if score == median)
        return result_item(control, "choices", {"choices": [label]})
    if control.tag == "Rating":
        return result_item(control, "rating", {"rating": int(median)})
    return result_item(control, "number", {"number": median})
