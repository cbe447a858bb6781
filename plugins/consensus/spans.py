"""Text spans (`Labels` on Text) and time-series intervals (`TimeSeriesLabels`): clustered by overlap.

Spans match when they overlap at all (IoU > 0, best pairs first by Hungarian matching): physicians rarely
agree on a span's exact first and last character, and the label vote and median boundaries settle the rest.
Only numeric start/end are read (character offsets, seconds or sample indices); HyperText XPath spans and
date-time time axes are not aggregated. An instant event (start == end) matches only an identical one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from medlabel.quality.agreement import interval_iou
from plugins.consensus.clustering import ClusterVote

Span = tuple[float, float]


class SpanGeometry:
    threshold = 1e-9

    def shape(self, value: Mapping[str, Any]) -> Span:
        return float(value["start"]), float(value["end"])

    def similarity(self, a: Span, b: Span) -> float:
        return interval_iou(a, b)

    def merge(self, shapes: Sequence[Span], values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        start, end = np.median(np.array(shapes), axis=0)
        merged: dict[str, Any] = {"start": float(start), "end": float(end)}
        if all(isinstance(v["start"], int) and isinstance(v["end"], int) for v in values):
            merged = {"start": int(round(start)), "end": int(round(end))}
        # A text span's covered text is kept when one member has exactly the merged boundaries.
        for v in values:
            if "text" in v and (v["start"], v["end"]) == (merged["start"], merged["end"]):
                merged["text"] = v["text"]
        if any("instant" in v for v in values):
            merged["instant"] = merged["start"] == merged["end"]
        return merged


class SpanVote(ClusterVote[Span]):
    method: ClassVar[str] = "span_overlap_hungarian"
    geometry = SpanGeometry()
