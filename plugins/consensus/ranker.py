"""Rankings (`Ranker`) and pairwise choices (`Pairwise`): Bradley–Terry scores (crowd-kit) per task.

Each reader's ranking becomes its pairwise comparisons (the first item beats every later one); a Pairwise
read is one comparison of "left" and "right". Bucketed Ranker configs are not aggregated: only the list
under the control's own name (the plain ranking) is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import ClassVar

import numpy as np
import pandas as pd
from crowdkit.aggregation import BradleyTerry
from scipy.stats import kendalltau

from plugins.consensus.base import MIN_READS, Consensus, Control, Read, incomplete, result_item


def ranking_of(control: Control, read: Read) -> list[str] | None:
    """The read's order, best first; a Pairwise read as [winner, loser]."""
    for item in read.items:
        value = item.get("value", {})
        if (selected := value.get("selected")) in ("left", "right"):
            return [selected, "right" if selected == "left" else "left"]
        ranker = value.get("ranker") or {}
        if ranking := ranker.get(control.name):
            return [str(x) for x in ranking]
    return None


class BradleyTerryRank:
    """Items ordered by Bradley–Terry score over all readers' comparisons (Hunter 2004's MM algorithm, as
    crowd-kit implements it). Equal top scores (a 1–1 Pairwise split) are no consensus.

    Agreement: the readers' mean pairwise Kendall tau over shared items, mapped to 0..1; per_reader: each
    reader's tau against the consensus order.
    """

    method: ClassVar[str] = "bradley_terry"

    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        results: dict[int, Consensus] = {}
        for task_id, reads in reads_by_task.items():
            ranked = [(read, r) for read in reads if (r := ranking_of(control, read))]
            if len(ranked) < MIN_READS:
                results[task_id] = incomplete(reads)
                continue
            frame = pd.DataFrame(
                [(read.annotation_id, a, b, a) for read, r in ranked for a, b in combinations(r, 2)],
                columns=["worker", "left", "right", "label"],
            )
            scores = BradleyTerry(n_iter=100).fit_predict(frame).sort_values(ascending=False, kind="stable")
            order = [str(x) for x in scores.index]
            tied = len(scores) > 1 and np.isclose(scores.iloc[0], scores.iloc[1])
            taus = [_tau(a, b) for (_, a), (_, b) in combinations(ranked, 2)]
            if tied:
                items = None
            elif control.tag == "Pairwise":
                # Label Studio writes a Pairwise result with to_name equal to from_name (SDK's PairwiseTag).
                items = [result_item(control, "pairwise", {"selected": order[0]}, to_name=control.name)]
            else:
                items = [result_item(control, "ranker", {"ranker": {control.name: order}})]
            results[task_id] = Consensus(
                items,
                float((np.mean(taus) + 1) / 2),
                self.method,
                tuple(sorted(read.annotation_id for read, _ in ranked)),
                {read.physician_id: {"kendall_tau": _tau(r, order)} for read, r in ranked},
            )
        return results

    def reader_quality(self) -> dict[int, float]:
        return {}


def _tau(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall tau over the items both orders contain; 1 for fewer than two shared items."""
    shared = [x for x in a if x in b]
    if len(shared) < 2:
        return 1.0
    return float(kendalltau([a.index(x) for x in shared], [b.index(x) for x in shared]).statistic)
