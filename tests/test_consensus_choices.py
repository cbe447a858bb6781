"""Single-choice and multi-label consensus: majority vote, Dawid–Skene, and the simulated physician panel."""

from __future__ import annotations

import time
from typing import Any

import pytest
from scipy.stats import spearmanr

from bench.panels import CONTROL, expected_majority_accuracy, simulate_panel
from plugins.consensus.base import INCOMPLETE, Control, Read
from plugins.consensus.choices import PATH_SEP, DawidSkeneVote, MajorityVote
from plugins.consensus.multilabel import MultiLabelVote


def choice(*labels: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "finding", "to_name": "image", "type": "choices", "value": {"choices": list(labels)}}
    ]


def reads(*answers: list[dict[str, Any]]) -> list[Read]:
    return [Read(10 + i, i + 1, items) for i, items in enumerate(answers)]


def test_majority_vote_winner_tie_and_weights() -> None:
    tasks = {1: reads(choice("A"), choice("A"), choice("B")), 2: reads(choice("A"), choice("B"))}
    result = MajorityVote().aggregate(CONTROL, tasks)
    assert result[1].items[0]["value"]["choices"] == ["A"]
    assert result[1].agreement == pytest.approx(2 / 3)
    assert result[1].per_reader[3] == {"agrees": 0.0}
    assert result[2].items is None  # a tie is for the reviewer
    weighted = MajorityVote().aggregate(CONTROL, tasks, weights={1: 0.6, 2: 0.9})
    assert weighted[2].items[0]["value"]["choices"] == ["B"]


def test_one_read_is_never_a_consensus() -> None:
    tasks = {1: reads(choice("A")), 2: reads(choice("A"), [])}
    for aggregator in (MajorityVote(), DawidSkeneVote()):
        result = aggregator.aggregate(CONTROL, tasks)
        assert result[1].items is None and result[1].method == INCOMPLETE
        assert result[2].method == INCOMPLETE  # the second read answered nothing
        assert result[1].annotation_ids == (10,)


def test_dawid_skene_on_too_few_tasks_says_it_used_majority_vote() -> None:
    aggregator = DawidSkeneVote()
    result = aggregator.aggregate(CONTROL, {1: reads(choice("A"), choice("A"), choice("B"))})
    assert result[1].method == "majority_vote"
    assert result[1].items[0]["value"]["choices"] == ["A"]
    assert aggregator.reader_quality() == {}


def test_taxonomy_paths_are_compared_whole() -> None:
    control = Control("dx", "Taxonomy", ("text",), ("Infection", "Pneumonia"))

    def path(*nodes: str) -> list[dict[str, Any]]:
        return [
            {"from_name": "dx", "to_name": "text", "type": "taxonomy", "value": {"taxonomy": [list(nodes)]}}
        ]

    result = MajorityVote().aggregate(
        control, {1: reads(path("Infection", "Pneumonia"), path("Infection", "Pneumonia"), path("Infection"))}
    )
    assert result[1].items[0]["value"] == {"taxonomy": [["Infection", "Pneumonia"]]}
    assert PATH_SEP not in str(result[1].items)


def test_worker_quality_beats_majority_and_ranks_physicians() -> None:
    """20 physicians × 2,000 tasks × 3 reads, a spammer and a confident-but-biased reader among them."""
    panel = simulate_panel(n_physicians=20, n_tasks=2000, k=3, seed=7)
    started = time.perf_counter()
    aggregator = DawidSkeneVote()
    result = aggregator.aggregate(CONTROL, panel.reads_by_task)
    assert time.perf_counter() - started < 30
    assert {c.method for c in result.values()} == {"dawid_skene"}
    accuracy = sum(c.items[0]["value"]["choices"][0] == panel.truth[t] for t, c in result.items()) / len(
        result
    )
    assert accuracy > expected_majority_accuracy(panel) + 0.02
    estimated, true = aggregator.reader_quality(), panel.true_accuracy()
    physicians = sorted(true)
    assert spearmanr([estimated[p] for p in physicians], [true[p] for p in physicians]).statistic >= 0.9
    spammer, biased = 0, 1
    assert estimated[spammer] == min(estimated.values())
    assert estimated[biased] == pytest.approx(true[biased], abs=0.05)
    assert all(0 < c.confidence <= 1 for c in result.values())


def test_gold_answers_pin_their_tasks() -> None:
    """Gold is crowd-kit's `true_labels`: those tasks take the reference answer and still rank physicians.

    (Whether gold improves the reliability estimates depends on the seed in a 600-task panel: there the
    estimates are already within sampling error of the truth, so no such claim is tested.)
    """
    panel = simulate_panel(n_physicians=20, n_tasks=600, k=3, seed=11)
    gold = {t: panel.truth[t] for t in range(0, 600, 5)}
    without = DawidSkeneVote().aggregate(CONTROL, panel.reads_by_task)
    informed = DawidSkeneVote(gold=gold)
    with_gold = informed.aggregate(CONTROL, panel.reads_by_task)
    assert all(with_gold[t].items[0]["value"]["choices"] == [answer] for t, answer in gold.items())
    assert any(without[t].items[0]["value"]["choices"] != [answer] for t, answer in gold.items())
    estimated, true = informed.reader_quality(), panel.true_accuracy()
    assert spearmanr([estimated[p] for p in true], [true[p] for p in true]).statistic >= 0.9


def test_multilabel_per_label() -> None:
    control = Control("zones", "Choices", ("image",), ("upper", "middle", "lower"), {"choice": "multiple"})
    tasks = {
        1: reads(choice("upper", "lower"), choice("upper"), choice("upper", "lower")),
        2: reads(choice(), choice(), choice("middle")),
    }
    result = MultiLabelVote().aggregate(control, tasks)
    assert result[1].method == "per_label_majority"  # two tasks: too few for Dawid–Skene
    assert result[1].items[0]["value"]["choices"] == ["lower", "upper"]
    assert result[1].per_reader[2] == {"missed": 1, "extra": 0}
    assert result[2].items[0]["value"]["choices"] == []
    assert result[2].per_reader[3] == {"missed": 0, "extra": 1}
    assert result[1].agreement == pytest.approx((1 + 2 / 3) / 2)


def test_multilabel_dawid_skene_on_a_panel() -> None:
    """Each label of a multi-label control as its own yes/no panel: per-label DS is at least as accurate as
    per-label majority (exact label sets) and ranks the spammer last."""
    panel = simulate_panel(n_physicians=10, n_tasks=400, k=3, seed=4)
    control = Control("finding", "Choices", ("image",), CONTROL.labels, {"choice": "multiple"})

    def exact(result: dict) -> float:
        return sum(c.items[0]["value"]["choices"] == [panel.truth[t]] for t, c in result.items()) / len(
            result
        )

    aggregator = MultiLabelVote()
    result = aggregator.aggregate(control, panel.reads_by_task)
    majority = MultiLabelVote(min_tasks=len(panel.reads_by_task) + 1).aggregate(control, panel.reads_by_task)
    assert {c.method for c in result.values()} == {"per_label_dawid_skene"}
    assert {c.method for c in majority.values()} == {"per_label_majority"}
    assert exact(result) > exact(majority)
    quality = aggregator.reader_quality()
    assert quality[0] == min(quality.values())
