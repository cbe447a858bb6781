"""Free text (`TextArea`): the reads are kept and no consensus is claimed.

Merging physicians' prose (ROVER and kin) would invent a sentence none of them wrote; the reviewer reads
all of them instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from plugins.consensus.base import Consensus, Control, Read


class ReadsOnly:
    method: ClassVar[str] = "reads_only"

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        return {
            task_id: Consensus(None, None, self.method, tuple(sorted(read.annotation_id for read in reads)))
            for task_id, reads in reads_by_task.items()
        }

    def reader_quality(self) -> dict[int, float]:
        return {}
