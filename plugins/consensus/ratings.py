"""Scores on a scale (`Rating`, `Number`, rubric `Choices`): the median, with a per-task dispersion score.

A `Choices` control is a rubric (ordinal) when every choice value starts with its score, e.g. "0 - Not at
all" … "3 - Nearly every day" (our PHQ-9 and grading templates), and there are at least three of them;
the scale's order is the scores', not the config's. Project-level agreement for these controls is
Krippendorff's alpha (ordinal for Rating and rubrics, interval for Number) in `medlabel.quality.agreement`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from plugins.consensus.base import MIN_READS, Consensus, Control, Read, incomplete, result_item

_SCORE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)(?:\s*[-–:.)]|\s|$)")


def rubric_scores(control: Control) -> dict[str, float] | None:
    """Choice value → its score, when `control` is a rubric (see the module docstring); otherwise None."""
    if (
        control.tag != "Choices"
        or control.attrs.get("choice", "single") != "single"
        or len(control.labels) < 3
    ):
        return None
    scores = {label: _SCORE.match(label) for label in control.labels}
    if not all(scores.values()):
        return None
    return {label: float(m.group(1)) for label, m in scores.items() if m}


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
    Reason 45:531-45: Cns = 1 + Σ p_i log2(1 − |X_i − μ| / d). Hand-written: no maintained package has it,
    and it is one line. d is the scale's width.
    """
    width = high - low
    if width <= 0:
        return 1.0
    x = np.asarray(values, dtype=float)
    gap = np.clip(np.abs(x - x.mean()) / width, 0.0, 1.0)
    return float(1.0 + np.mean(np.log2(np.maximum(1.0 - gap, 1e-12))))


class MedianScore:
    """The median score. For an even number of reads whose middle scores differ on a discrete scale
    (Rating, rubric), there is no median the scale allows: no consensus, adjudication decides, as for a
    tied vote. Number takes the mean of the middle two. per_reader: each read's distance from the median.
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
        discrete = control.tag != "Number"
        results: dict[int, Consensus] = {}
        for task_id, reads in reads_by_task.items():
            valued = [(read, v) for read in reads if (v := _score(read, scores)) is not None]
            if len(valued) < MIN_READS:
                results[task_id] = incomplete(reads)
                continue
            values = sorted(v for _, v in valued)
            lower, upper = values[(len(values) - 1) // 2], values[len(values) // 2]
            median = None if discrete and lower != upper else (lower + upper) / 2
            results[task_id] = Consensus(
                None if median is None else [_item(control, median, scores)],
                tastle_wierman(values, *scale) if scale else None,
                self.method,
                tuple(sorted(read.annotation_id for read, _ in valued)),
                {
                    read.physician_id: {"distance": abs(v - median) if median is not None else math.nan}
                    for read, v in valued
                },
            )
        return results

    def reader_quality(self) -> dict[int, float]:
        return {}


def _score(read: Read, scores: Mapping[str, float] | None) -> float | None:
    for item in read.items:
        value = item.get("value", {})
        if scores is not None and (choices := value.get("choices")):
            return scores.get(str(choices[0]))
        for key in ("rating", "number"):
            if value.get(key) is not None:
                return float(value[key])
    return None


def _item(control: Control, median: float, scores: Mapping[str, float] | None) -> dict:
    if scores is not None:
        label = next(label for label, score in scores.items() if score == median)
        return result_item(control, "choices", {"choices": [label]})
    if control.tag == "Rating":
        return result_item(control, "rating", {"rating": int(median)})
    return result_item(control, "number", {"number": median})
