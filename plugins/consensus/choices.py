"""Single-choice consensus (`Choices`, `Taxonomy`): majority vote and Dawid–Skene (crowd-kit).

A Taxonomy answer is its first selected path, compared whole (a reader who stops one level higher
disagrees); multi-label and rubric Choices have their own aggregators (`multilabel`, `ratings`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

from plugins.consensus.base import MIN_READS, Consensus, Control, Read, gc_paused, incomplete, result_item

#: Joins a taxonomy path into one label (a character no config value contains).
PATH_SEP = "\x1f"


def choice_of(read: Read) -> str | None:
    """The read's single answer: its first choice, or its first taxonomy path joined by PATH_SEP."""
    for item in read.items:
        value = item.get("value", {})
        if choices := value.get("choices"):
            return str(choices[0])
        if paths := value.get("taxonomy"):
            return PATH_SEP.join(map(str, paths[0]))
    return None


def choice_item(control: Control, label: str) -> dict:
    if control.tag == "Taxonomy":
        return result_item(control, "taxonomy", {"taxonomy": [label.split(PATH_SEP)]})
    return result_item(control, "choices", {"choices": [label]})


#: The reads of one task that answered, each with its answer.
Votes = list[tuple[Read, str]]


def votes_of(reads_by_task: Mapping[int, Sequence[Read]]) -> dict[int, Votes]:
    return {
        task_id: [(read, choice) for read in reads if (choice := choice_of(read)) is not None]
        for task_id, reads in reads_by_task.items()
    }


def _consensus(
    control: Control, votes: Votes, winner: str | None, method: str, confidence: float | None = None
) -> Consensus:
    """Agreement: the share of reads for the winner; on a tie, the largest share any answer got."""
    shares = Counter(choice for _, choice in votes)
    agreeing = shares[winner] if winner is not None else max(shares.values())
    return Consensus(
        [choice_item(control, winner)] if winner is not None else None,
        agreeing / len(votes),
        method,
        tuple(sorted(read.annotation_id for read, _ in votes)),
        {read.physician_id: {"agrees": float(choice == winner)} for read, choice in votes},
        confidence,
    )


class MajorityVote:
    """The plurality choice, each read weighted by its physician's reliability when weights are given.

    A tie is no consensus: adjudication decides. Agreement: the share of reads for the winner.
    """

    method: ClassVar[str] = "majority_vote"

    @gc_paused
    def aggregate(
        self,
        control: Control,
        reads_by_task: Mapping[int, Sequence[Read]],
        *,
        weights: Mapping[int, float] | None = None,
    ) -> dict[int, Consensus]:
        results: dict[int, Consensus] = {}
        for task_id, votes in votes_of(reads_by_task).items():
            if len(votes) < MIN_READS:
                results[task_id] = incomplete(reads_by_task[task_id])
                continue
            tally: dict[str, float] = defaultdict(float)
            for read, choice in votes:
                tally[choice] += 1.0 if weights is None else weights.get(read.physician_id, 0.5)
            ranked = sorted(tally.items(), key=lambda kv: -kv[1])
            tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
            results[task_id] = _consensus(control, votes, None if tie else ranked[0][0], self.method)
        return results

    def reader_quality(self) -> dict[int, float]:
        return {}


class DawidSkeneVote:
    """Dawid–Skene (crowd-kit): each physician's confusion matrix and the class priors, learned by EM over
    the whole project, weigh their reads; the answer is the label of highest posterior.

    Dawid AP, Skene AM (1979), Maximum likelihood estimation of observer error-rates using the EM
    algorithm, JRSS C 28:20-8. Chosen over OneCoinDawidSkene/GLAD/MACE because a full confusion matrix is
    what catches a confident-but-biased reader (one who calls every "B" an "A"), which one skill number
    cannot express. With fewer than `min_tasks` tasks, or one label in all, the matrices are not estimable
    and the project falls back to majority vote, recorded as such. `weights` are not used: the model
    estimates reliability itself (the flow can compare both). `gold` (task id → reference answer, as
    `choice_of` spells it) pins those tasks' truth during EM (crowd-kit's `true_labels`), so gold reads
    shape every physician's confusion matrix.
    """

    method: ClassVar[str] = "dawid_skene"

    def __init__(
        self,
        *,
        gold: Mapping[int, str] | None = None,
        min_tasks: int = 20,
        n_iter: int = 100,
        tol: float = 1e-4,
    ) -> None:
        self.gold = dict(gold or {})
        self.min_tasks = min_tasks
        self.n_iter = n_iter
        #: EM stops when the evidence bound per read gains less than this. crowd-kit's 1e-5 takes 38
        #: iterations on bench.quality's 100,000 tasks, 1e-4 takes 25 and changes no answer's accuracy.
        self.tol = tol
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
        votes = votes_of(reads_by_task)
        enough = {task_id: v for task_id, v in votes.items() if len(v) >= MIN_READS}
        labels = {choice for v in enough.values() for _, choice in v}
        if len(enough) < self.min_tasks or len(labels) < 2:
            return MajorityVote().aggregate(control, reads_by_task, weights=weights)
        frame = pd.DataFrame(
            [(task_id, read.physician_id, choice) for task_id, v in enough.items() for read, choice in v],
            columns=["task", "worker", "label"],
        )
        model = DawidSkene(n_iter=self.n_iter, tol=self.tol)
        gold = pd.Series(
            {t: label for t, label in self.gold.items() if t in enough and label in labels}, dtype=object
        )
        probas = model.fit(frame, true_labels=gold if len(gold) else None).probas_
        best = probas.to_numpy().argmax(axis=1)
        winners = dict(zip(probas.index, probas.columns[best], strict=True))
        posterior = dict(zip(probas.index, probas.to_numpy().max(axis=1), strict=True))
        self._quality = prior_weighted_accuracy(model.errors_, model.priors_)
        results = {task_id: incomplete(reads_by_task[task_id]) for task_id in votes if task_id not in enough}
        for task_id, v in enough.items():
            results[task_id] = _consensus(
                control, v, str(winners[task_id]), self.method, float(posterior[task_id])
            )
        return results

    def reader_quality(self) -> dict[int, float]:
        """Each physician's estimated accuracy: their confusion matrix's diagonal weighted by class priors."""
        return dict(self._quality)


def prior_weighted_accuracy(errors: pd.DataFrame, priors: pd.Series) -> dict[int, float]:
    """Σ_c prior(c) · P(reader says c | truth c) from crowd-kit's errors_ (index (worker, said), columns truth)."""
    quality: dict[int, float] = {}
    for worker, matrix in errors.groupby(level=0):
        said = matrix.droplevel(0).reindex(index=priors.index, columns=priors.index, fill_value=0.0)
        quality[int(worker)] = float(np.dot(priors.to_numpy(), np.diag(said.to_numpy())))
    return quality
