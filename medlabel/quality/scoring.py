"""Pure scoring: comparing reads with an answer, and a physician's accuracy from gold reads with a Beta prior.

A physician's gold reads of one control form a confusion matrix (reference label × given label). Each row is
read with a Dirichlet prior that puts PRIOR_CORRECT pseudo-reads on the diagonal and PRIOR_WRONG spread over
the rest, so the chance of reading a label right is Beta(n_right + PRIOR_CORRECT, n_wrong + PRIOR_WRONG):
three right answers give 0.83, not 1.0. The overall accuracy pools every control the same way, and the
worker-quality model's estimate joins as MODEL_READS pseudo-reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The prior: a physician is taken to be 70 % right, with the weight of 4 reads.
PRIOR_CORRECT = 2.8
PRIOR_WRONG = 1.2
#: How many gold reads the worker-quality model's estimate of a physician is worth.
MODEL_READS = 5
#: The label given by a read that left the control empty.
NO_ANSWER = "(none)"


def comparable(items: Sequence[Mapping[str, Any]] | None) -> str:
    """A canonical form of result items (ids, scores and origin dropped) so equal answers compare equal."""
    kept = [
        {k: item.get(k) for k in ("from_name", "to_name", "type", "value")}
        for item in items or ()
        if isinstance(item, Mapping)
    ]
    return json.dumps(sorted(kept, key=lambda i: json.dumps(i, sort_keys=True)), sort_keys=True)


def same_answer(a: Sequence[Mapping[str, Any]] | None, b: Sequence[Mapping[str, Any]] | None) -> bool:
    return comparable(a) == comparable(b)


def choice_label(items: Sequence[Mapping[str, Any]] | None) -> str:
    """The label a choices read gives ("A|B" for several ticks, NO_ANSWER for none)."""
    for item in items or ():
        choices = (item.get("value") or {}).get("choices") if isinstance(item, Mapping) else None
        if choices:
            return "|".join(sorted(str(c) for c in choices))
    return NO_ANSWER


@dataclass(frozen=True)
class Estimate:
    """A physician's accuracy: posterior mean, 95 % credible interval and the reads behind it."""

    mean: float
    low: float
    high: float
    reads: int


def posterior(correct: float, total: float, model_quality: float | None = None) -> Estimate:
    """Beta posterior of accuracy from `correct` of `total` gold reads, plus the model's estimate if any."""
    from scipy.stats import beta  # importing scipy.stats takes seconds: not on sync's import path

    extra = MODEL_READS if model_quality is not None else 0
    a = PRIOR_CORRECT + correct + extra * (model_quality or 0.0)
    b = PRIOR_WRONG + (total - correct) + extra * (1.0 - (model_quality or 0.0))
    low, high = beta.ppf([0.025, 0.975], a, b)
    return Estimate(a / (a + b), float(low), float(high), int(round(total)) + extra)


def confusion(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """reference label -> given label -> count."""
    matrix: dict[str, dict[str, int]] = {}
    for reference, given in pairs:
        row = matrix.setdefault(reference, {})
        row[given] = row.get(given, 0) + 1
    return matrix


def per_label(matrix: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """label -> posterior mean of reading it right (each confusion row under the Dirichlet prior)."""
    return {
        label: (row.get(label, 0) + PRIOR_CORRECT) / (sum(row.values()) + PRIOR_CORRECT + PRIOR_WRONG)
        for label, row in sorted(matrix.items())
    }
