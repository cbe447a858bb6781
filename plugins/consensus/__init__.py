"""Consensus plugins: one aggregator per kind of Label Studio control (contract in `plugins.consensus.base`).

`AGGREGATORS` maps a control tag to its default aggregator class; `aggregator_for` picks the one for a
control, refining by the tag's attributes (multi-label Choices, rubric Choices) or by a method the project
asks for, and returns None for a control that has none (the caller names the control and keeps the reads).
Outside packages add aggregators under the "medlabel.consensus" entry-point group (name: a control tag);
built-ins win a clash.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from plugins.consensus.base import Aggregator, Consensus, Control, Read
from plugins.consensus.brush import Staple
from plugins.consensus.choices import DawidSkeneVote, MajorityVote
from plugins.consensus.multilabel import MultiLabelVote
from plugins.consensus.ranker import BradleyTerryRank
from plugins.consensus.ratings import MedianScore, rubric_scores
from plugins.consensus.regions import BoxVote, KeyPointVote, PolygonVote
from plugins.consensus.spans import SpanVote
from plugins.consensus.textarea import ReadsOnly

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "medlabel.consensus"

#: Control tag → default aggregator class.
AGGREGATORS: dict[str, type[Aggregator]] = {
    "Choices": DawidSkeneVote,
    "Taxonomy": DawidSkeneVote,
    "RectangleLabels": BoxVote,
    "Rectangle": BoxVote,
    "PolygonLabels": PolygonVote,
    "Polygon": PolygonVote,
    "KeyPointLabels": KeyPointVote,
    "KeyPoint": KeyPointVote,
    "BrushLabels": Staple,
    "Brush": Staple,
    "Labels": SpanVote,
    "TimeSeriesLabels": SpanVote,
    "Rating": MedianScore,
    "Number": MedianScore,
    "Ranker": BradleyTerryRank,
    "Pairwise": BradleyTerryRank,
    "TextArea": ReadsOnly,
}

#: Method name → class, for a project that asks for another method than its control's default.
METHODS: dict[str, type[Aggregator]] = {
    cls.method: cls for cls in (*AGGREGATORS.values(), MajorityVote, MultiLabelVote)
}


@cache
def available() -> dict[str, type[Aggregator]]:
    """AGGREGATORS plus the entry-point group's, read once."""
    found: dict[str, type[Aggregator]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in AGGREGATORS:
            logger.warning(
                "consensus plugin %s ignored: %s has a built-in aggregator", entry.value, entry.name
            )
            continue
        found[entry.name] = entry.load()
    return {**found, **AGGREGATORS}


def aggregator_for(control: Control, method: str | None = None) -> Aggregator | None:
    """The aggregator for `control`, with default options.

    A multi-label Choices gets MultiLabelVote and a rubric Choices (scored choices, see `ratings`)
    MedianScore. A per-region control (perRegion="true": an attribute of each drawn region) gets None
    here; `per_region` aggregates it over the consensus regions of its region control. `method` (e.g. "majority_vote") picks among the methods that suit the control and is
    ignored when it does not suit. For options, build the class yourself: `METHODS["dawid_skene"](gold=…)`.
    """
    if control.attrs.get("perregion") == "true":
        return None  # see PER_REGION
    cls = available().get(control.tag)
    if control.tag == "Choices" and control.attrs.get("choice") == "multiple":
        cls = MultiLabelVote
    elif rubric_scores(control) is not None:
        cls = MedianScore
    single_choice = (DawidSkeneVote, MajorityVote)
    if method is not None and cls in single_choice and METHODS.get(method) in single_choice:
        cls = METHODS[method]
    return cls() if cls else None


__all__ = [
    "AGGREGATORS",
    "METHODS",
    "Aggregator",
    "Consensus",
    "Control",
    "Read",
    "aggregator_for",
    "available",
]
