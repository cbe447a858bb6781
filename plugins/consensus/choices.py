"""Single-choice consensus."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import ClassVar

from plugins.consensus.base import Consensus, Control, Read


def _choice(read: Read) -> str | None:
    for item in read.items:
        choices = item.get("value", {}).get("choices") or []
        if choices:
            return str(choices[0])
    return None


class MajorityVote:
    """The plurality choice; a tie is no consensus (adjudication decides). Agreement: share of reads for it."""

    method: ClassVar[str] = "majority_vote"

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        results: dict[int, Consensus] = {}
        for task_id, reads in reads_by_task.items():
            votes = {read.annotation_id: choice for read in reads if (choice := _choice(read)) is not None}
            counts = Counter(votes.values()).most_common()
            tie = len(counts) > 1 and counts[0][1] == counts[1][1]
            winner = None if not counts or tie else counts[0][0]
            items = None
            if winner is not None:
                items = [
                    {
                        "from_name": control.name,
                        "to_name": control.to_name[0],
                        "type": "choices",
                        "value": {"choices": [winner]},
                    }
                ]
            agreement = counts[0][1] / len(votes) if votes else None
            results[task_id] = Consensus(items, agreement, self.method, tuple(sorted(votes)))
        return results

    def reader_quality(self) -> dict[int, float]:
        return {}
