"""Median scores, rubric recognition, Bradley–Terry rankings and free text."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.consensus.base import INCOMPLETE, Control, Read
from plugins.consensus.ranker import BradleyTerryRank
from plugins.consensus.ratings import MedianScore, measurement_level, rubric_scores, tastle_wierman
from plugins.consensus.textarea import ReadsOnly

PHQ = Control(
    "item1",
    "Choices",
    ("text",),
    ("0 - Not at all", "1 - Several days", "2 - More than half the days", "3 - Nearly every day"),
)
KL = Control(
    "kl", "Choices", ("image",), ("KL 0 - none", "KL 1 - doubtful", "KL 2 - minimal", "Not assessable")
)


def reads(*items: dict[str, Any]) -> list[Read]:
    return [Read(10 + i, i + 1, [item] if item else []) for i, item in enumerate(items)]


def choice(label: str, name: str = "item1") -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [label]}}


@pytest.mark.parametrize(
    ("labels", "is_rubric"),
    [
        (PHQ.labels, True),
        (KL.labels, True),
        (("1", "2", "3", "4", "5"), True),
        (("0 - Incomplete", "1 - Negative", "2 - Benign", "4A - Low suspicion"), False),  # BI-RADS codes
        (("1 Humerus", "2 Radius/ulna", "3 Femur"), False),  # AO bone codes
        (("Normal", "Mild", "Severe"), False),
        (("0 - none", "1 - some"), False),  # two points are a yes/no
    ],
)
def test_rubric_recognition(labels: tuple[str, ...], is_rubric: bool) -> None:
    assert (rubric_scores(Control("c", "Choices", ("x",), labels)) is not None) is is_rubric


def test_measurement_level_follows_the_control() -> None:
    assert measurement_level(PHQ) == "ordinal"
    assert measurement_level(Control("q", "Rating", ("x",))) == "ordinal"
    assert measurement_level(Control("n", "Number", ("x",))) == "interval"
    assert measurement_level(Control("c", "Choices", ("x",), ("Normal", "Abnormal"))) == "nominal"


def test_rubric_median_and_dispersion() -> None:
    tasks = {
        1: reads(
            choice("1 - Several days"), choice("2 - More than half the days"), choice("1 - Several days")
        ),
        2: reads(choice("0 - Not at all"), choice("3 - Nearly every day")),
        3: reads(choice("2 - More than half the days")),
    }
    result = MedianScore().aggregate(PHQ, tasks)
    assert result[1].items[0]["value"]["choices"] == ["1 - Several days"]
    assert result[1].per_reader[2] == {"distance": 1.0}
    assert 0.7 < result[1].agreement < 1
    assert result[2].items is None and result[2].agreement == pytest.approx(0.0)  # split at the extremes
    assert result[3].method == INCOMPLETE


def test_unscored_option_wins_only_with_a_majority() -> None:
    na = choice("Not assessable", "kl")
    tasks = {
        1: reads(na, na, choice("KL 2 - minimal", "kl")),
        2: reads(na, choice("KL 1 - doubtful", "kl"), choice("KL 2 - minimal", "kl")),
    }
    result = MedianScore().aggregate(KL, tasks)
    assert result[1].items[0]["value"]["choices"] == ["Not assessable"]
    assert result[2].items is None  # KL 1 vs KL 2: no median on the scale; the unscored read does not vote


def test_rating_and_number() -> None:
    rating = Control("q", "Rating", ("x",), attrs={"maxrating": "5"})
    number = Control("n", "Number", ("x",), attrs={"min": "0", "max": "100"})
    r = MedianScore().aggregate(rating, {1: reads(*({"value": {"rating": v}} for v in (4, 5, 5)))})[1]
    assert r.items[0]["value"] == {"rating": 5}
    n = MedianScore().aggregate(number, {1: reads(*({"value": {"number": v}} for v in (40.0, 50.0)))})[1]
    assert n.items[0]["value"] == {"number": 45.0}
    assert n.agreement == pytest.approx(tastle_wierman([40, 50], 0, 100))
    unbounded = Control("n", "Number", ("x",))
    assert (
        MedianScore()
        .aggregate(unbounded, {1: reads(*({"value": {"number": v}} for v in (1.0, 2.0)))})[1]
        .agreement
        is None
    )


def test_tastle_wierman_bounds() -> None:
    assert tastle_wierman([3, 3, 3], 1, 5) == 1
    assert tastle_wierman([1, 5], 1, 5) == pytest.approx(0)


RANKER = Control("rank", "Ranker", ("answers",))


def ranking(*ids: str) -> dict[str, Any]:
    return {
        "from_name": "rank",
        "to_name": "answers",
        "type": "ranker",
        "value": {"ranker": {"rank": list(ids)}},
    }


def test_bradley_terry_ranking() -> None:
    result = BradleyTerryRank().aggregate(
        RANKER, {1: reads(ranking("a", "b", "c"), ranking("a", "c", "b"), ranking("b", "a", "c"))}
    )[1]
    assert result.method == "bradley_terry"
    assert result.items[0]["value"]["ranker"]["rank"] == ["a", "b", "c"]
    assert result.per_reader[1] == {"kendall_tau": pytest.approx(1.0)}
    assert 0 < result.agreement < 1


def test_pairwise_split_is_no_consensus() -> None:
    pairwise = Control("cmp", "Pairwise", ("left", "right"))
    pick = {"left": {"value": {"selected": "left"}}, "right": {"value": {"selected": "right"}}}
    result = BradleyTerryRank().aggregate(
        pairwise, {1: reads(pick["left"], pick["right"]), 2: reads(pick["left"], pick["left"], pick["right"])}
    )
    assert result[1].items is None
    assert result[2].items[0]["value"] == {"selected": "left"}
    assert result[2].items[0]["to_name"] == "cmp"  # as Label Studio writes Pairwise results


def test_free_text_keeps_reads_and_claims_nothing() -> None:
    control = Control("comment", "TextArea", ("x",))
    result = ReadsOnly().aggregate(
        control, {1: reads({"value": {"text": ["a"]}}, {"value": {"text": ["b"]}})}
    )[1]
    assert result.items is None and result.agreement is None and result.method == "reads_only"
    assert result.annotation_ids == (10, 11)
