"""The consensus contract: what an aggregator is given (one control's reads per task) and what it returns.

Aggregators work on a whole project at once because worker-quality models (Dawid–Skene and kin) learn each
reader's reliability from every task they read; per-task aggregators simply loop.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, ParamSpec, Protocol, TypeVar

#: A Label Studio result item, e.g. {"from_name": "finding", "to_name": "image", "type": "choices",
#: "value": {"choices": ["Pneumonia"]}}.
ResultItem = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Control:
    """One control tag of a project's labeling config, as the aggregators need it."""

    name: str
    #: Label Studio's tag name as written in configs: "Choices", "RectangleLabels", "BrushLabels", ...
    tag: str
    to_name: tuple[str, ...]
    labels: tuple[str, ...] = ()
    #: The tag's attributes as written (lowercased keys), e.g. {"choice": "multiple", "maxrating": "5"}.
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Read:
    """One physician's read of one task, restricted to the result items of one control."""

    annotation_id: int
    physician_id: int
    items: Sequence[ResultItem]


@dataclass(frozen=True)
class Consensus:
    """The reference standard of one control on one task, and how it was reached."""

    #: Result items in Label Studio's shape (what an export writes); None when no consensus is claimed
    #: (TextArea, or a control without an aggregator).
    items: Sequence[ResultItem] | None
    #: 0..1, the method's own agreement among the reads used (None when not defined for the method).
    agreement: float | None
    method: str
    #: Annotation ids of the reads the result was made from.
    annotation_ids: tuple[int, ...]
    #: Per physician: what the method measured of them on this task, e.g. {"missed": 1, "extra": 0} for
    #: regions or {"sensitivity": 0.93, "specificity": 0.99} for masks.
    per_reader: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    #: 0..1, the method's belief in its answer (Dawid–Skene's posterior), as opposed to raw agreement.
    confidence: float | None = None
    #: Drawn-region methods: consensus region id → its members as (annotation id, region id), so that
    #: per-region controls can follow the regions (`plugins.consensus.per_region`).
    regions: Mapping[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)


#: Fewer reads than this never make a consensus, whatever the method.
MIN_READS = 2
#: The method recorded for a task below MIN_READS.
INCOMPLETE = "incomplete"


def incomplete(reads: Sequence[Read]) -> Consensus:
    """The result for a task with too few reads: no items and no agreement, its reads kept."""
    return Consensus(None, None, INCOMPLETE, tuple(sorted(read.annotation_id for read in reads)))


def gc_paused(aggregate: Callable[P, R]) -> Callable[P, R]:
    """Run `aggregate` with the cyclic garbage collector paused, for aggregators that build many small results.

    With a project's hundreds of thousands of reads alive, the collector's full passes over them cost more
    than the aggregation itself (5× for majority vote on 100,000 tasks, bench.quality). Reference counting
    still frees everything at once; only reference cycles, which we do not make, wait for the end.
    """

    @functools.wraps(aggregate)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return aggregate(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


def result_item(control: Control, kind: str, value: Mapping[str, Any], **extra: Any) -> ResultItem:
    """A result item in Label Studio's shape for `control` (`kind` is the lowercased tag, e.g. "choices")."""
    return {
        "from_name": control.name,
        "to_name": control.to_name[0],
        "type": kind,
        "value": dict(value),
        **extra,
    }


class Aggregator(Protocol):
    """Turns k independent reads per task into one consensus per task, for one control."""

    #: Recorded with every result ("majority_vote", "dawid_skene", "box_iou_hungarian", "staple", ...).
    method: ClassVar[str]

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        """`weights`: physician id → reliability in 0..1 (gold accuracy), for methods that can use it."""
        ...

    def reader_quality(self) -> dict[int, float]:
        """Physician id → reliability the method estimated in its last `aggregate` call (empty if none)."""
        ...
