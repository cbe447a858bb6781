"""Multi-label `Choices` (choice="multiple"): each label decided on its own, by Dawid–Skene over the project.

Per-label Dawid–Skene is crowd-kit's `BinaryRelevance(DawidSkene())`; that class is not used itself because
it assigns to a DataFrame slice (pandas' SettingWithCopyWarning, an error under our warning policy), so the
same loop is written here over crowd-kit's `DawidSkene`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

from plugins.consensus.base import MIN_READS, Consensus, Control, Read, gc_paused, incomplete, result_item
from plugins.consensus.choices import prior_weighted_accuracy


def chosen(read: Read) -> frozenset[str]:
    """Every choice the read ticked (an empty set is an answer: "none of these")."""
    return frozenset(str(c) for item in read.items for c in item.get("value", {}).get("choices", ()))


class MultiLabelVote:
    """Per label, yes/no by Dawid–Skene (majority of reads when the project is too small to fit it).

    Agreement: the mean over labels anyone ticked of the share of reads agreeing with the decision.
    reader_quality: each physician's prior-weighted accuracy averaged over labels.
    """

    method: ClassVar[str] = "per_label_dawid_skene"

    def __init__(self, *, min_tasks: int = 20, n_iter: int = 100, tol: float = 1e-4) -> None:
        self.min_tasks = min_tasks
        self.n_iter = n_iter
        self.tol = tol  # as DawidSkeneVote's
        self._quality: dict[int, float] = {}

    @gc_paused
    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        self._quality = {}
        enough = {t: reads for t, reads in reads_by_task.items() if len(reads) >= MIN_READS}
        answers = {t: [(read, chosen(read)) for read in reads] for t, reads in enough.items()}
        labels = sorted(set(control.labels) | {c for a in answers.values() for _, s in a for c in s})
        use_model = len(enough) >= self.min_tasks
        method = self.method if use_model else "per_label_majority"
        decided: dict[str, dict[int, bool]] = {}
        qualities: dict[int, list[float]] = {}
        for label in labels:
            said = {t: [(read, label in s) for read, s in a] for t, a in answers.items()}
            if use_model and len({v for a in said.values() for _, v in a}) == 2:
                decided[label], quality = _dawid_skene(said, self.n_iter, self.tol)
                for physician, q in quality.items():
                    qualities.setdefault(physician, []).append(q)
            else:
                decided[label] = {t: 2 * sum(v for _, v in a) > len(a) for t, a in said.items()}
        self._quality = {p: float(np.mean(q)) for p, q in qualities.items()}
        results = {t: incomplete(reads) for t, reads in reads_by_task.items() if t not in enough}
        for task_id, a in answers.items():
            winners = [label for label in labels if decided[label][task_id]]
            asked = [label for label in labels if any(label in s for _, s in a)]
            shares = [np.mean([(label in s) == decided[label][task_id] for _, s in a]) for label in asked]
            results[task_id] = Consensus(
                [result_item(control, "choices", {"choices": winners})],
                float(np.mean(shares)) if shares else 1.0,
                method,
                tuple(sorted(read.annotation_id for read, _ in a)),
                {
                    read.physician_id: {"missed": len(set(winners) - s), "extra": len(s - set(winners))}
                    for read, s in a
                },
            )
        return results

    def reader_quality(self) -> dict[int, float]:
        return dict(self._quality)


def _dawid_skene(
    said: Mapping[int, Sequence[tuple[Read, bool]]], n_iter: int, tol: float
) -> tuple[dict[int, bool], dict[int, float]]:
    frame = pd.DataFrame(
        [(t, read.physician_id, int(v)) for t, a in said.items() for read, v in a],
        columns=["task", "worker", "label"],
    )
    model = DawidSkene(n_iter=n_iter, tol=tol).fit(frame)
    decided = {int(t): bool(v) for t, v in model.labels_.items()}
    return decided, prior_weighted_accuracy(model.errors_, model.priors_)
