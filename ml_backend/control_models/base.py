"""The interface every control model implements (shape of label-studio-ml-backend's yolo control_models)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from label_studio_sdk.label_interface.control_tags import ControlTag


class ControlModel(Protocol):
    """Predicts the regions of one control tag for one task."""

    tag: ClassVar[str]

    @classmethod
    def matches(cls, control: ControlTag) -> bool: ...

    def predict(self, task: dict[str, Any]) -> list[dict[str, Any]]: ...
