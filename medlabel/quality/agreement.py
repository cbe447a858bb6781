"""Agreement among physicians: chance-corrected coefficients for labels, overlap scores for regions and spans.

Pure functions on plain mappings (no DB, no Label Studio). Label data is `{item: {physician: value}}`; a
physician who did not read an item is simply absent.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal

import krippendorff
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import cohen_kappa_score

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Ratings = Mapping[Hashable, Mapping[int, Hashable]]


def physicians(ratings: Ratings) -> list[int]:
    return sorted({p for by_reader in ratings.values() for p in by_reader})


def cohen_kappa_pairs(
    ratings: Ratings, *, weights: Literal["linear", "quadratic"] | None = None, min_items: int = 2
) -> dict[tuple[int, int], float]:
    """Cohen's kappa (scikit-learn) for every physician pair over the items both read.

    `weights` gives weighted kappa for ordinal scales. Pairs with fewer than `min_items` shared items, or
    with no variation at all (kappa undefined), are left out rather than reported as 0 or 1.
    """
    by_physician: dict[int, dict[Hashable, Hashable]] = {}
    for item, by_reader in ratings.items():
        for physician, value in by_reader.items():
            by_physician.setdefault(physician, {})[item] = value
    result: dict[tuple[int, int], float] = {}
    for a, b in combinations(sorted(by_physician), 2):
        shared = by_physician[a].keys() & by_physician[b].keys()
        if len(shared) < min_items:
            continue
        x = [by_physician[a][i] for i in shared]
        y = [by_physician[b][i] for i in shared]
        if len(set(x) | set(y)) < 2:
            continue
        labels = sorted(set(x) | set(y), key=str) if weights is None else sorted(set(x) | set(y))
        result[(a, b)] = float(cohen_kappa_score(x, y, labels=labels, weights=weights))
    return result


def fleiss_kappa(ratings: Ratings) -> float | None:
    """Fleiss' kappa over items with at least two reads (unequal read counts allowed).

    Hand-written because statsmodels (which has `fleiss_kappa`) is not in the lock and would be pulled in
    for ten lines. Fleiss JL (1971), Measuring nominal scale agreement among many raters, Psychol Bull
    76:378-82, with the per-item agreement P_i normalised by that item's own n_i(n_i-1) so items with
    different numbers of reads can be combined (as in Krippendorff's treatment of missing data).
    """
    items = [list(r.values()) for r in ratings.values() if len(r) >= 2]
    if not items:
        return None
    categories = sorted({v for values in items for v in values}, key=str)
    index = {c: i for i, c in enumerate(categories)}
    counts = np.zeros((len(items), len(categories)))
    for row, values in enumerate(items):
        for value in values:
            counts[row, index[value]] += 1
    n = counts.sum(axis=1)
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (n * (n - 1))
    p_j = counts.sum(axis=0) / n.sum()
    p_bar, p_e = p_i.mean(), float((p_j**2).sum())
    return None if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(ratings: Ratings, level: Level = "nominal") -> float | None:
    """Krippendorff's alpha (the `krippendorff` package) at the level of measurement the control demands.

    Nominal values may be any hashable (coded to integers here); ordinal, interval and ratio values must be
    numbers in their scale's order. None when fewer than two items have two reads or nothing varies.
    """
    readers = physicians(ratings)
    items = [r for r in ratings.values() if len(r) >= 2]
    if len(items) < 2:
        return None
    codes: dict[Hashable, float] = {}
    if level == "nominal":
        codes = {v: float(i) for i, v in enumerate(sorted({v for r in items for v in r.values()}, key=str))}
    row_of = {p: i for i, p in enumerate(readers)}
    data = np.full((len(readers), len(items)), np.nan)
    for col, by_reader in enumerate(items):
        for physician, value in by_reader.items():
            data[row_of[physician], col] = codes[value] if codes else float(value)  # type: ignore[arg-type]
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def per_label_alpha(
    label_sets: Mapping[Hashable, Mapping[int, Iterable[str]]], labels: Sequence[str]
) -> dict[str, float | None]:
    """Nominal alpha per label, each label one-vs-rest: for multi-label controls and "agreement per label"."""
    return {
        label: krippendorff_alpha(
            {
                item: {p: int(label in set(chosen)) for p, chosen in by_reader.items()}
                for item, by_reader in label_sets.items()
            }
        )
        for label in labels
    }


# ---------------------------------------------------------------- regions and spans


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two axis-aligned boxes given as (x0, y0, x1, y1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def interval_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two intervals (start, end); two identical instants count as 1."""
    if a[0] == a[1] == b[0] == b[1]:
        return 1.0
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(0.0, inter) / union if union > 0 else 0.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two binary masks; two empty masks agree perfectly."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def match(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Hungarian matching (scipy) maximising total similarity; pairs below `threshold` stay unmatched."""
    if similarity.size == 0:
        return []
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if similarity[r, c] >= threshold]


def matched_f1(similarity: np.ndarray, threshold: float, *, soft: bool = False) -> float:
    """F1 of one reader's regions against another's (rows vs columns of `similarity`).

    A matched pair counts 1, or its similarity when `soft` (so sloppy outlines cost agreement too). Two
    readers who both found nothing agree: 1.
    """
    n_a, n_b = similarity.shape
    if n_a + n_b == 0:
        return 1.0
    pairs = match(similarity, threshold)
    hits = sum(float(similarity[r, c]) for r, c in pairs) if soft else len(pairs)
    return 2.0 * hits / (n_a + n_b)


def span_f1(
    a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]], threshold: float = 0.5
) -> float:
    """F1 of two readers' spans or intervals, a pair matching at IoU ≥ `threshold`."""
    sim = np.array([[interval_iou(x, y) for y in b] for x in a]).reshape(len(a), len(b))
    return matched_f1(sim, threshold)


def event_f1(a: Sequence[float], b: Sequence[float], tolerance: float) -> float:
    """F1 of two readers' point events (e.g. ECG beats at R-peak times), matched within `tolerance`."""
    sim = np.array([[1.0 - abs(x - y) / tolerance for y in b] for x in a]).reshape(len(a), len(b))
    return matched_f1(sim, 0.0)


def mean_pairwise(values: Mapping[tuple[int, int], float]) -> float | None:
    return float(np.mean(list(values.values()))) if values else None
