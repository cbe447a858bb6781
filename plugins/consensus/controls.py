"""From a project's labeling config and its annotations to what the aggregators take: Controls and Reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from label_studio_sdk.label_interface import LabelInterface

from plugins.consensus.base import Control, Read, ResultItem

#: (annotation id, physician id, the annotation's `result` list) as the mirror stores them.
Annotation = tuple[int, int, Iterable[ResultItem]]


def controls_of(label_config: str) -> list[Control]:
    """Every control tag of the config, in document order, parsed with the SDK's LabelInterface."""
    controls: list[Control] = []
    for tag in LabelInterface(label_config).controls:
        attrs: dict[str, Any] = getattr(tag, "attr", None) or {}
        controls.append(
            Control(
                name=tag.name,
                tag=tag.tag,
                to_name=tuple(tag.to_name or ()),
                labels=tuple(getattr(tag, "labels", None) or ()),
                attrs={str(k).lower(): str(v) for k, v in attrs.items()},
            )
        )
    return controls


def reads_for(control: Control, annotations: Iterable[Annotation]) -> list[Read]:
    """One Read per annotation, keeping only the result items of `control`.

    An annotation with no item for the control still makes a Read: the physician read the task and marked
    nothing (no region, no choice), which region and mask aggregators count as "found nothing".
    """
    return [
        Read(annotation_id, physician_id, [item for item in result if item.get("from_name") == control.name])
        for annotation_id, physician_id, result in annotations
    ]
