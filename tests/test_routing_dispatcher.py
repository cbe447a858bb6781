"""The dispatcher core on a realistic generated pool: eligibility, k distinct reads, capacity, balance."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest

from medlabel.routing.dispatcher import Decision, Dispatcher, TaskRequest, candidates
from medlabel.routing.generator import INSTITUTIONS, SPECIALTY_WEIGHTS, generate_pool, to_csv
from medlabel.routing.pool_csv import parse_pool_csv
from medlabel.routing.rules import PhysicianView, Policy, qualification, remaining_capacity, share_weight
from medlabel.specialties import SPECIALTIES, Tier


def pool_views(seed: int = 1, size: int = 320) -> list[PhysicianView]:
    """The generated pool as the dispatcher sees it, with ~5% paused and a spread of measured accuracy."""
    records, errors = parse_pool_csv(to_csv(generate_pool(size, seed=seed)))
    assert errors == []
    rng = random.Random(seed)
    views = []
    for n, r in enumerate(records, 1):
        measured = rng.random() < 0.7
        views.append(
            PhysicianView(
                id=n,
                specialties=r.specialties,
                tier=r.tier,
                institution=r.institution,
                daily_capacity=r.daily_capacity,
                active=rng.random() > 0.05,
                subspecialties=r.subspecialties,
                accuracy=rng.uniform(0.6, 0.98) if measured else None,
                reads_count=rng.randrange(5, 400) if measured else 0,
                used_today=rng.randrange(0, 5),
            )
        )
    return views


def make_tasks(n: int, k: int, seed: int = 2) -> list[TaskRequest]:
    rng = random.Random(seed)
    return [
        TaskRequest(
            task_id=1000 + i,
            needed=k,
            source_institution=rng.choice(INSTITUTIONS),
            priority=rng.random() if rng.random() < 0.8 else None,
        )
        for i in range(n)
    ]


POLICIES = {
    "radiology_specialist_k3": Policy("radiology", Tier.SPECIALIST, 3),
    "cardiology_specialist_k2": Policy("internal_medicine", Tier.SPECIALIST, 2, subspecialty="cardiology"),
    "pediatrics_resident_k2": Policy("pediatrics", Tier.RESIDENT, 2, require_board_certification=False),
    "tuberculosis_k3": Policy("tuberculosis", Tier.RESIDENT, 3, require_board_certification=False),
    "im_labeler_k5_capped": Policy(
        "internal_medicine", Tier.LABELER, 5, require_board_certification=False, daily_capacity=6
    ),
}


def test_generated_pool_is_realistic() -> None:
    rows = generate_pool(320, seed=0)
    counts = Counter(code for row in rows for code in row["specialties"].split(";")[:1])
    assert len(rows) == 320 and set(counts) == set(SPECIALTIES)
    assert counts["internal_medicine"] > 40 and counts["radiology"] > 12
    assert counts["tuberculosis"] <= 4 and counts["preventive_medicine"] <= 6
    assert counts.most_common(1)[0][0] == "internal_medicine"
    assert generate_pool(320, seed=0) == rows  # seeded
    assert set(SPECIALTY_WEIGHTS) == set(SPECIALTIES)


@pytest.mark.parametrize("name", list(POLICIES), ids=list(POLICIES))
def test_every_task_gets_k_qualified_distinct_physicians_or_an_explicit_shortfall(name: str) -> None:
    policy = POLICIES[name]
    views = pool_views()
    by_id = {v.id: v for v in views}
    tasks = make_tasks(400, policy.reads)
    decisions = Dispatcher(candidates(views, policy)).route(tasks)
    assert sorted(d.task_id for d in decisions) == sorted(t.task_id for t in tasks)
    source = {t.task_id: t.source_institution for t in tasks}
    load: Counter[int] = Counter()
    for d in decisions:
        assert len(set(d.physician_ids)) == len(d.physician_ids), "the same physician twice on one task"
        assert len(d.physician_ids) + d.shortfall == policy.reads
        for pid in d.physician_ids:
            p = by_id[pid]
            assert qualification(p, policy) is None, f"{pid} is unqualified: {qualification(p, policy)}"
            assert p.active
            assert p.institution != source[d.task_id], "conflict of interest"
            load[pid] += 1
    for pid, n in load.items():
        assert n <= remaining_capacity(by_id[pid], policy), "capacity exceeded"
    for d in decisions:
        if d.shortfall:  # nobody who could have taken it was left with room at the end
            free = [
                v.id
                for v in views
                if qualification(v, policy) is None
                and v.institution != source[d.task_id]
                and v.id not in d.physician_ids
                and load[v.id] < remaining_capacity(v, policy)
            ]
            assert free == []


def test_too_few_physicians_is_reported_per_task_not_silent() -> None:
    decisions = Dispatcher(candidates(pool_views(), POLICIES["tuberculosis_k3"])).route(make_tasks(30, 3))
    eligible = [v for v in pool_views() if qualification(v, POLICIES["tuberculosis_k3"]) is None]
    assert len(eligible) < 3
    assert all(d.shortfall >= 3 - len(eligible) for d in decisions)
    assert all(d.shortfall > 0 for d in decisions)


def test_load_is_balanced_among_equal_capacity_physicians() -> None:
    policy = Policy("internal_medicine", Tier.RESIDENT, 3, require_board_certification=False)
    views = [dataclasses.replace(v, daily_capacity=40, used_today=0, active=True) for v in pool_views()]
    eligible = [v for v in views if qualification(v, policy) is None]
    assert len(eligible) >= 40
    tasks = make_tasks(len(eligible) * 6, 3)  # ~18 reads each, half their capacity
    decisions = Dispatcher(candidates(views, policy)).route(tasks)
    assert sum(d.shortfall for d in decisions) == 0
    load = Counter(pid for d in decisions for pid in d.physician_ids)
    loads = [load[v.id] for v in eligible]
    assert max(loads) / (sum(loads) / len(loads)) <= 1.2
    assert min(loads) > 0


def test_higher_accuracy_gets_more_and_newcomers_stay_in_rotation() -> None:
    policy = Policy("radiology", Tier.SPECIALIST, 1)
    base = PhysicianView(0, {"radiology": True}, Tier.SPECIALIST, "A", daily_capacity=100)
    views = [
        dataclasses.replace(base, id=1, accuracy=0.95, reads_count=300),
        dataclasses.replace(base, id=2, accuracy=0.60, reads_count=300),
        dataclasses.replace(base, id=3),  # new: no measured accuracy
    ]
    decisions = Dispatcher(candidates(views, policy)).route(make_tasks(150, 1))
    load = Counter(pid for d in decisions for pid in d.physician_ids)
    assert load[1] > load[2]
    assert load[3] >= load[2]  # the exploration bonus keeps the newcomer in rotation
    assert max(load.values()) / min(load.values()) <= (1 + 0.1) / (1 - 0.1)
    assert share_weight(0.95, 300) > share_weight(0.6, 300)
    assert share_weight(None, 0) > share_weight(0.85, 1000)


def test_routing_is_deterministic_for_equal_inputs() -> None:
    policy = POLICIES["radiology_specialist_k3"]
    views = pool_views()
    tasks = make_tasks(300, 3)
    first = Dispatcher(candidates(views, policy)).route(tasks)
    shuffled_views, shuffled_tasks = views[:], tasks[:]
    random.Random(9).shuffle(shuffled_views)
    random.Random(9).shuffle(shuffled_tasks)
    second = Dispatcher(candidates(shuffled_views, policy)).route(shuffled_tasks)

    def by_task(ds: list[Decision]) -> dict[int, Decision]:
        return {d.task_id: d for d in ds}

    assert by_task(first) == by_task(second)


def test_lowest_prediction_score_is_routed_first_when_capacity_is_short() -> None:
    policy = Policy("radiology", Tier.SPECIALIST, 1)
    view = PhysicianView(1, {"radiology": True}, Tier.SPECIALIST, "A", daily_capacity=2)
    tasks = [
        TaskRequest(1, 1, priority=0.9),
        TaskRequest(2, 1, priority=None),
        TaskRequest(3, 1, priority=0.1),
        TaskRequest(4, 1, priority=0.5),
    ]
    decisions = {d.task_id: d for d in Dispatcher(candidates([view], policy)).route(tasks)}
    assert [t for t, d in sorted(decisions.items()) if d.physician_ids] == [3, 4]
    assert decisions[2].shortfall == 1 and decisions[1].shortfall == 1


def test_excluded_physicians_are_never_chosen_again() -> None:
    policy = Policy("radiology", Tier.SPECIALIST, 2)
    views = [
        PhysicianView(i, {"radiology": True}, Tier.SPECIALIST, f"H{i}", daily_capacity=10)
        for i in range(1, 5)
    ]
    dispatcher = Dispatcher(candidates(views, policy))
    decision = dispatcher.assign(TaskRequest(7, 2, exclude=frozenset({1, 2})))
    assert sorted(decision.physician_ids) == [3, 4]
    decision = dispatcher.assign(TaskRequest(8, 2, exclude=frozenset({1, 2, 3})))
    assert decision.physician_ids == (4,) and decision.shortfall == 1


def test_conflict_of_interest_can_be_switched_off() -> None:
    policy = Policy("radiology", Tier.SPECIALIST, 1, conflict_of_interest=False)
    views = [PhysicianView(1, {"radiology": True}, Tier.SPECIALIST, "H", daily_capacity=10)]
    task = TaskRequest(1, 1, source_institution="H")
    assert Dispatcher(candidates(views, policy), conflict_of_interest=False).assign(task).physician_ids == (
        1,
    )
    assert Dispatcher(candidates(views, policy)).assign(task).shortfall == 1
