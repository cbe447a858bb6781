"""What de-identification removed from a draft, shown beside it in review: kinds and places, never values.

The original text and pixels are not kept anywhere, so this is built from the de-identified output alone: a
note's placeholders ("[NAME]") with their offsets in the scrubbed text, an image's blacked-out boxes and
regions.
"""

from __future__ import annotations

import re
from typing import Any

from plugins.ingest.base import TaskDraft


def removed(draft: TaskDraft) -> dict[str, Any]:
    """The reviewer's view of what was taken out of `draft` (JSON-ready)."""
    view: dict[str, Any] = {}
    kinds = sorted((draft.facts.get("identifiers") or {}).keys())
    if kinds:
        view["identifiers"] = draft.facts["identifiers"]
        placeholder = re.compile(r"\[(" + "|".join(re.escape(k) for k in kinds) + r")\]")
        view["placeholders"] = [
            {"field": name, "kind": match[1], "start": match.start(), "end": match.end()}
            for name, value in draft.data.items()
            if isinstance(value, str)
            for match in placeholder.finditer(value)
        ]
    if "burned_in" in draft.facts:
        view["burned_in"] = draft.facts["burned_in"]
    if draft.facts.get("dropped_spans"):
        view["dropped_spans"] = draft.facts["dropped_spans"]
    return view
