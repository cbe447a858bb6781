"""Spans that came with a note (a client's own entity labels) → a Label Studio prediction physicians confirm.

A span's label is matched to the project's label set by the value shown, its English part, or its stable
catalog code (case-insensitive); spans whose label the project does not have are left out and counted.
"""

from __future__ import annotations

from typing import Any

from medlabel.ingest.target import ProjectTarget

MODEL_VERSION = "source-spans"


def label_lookup(target: ProjectTarget, codes: dict[str, str]) -> dict[str, str]:
    """Every accepted spelling of a label (lower-cased) → the value Label Studio shows."""
    lookup: dict[str, str] = {}
    for value in target.span_labels:
        for spelling in (value, value.split(" / ")[0], codes.get(value, "")):
            if spelling:
                lookup.setdefault(spelling.strip().lower(), value)
    return lookup


def span_prediction(
    spans: list[dict[str, Any]], target: ProjectTarget, lookup: dict[str, str]
) -> tuple[dict[str, Any] | None, int]:
    """The prediction for a task's spans (None when none maps), and how many spans were left out."""
    if target.span_control is None:
        return None, len(spans)
    result = []
    for span in spans:
        value = lookup.get(str(span.get("label", "")).strip().lower())
        if value is None:
            continue
        result.append(
            {
                "from_name": target.span_control,
                "to_name": target.object_name,
                "type": "labels",
                "value": {
                    "start": span["start"],
                    "end": span["end"],
                    "text": span["text"],
                    "labels": [value],
                },
            }
        )
    left_out = len(spans) - len(result)
    if not result:
        return None, left_out
    return {"model_version": MODEL_VERSION, "result": result}, left_out
