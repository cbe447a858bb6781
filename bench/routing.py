"""Routing benchmark: 1,000,000 tasks × k=3 over 2,000 physicians, against a naive dispatcher, in one run.

    .venv/bin/python -m bench.routing [--tasks 1000000] [--physicians 2000] [--no-persist]

Pool: `generate_pool(2000)` (26 specialties, realistic skew, 15 institutions), every capacity raised so the
whole load fits in one "day". Tasks: spread over the 26 specialties in proportion to their eligible
physicians (one project per specialty, resident or above, k=3, conflict-of-interest check on), random
source institutions and prediction scores. Timed parts, each printed on its own line:
  1. in-memory routing of all tasks (eligibility, heaps, sorting by score, every k-of-n choice);
  2. incremental: 10,000 single new tasks routed one by one on the warm dispatcher (per-task cost);
  3. baseline: a naive dispatcher that sorts every eligible physician per task, on a subset (per-task cost);
  4. persistence: the same bulk insert route_project uses (assignments + their events, with RETURNING),
     writing all assignments to a fresh SQLite platform DB; plus `route_new_tasks` for one new task on
     that DB (the DB path a webhook takes: load pool and loads, route, write).
Peak memory is the process's maximum RSS (getrusage), so it includes Python itself and the task list.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from medlabel.db import make_engine, upgrade
from medlabel.models import ProjectRecord, RoutedTask
from medlabel.routing.dispatcher import Candidate, Dispatcher, TaskRequest, candidates, routing_order
from medlabel.routing.generator import INSTITUTIONS, generate_pool, to_csv
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.pool_csv import parse_pool_csv
from medlabel.routing.rules import PhysicianView, Policy
from medlabel.routing.service import _insert_assignments, route_new_tasks
from medlabel.specialties import SPECIALTIES, Tier

TARGET_SECONDS, TARGET_GB, TARGET_INCREMENTAL_MS = 30.0, 2.0, 1.0
K = 3


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def make_pool(size: int, capacity: int) -> list[PhysicianView]:
    records, errors = parse_pool_csv(to_csv(generate_pool(size, seed=42)))
    assert not errors
    rng = random.Random(42)
    return [
        PhysicianView(
            id=n,
            specialties=r.specialties,
            tier=r.tier,
            institution=r.institution,
            daily_capacity=capacity,
            subspecialties=r.subspecialties,
            accuracy=rng.uniform(0.6, 0.98) if rng.random() < 0.7 else None,
            reads_count=rng.randrange(0, 400),
        )
        for n, r in enumerate(records, 1)
    ]


def policies() -> dict[str, Policy]:
    return {code: Policy(code, Tier.RESIDENT, K, require_board_certification=False) for code in SPECIALTIES}


def make_tasks(pools: dict[str, list[Candidate]], total: int) -> dict[str, list[TaskRequest]]:
    rng = random.Random(7)
    eligible = sum(len(c) for c in pools.values() if len(c) >= K)
    tasks: dict[str, list[TaskRequest]] = {}
    next_id = 1
    for code, pool in pools.items():
        share = round(total * len(pool) / eligible) if len(pool) >= K else 0
        tasks[code] = [
            TaskRequest(
                next_id + i, K, rng.choice(INSTITUTIONS), rng.random() if rng.random() < 0.9 else None
            )
            for i in range(share)
        ]
        next_id += share
    return tasks


def naive_assign(pool: list[Candidate], loads: list[int], task: TaskRequest) -> tuple[int, ...]:
    """The obvious dispatcher: score everyone, sort, take the first k acceptable (what the heap avoids)."""
    order = sorted(
        range(len(pool)),
        key=lambda i: ((loads[i] + 1) / (pool[i].daily_capacity * pool[i].weight), pool[i].physician_id),
    )
    chosen = []
    for i in order:
        if loads[i] < pool[i].room and pool[i].institution != task.source_institution:
            chosen.append(i)
            if len(chosen) == task.needed:
                break
    for i in chosen:
        loads[i] += 1
    return tuple(pool[i].physician_id for i in chosen)


def persist(
    decisions_rows: list[dict[str, object]], views: list[PhysicianView], tasks: int
) -> tuple[float, float, float]:
    """Write tasks and all assignments (+ events) to a fresh SQLite DB; then time route_new_tasks on it."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        with Session(engine) as session:
            import_pool_csv(session, to_csv(generate_pool(len(views), seed=42)))
            project = ProjectRecord(
                ls_project_id=1,
                title="bench",
                template_id="radiology_report_classification",
                template_version=1,
                language="en",
                label_codes={},
                reads=K,
            )
            session.add(project)
            session.commit()
            started = time.perf_counter()
            session.execute(
                insert(RoutedTask.__table__),
                [
                    {"project_id": project.id, "ls_task_id": i, "is_gold": False, "shortfall": 0}
                    for i in range(1, tasks + 1)
                ],
            )
            now = datetime.now(UTC)
            chunk = 100_000
            for start in range(0, len(decisions_rows), chunk):
                _insert_assignments(session, decisions_rows[start : start + chunk], now)
            session.commit()
            persist_s = time.perf_counter() - started
            started = time.perf_counter()
            route_new_tasks(session, project, [tasks + 1])  # warm-up: loads the template catalog once
            started = time.perf_counter()
            route_new_tasks(session, project, [tasks + 2])
            one_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            route_new_tasks(session, project, range(tasks + 3, tasks + 103))
            batch_ms = (time.perf_counter() - started) * 1000 / 100
        engine.dispose()
    return persist_s, one_ms, batch_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--physicians", type=int, default=2_000)
    parser.add_argument("--no-persist", action="store_true", help="skip the SQLite persistence part")
    args = parser.parse_args()
    capacity = int(args.tasks * K / args.physicians * 3) + 100  # room for the whole load, uneven specialties
    views = make_pool(args.physicians, capacity)
    pools = {code: candidates(views, policy) for code, policy in policies().items()}
    tasks = make_tasks(pools, args.tasks)
    n_tasks = sum(len(t) for t in tasks.values())
    rss_before = peak_gb()

    started = time.perf_counter()
    dispatchers = {}
    decisions = []
    for code, policy in policies().items():
        dispatchers[code] = Dispatcher(candidates(views, policy), policy.conflict_of_interest)
        decisions.extend(dispatchers[code].route(tasks[code]))
    route_s = time.perf_counter() - started
    reads = sum(len(d.physician_ids) for d in decisions)
    short = sum(1 for d in decisions if d.shortfall)

    biggest = max(pools, key=lambda c: len(pools[c]))
    rng = random.Random(3)
    fresh = [TaskRequest(10**9 + i, K, rng.choice(INSTITUTIONS), rng.random()) for i in range(10_000)]
    started = time.perf_counter()
    for task in fresh:
        dispatchers[biggest].assign(task)
    incremental_ms = (time.perf_counter() - started) * 1000 / len(fresh)

    pool = pools[biggest]
    loads = [c.used_today for c in pool]
    subset = routing_order(tasks[biggest][:5_000])
    started = time.perf_counter()
    for task in subset:
        naive_assign(pool, loads, task)
    naive_ms = (time.perf_counter() - started) * 1000 / len(subset)
    heap_ms = route_s * 1000 / n_tasks
    peak = peak_gb()

    load = Counter(pid for d in decisions for pid in d.physician_ids)
    only_biggest = {v.id for v in views if list(v.specialties) == [biggest]}  # others also read elsewhere
    big_loads = [load[c.physician_id] for c in pools[biggest] if c.physician_id in only_biggest]
    print(
        f"routing benchmark: {n_tasks:,} tasks × k={K} over {len(views):,} physicians, 26 specialty projects"
    )
    print(
        f"  in-memory routing     {route_s:8.2f} s   ({reads:,} reads, {short} tasks short)   target ≤ {TARGET_SECONDS:.0f} s"
    )
    print(
        f"  peak memory (max RSS) {peak:8.2f} GB  (before routing {rss_before:.2f} GB)   target ≤ {TARGET_GB:.0f} GB"
    )
    print(
        f"  incremental new task  {incremental_ms * 1000:8.1f} µs  per task, warm dispatcher ({biggest}, {len(pool)} physicians)   target ≤ {TARGET_INCREMENTAL_MS:.0f} ms"
    )
    print(
        f"  baseline: naive sort-per-task dispatcher {naive_ms * 1000:.1f} µs/task on {len(subset):,} {biggest} tasks; "
        f"heap dispatcher {heap_ms * 1000:.1f} µs/task overall → {naive_ms / heap_ms:.1f}× faster"
    )
    print(f"  load balance ({biggest}): max/mean {max(big_loads) / (sum(big_loads) / len(big_loads)):.3f}")
    if not args.no_persist:
        lease_end = datetime.now(UTC) + timedelta(hours=48)
        rows = [
            {
                "task_id": d.task_id,
                "physician_id": pid,
                "leased_until": lease_end,
                "is_gold_read": False,
            }
            for d in decisions
            for pid in d.physician_ids
        ]
        persist_s, one_ms, batch_ms = persist(rows, views, max(d.task_id for d in decisions))
        print(
            f"  persistence (SQLite)  {persist_s:8.2f} s   {n_tasks:,} tasks + {len(rows):,} assignments + {len(rows):,} events, bulk insert as route_project does"
        )
        print(
            f"  route_new_tasks on that DB (webhook path: load the specialty's pool and today's loads, route, write): "
            f"{one_ms:.1f} ms for 1 task, {batch_ms:.2f} ms/task in a batch of 100"
        )


if __name__ == "__main__":
    main()
