"""Text-span and time-series interval consensus on cases with a known answer."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.consensus import aggregator_for
from plugins.consensus.base import Control, Read

NER = Control("entity", "Labels", ("text",), ("Drug", "Dose"))
ECG = Control("events", "TimeSeriesLabels", ("ecg",), ("AF", "PVC"))


def span(start: int, end: int, label: str = "Drug", text: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"from_name": "entity", "to_name": "text", "type": "labels", "value": value}


def interval(start: float, end: float, label: str = "AF") -> dict[str, Any]:
    value = {"start": start, "end": end, "instant": False, "timeserieslabels": [label]}
    return {"from_name": "events", "to_name": "ecg", "type": "timeserieslabels", "value": value}


def run(control: Control, *reads_items: list[dict[str, Any]]):  # noqa: ANN201
    reads = [Read(300 + i, i + 1, items) for i, items in enumerate(reads_items)]
    aggregator = aggregator_for(control)
    assert aggregator is not None
    return aggregator.aggregate(control, {1: reads})[1]


def test_spans_merge_to_median_boundaries_with_the_voted_label() -> None:
    result = run(
        NER,
        [span(10, 19, text="metformin"), span(20, 26, "Dose")],
        [span(10, 19, text="metformin"), span(20, 26, "Dose")],
        [span(9, 19, "Dose"), span(40, 45)],
    )
    assert result.method == "span_overlap_hungarian"
    values = sorted((i["value"] for i in result.items), key=lambda v: v["start"])
    assert values[0] == {"start": 10, "end": 19, "text": "metformin", "labels": ["Drug"]}
    assert values[1]["labels"] == ["Dose"]
    assert result.per_reader[3] == pytest.approx(
        {"missed": 1, "extra": 1, "label_errors": 1, "similarity": 0.9}
    )
    assert result.per_reader[1]["missed"] == 0


def test_time_series_intervals_and_a_missed_event() -> None:
    result = run(
        ECG,
        [interval(1.0, 5.0), interval(8.0, 8.6, "PVC")],
        [interval(1.2, 5.2), interval(8.1, 8.5, "PVC")],
        [interval(0.8, 4.9)],
    )
    values = sorted((i["value"] for i in result.items), key=lambda v: v["start"])
    assert values[0]["start"] == pytest.approx(1.0) and values[0]["end"] == pytest.approx(5.0)
    assert values[0]["timeserieslabels"] == ["AF"] and values[0]["instant"] is False
    assert values[1]["timeserieslabels"] == ["PVC"]
    assert result.per_reader[3]["missed"] == 1
    assert 0.5 < result.agreement < 0.9


def test_label_tie_keeps_the_region_for_the_reviewer() -> None:
    result = run(NER, [span(0, 5, "Drug")], [span(0, 5, "Dose")])
    (item,) = result.items
    assert item["value"]["labels"] == []
    assert "tie" in item["meta"]["text"][0]
