"""Simulated panels of physicians with known confusion matrices, shared by the consensus tests and bench.

Reliable physicians of graded accuracy, one spammer (answers at random) and one confident-but-biased
physician (calls every case of one abnormal class "normal", otherwise near perfect). Each task is read by k
physicians drawn at random; the class prior is skewed the way clinical data is (mostly normal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugins.consensus.base import Control, Read

CLASSES = ("normal", "pneumonia", "effusion", "nodule")
PRIORS = np.array([0.55, 0.2, 0.15, 0.1])
CONTROL = Control("finding", "Choices", ("image",), CLASSES, {"choice": "single"})


@dataclass(frozen=True)
class Panel:
    #: physician id → row-stochastic confusion matrix (truth × said).
    confusion: dict[int, np.ndarray]
    #: task id → true class.
    truth: dict[int, str]
    reads_by_task: dict[int, list[Read]]

    def true_accuracy(self) -> dict[int, float]:
        """Each physician's expected accuracy under the class prior: Σ_c prior(c) · P(says c | truth c)."""
        return {p: float(PRIORS @ np.diag(m)) for p, m in self.confusion.items()}


def confusions(n_physicians: int) -> dict[int, np.ndarray]:
    """Physician 0 is the spammer, 1 the biased reader, the rest graded from 0.55 to 0.97 accuracy."""
    k = len(CLASSES)
    panel = {0: np.full((k, k), 1.0 / k)}
    biased = np.eye(k) * 0.97 + (1 - np.eye(k)) * 0.01
    biased[1] = np.eye(k)[0]  # every pneumonia read as normal
    panel[1] = biased
    for offset, accuracy in enumerate(np.linspace(0.55, 0.97, n_physicians - 2)):
        panel[offset + 2] = np.eye(k) * accuracy + (1 - np.eye(k)) * (1 - accuracy) / (k - 1)
    return panel


def simulate_panel(n_physicians: int = 20, n_tasks: int = 2000, k: int = 3, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    confusion = confusions(n_physicians)
    truth = rng.choice(len(CLASSES), size=n_tasks, p=PRIORS)
    readers = np.argsort(rng.random((n_tasks, n_physicians)), axis=1)[:, :k]
    # Inverse-CDF sampling of every read at once: row of the reader's matrix for the task's truth.
    cumulative = np.stack([confusion[p] for p in range(n_physicians)]).cumsum(axis=2)
    rows = cumulative[readers, truth[:, None]]
    said = np.minimum((rows < rng.random((n_tasks, k, 1))).sum(axis=2), len(CLASSES) - 1)
    reads_by_task: dict[int, list[Read]] = {}
    for task in range(n_tasks):
        reads_by_task[task] = [
            Read(
                task * k + j,
                int(readers[task, j]),
                [
                    {
                        "from_name": "finding",
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": [CLASSES[said[task, j]]]},
                    }
                ],
            )
            for j in range(k)
        ]
    return Panel(confusion, {t: CLASSES[c] for t, c in enumerate(truth)}, reads_by_task)


def expected_majority_accuracy(panel: Panel) -> float:
    """Plurality vote's accuracy with ties broken at random (its expected value), the baseline to beat."""
    total = 0.0
    for task, reads in panel.reads_by_task.items():
        said = [read.items[0]["value"]["choices"][0] for read in reads]
        counts = {c: said.count(c) for c in set(said)}
        top = max(counts.values())
        winners = [c for c, n in counts.items() if n == top]
        total += (panel.truth[task] in winners) / len(winners)
    return total / len(panel.reads_by_task)
