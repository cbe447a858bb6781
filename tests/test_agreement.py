"""Agreement metrics against published worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from medlabel.quality.agreement import (
    box_iou,
    cohen_kappa_pairs,
    dice,
    event_f1,
    fleiss_kappa,
    interval_iou,
    krippendorff_alpha,
    mask_iou,
    matched_f1,
    per_label_alpha,
    span_f1,
)

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories → 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 observers × 12 units example.
KRIPPENDORFF = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _from_rows(rows: list[list[int | None]]) -> dict[int, dict[int, int]]:
    return {
        unit: {obs: row[unit] for obs, row in enumerate(rows) if row[unit] is not None}
        for unit in range(len(rows[0]))
    }


def test_fleiss_kappa_matches_the_worked_example() -> None:
    ratings = {}
    for item, counts in enumerate(FLEISS_TABLE):
        values = [c for c, n in enumerate(counts) for _ in range(n)]
        ratings[item] = dict(enumerate(values))
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.001)


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("interval", 0.849)])
def test_krippendorff_alpha_matches_the_worked_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(_from_rows(KRIPPENDORFF), level) == pytest.approx(expected, abs=0.001)  # type: ignore[arg-type]


def test_alpha_is_none_without_variation_or_pairs() -> None:
    assert krippendorff_alpha({1: {1: "a", 2: "a"}, 2: {1: "a", 2: "a"}}) is None
    assert krippendorff_alpha({1: {1: "a"}}) is None


def test_cohen_kappa_per_pair() -> None:
    a = ["x", "x", "y", "y", "x", "y"]
    b = ["x", "x", "y", "x", "x", "y"]
    ratings = {i: {1: a[i], 2: b[i], 3: a[i]} for i in range(6)}
    kappas = cohen_kappa_pairs(ratings)
    assert kappas[(1, 3)] == pytest.approx(1.0)
    # p_o = 5/6, p_e = (3·4 + 3·2)/36 = 0.5 → kappa = 2/3
    assert kappas[(1, 2)] == pytest.approx(2 / 3)


def test_per_label_alpha_separates_labels() -> None:
    label_sets = {i: {1: {"a", "b"} if i % 2 else {"a"}, 2: {"a", "b"} if i % 2 else {"a"}} for i in range(6)}
    label_sets[0][2] = {"b"}
    alphas = per_label_alpha(label_sets, ["a", "b"])
    assert alphas["a"] is None or alphas["a"] < 1  # "a" almost always ticked: little to agree on
    assert alphas["b"] is not None and alphas["b"] > 0.5


def test_overlap_scores() -> None:
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0
    assert interval_iou((0, 10), (5, 15)) == pytest.approx(1 / 3)
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert dice(a, b) == pytest.approx(0.5)
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    assert dice(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1


def test_f1_for_spans_and_beats() -> None:
    assert span_f1([(0, 10), (20, 30)], [(1, 10)]) == pytest.approx(2 / 3)
    assert span_f1([], []) == 1
    assert event_f1([1.0, 2.0, 3.0], [1.02, 2.5, 3.01], tolerance=0.075) == pytest.approx(2 / 3)
    assert matched_f1(np.array([[0.9, 0.0], [0.0, 0.6]]), 0.5, soft=True) == pytest.approx(1.5 / 2)
