"""Consensus plugins: one aggregator per kind of Label Studio control (contract in `plugins.consensus.base`).

`AGGREGATORS` maps a control tag to its aggregator class; `aggregator_for` picks the one for a control and
returns None for a control that has none (the caller names the control and keeps the reads).
"""

from __future__ import annotations

from plugins.consensus.base import Aggregator, Consensus, Control, Read
from plugins.consensus.choices import MajorityVote

#: Control tag → aggregator class. Third parties add theirs under the "medlabel.consensus" entry-point group.
AGGREGATORS: dict[str, type[Aggregator]] = {
    "Choices": MajorityVote,
}


def aggregator_for(control: Control) -> Aggregator | None:
    cls = AGGREGATORS.get(control.tag)
    return cls() if cls else None


__all__ = ["AGGREGATORS", "Aggregator", "Consensus", "Control", "Read", "aggregator_for"]
