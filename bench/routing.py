"""Routing benchmark: 1,000,000 tasks × k=3 over 2,000 physicians, against a naive dispatcher, in one run.

    .venv/bin/python -m bench.routing [--tasks 1000000] [--physicians 2000] [--no-persist]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/DB]   # that database is emptied first

Headline: the DB path users hit (a task arrives: `routing.operations` registers it with the platform's
facts and routes it; publishing to Label Studio is left out), on SQLite and on PostgreSQL, with 1M routed
tasks already in the DB, each against the old loading code measured in the same run.

Pool: `generate_pool(2000)` (26 specialties, realistic skew, 15 institutions), every capacity raised so the
whole load fits in one "day". Tasks: spread over the 26 specialties in proportion to their eligible
physicians (one project per specialty, resident or above, k=3, conflict-of-interest check on), random
source institutions and prediction scores. Timed parts, each printed on its own line:
  1. in-memory routing of all tasks (eligibility, heaps, sorting by score, every k-of-n choice);
  2. incremental: 10,000 single new tasks routed one by one on the warm dispatcher (per-task cost);
  3. baseline: a naive dispatcher that sorts every eligible physician per task, on a subset (per-task cost);
  4. persistence: the same bulk insert route_project uses (assignments + their events + the day's read
     counters, with RETURNING), writing all assignments to a fresh platform DB (SQLite, then PostgreSQL
     when --postgres-url is given);
  5. the DB path on that DB: one new task arriving (p50/p95 over 40 arrivals) and batches of 100 (per task),
     and the same with the pre-0005r loading code (whole specialty pool through the ORM, today's loads
     counted over all assignments) as the baseline.
Peak memory is the process's maximum RSS (getrusage), so it includes Python itself and the task list.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session, selectinload

from medlabel.db import make_engine, upgrade
from medlabel.models import Assignment, Physician, PhysicianSpecialty, ProjectRecord, RoutedTask
from medlabel.models.routing import HOLDING_STATES
from medlabel.routing import service
from medlabel.routing.dispatcher import Candidate, Dispatcher, TaskRequest, candidates, routing_order
from medlabel.routing.generator import INSTITUTIONS, generate_pool, to_csv
from medlabel.routing.operations import record_arrivals
from medlabel.routing.policy import physician_view
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.pool_csv import parse_pool_csv
from medlabel.routing.rules import PhysicianView, Policy
from medlabel.routing.service import _insert_assignments, route_project
from medlabel.specialties import SPECIALTIES, Tier

TARGET_SECONDS, TARGET_GB, TARGET_INCREMENTAL_MS = 30.0, 2.0, 1.0
#: The DB path: one new task (p95), and per task in batches of 100.
TARGET_ONE_MS, TARGET_BATCH_MS = 20.0, 2.0
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


def legacy_physician_views(
    session: Session, project_id: int, now: datetime, specialty: str | None = None
) -> list[PhysicianView]:
    """The loading code before 0005r (the baseline): ORM physicians, and today's loads counted over every
    holding assignment created today, across the DB."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    physician_query = select(Physician).options(selectinload(Physician.specialties)).order_by(Physician.id)
    today = [Assignment.state.in_(HOLDING_STATES), Assignment.created_at >= day_start]
    if specialty is not None:
        physician_query = physician_query.where(
            Physician.specialties.any(PhysicianSpecialty.specialty == specialty)
        )
        today.append(Assignment.physician_id.in_(physician_query.with_only_columns(Physician.id)))
    used = dict(
        session.execute(
            select(Assignment.physician_id, func.count()).where(*today).group_by(Assignment.physician_id)
        ).all()
    )
    used_project = dict(
        session.execute(
            select(Assignment.physician_id, func.count())
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(*today, RoutedTask.project_id == project_id)
            .group_by(Assignment.physician_id)
        ).all()
    )
    physicians = session.scalars(physician_query).all()
    return [physician_view(p, used.get(p.id, 0), used_project.get(p.id, 0)) for p in physicians]


def legacy_eligible_views(
    session: Session, project_id: int, now: datetime, policy: Policy
) -> list[PhysicianView]:
    return legacy_physician_views(session, project_id, now, policy.specialty)


def arrive(session: Session, project: ProjectRecord, ls_task_ids: list[int]) -> None:
    """`operations.tasks_arrived` minus publishing to Label Studio: record with the DB's facts, route, commit."""
    record_arrivals(session, project, ls_task_ids)
    route_project(session, project, None, ls_task_ids)


@dataclass
class DbFigures:
    backend: str
    persist_s: float
    one_ms: list[float]
    batch_ms: float
    legacy_one_ms: float
    legacy_batch_ms: float


def fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    return engine


def persist(url: str, decisions_rows: list[dict[str, object]], physicians: int, tasks: int) -> DbFigures:
    """Write tasks and all assignments (+ events, counters) to a fresh DB; then time arrivals on it."""
    engine = fresh_engine(url)
    try:
        with Session(engine) as session:
            import_pool_csv(session, to_csv(generate_pool(physicians, seed=42)))
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
                _insert_assignments(session, decisions_rows[start : start + chunk], now, project.id)
            session.commit()
            persist_s = time.perf_counter() - started
            if engine.dialect.name == "postgresql":
                session.execute(text("ANALYZE"))  # what autovacuum does after a bulk load
                session.commit()
            next_id = tasks + 1
            arrive(session, project, [next_id])  # warm-up: loads the template catalog once
            next_id += 1
            one_ms = []
            for _ in range(40):
                started = time.perf_counter()
                arrive(session, project, [next_id])
                one_ms.append((time.perf_counter() - started) * 1000)
                next_id += 1
            started = time.perf_counter()
            for _ in range(5):
                arrive(session, project, list(range(next_id, next_id + 100)))
                next_id += 100
            batch_ms = (time.perf_counter() - started) * 1000 / 500
            with patch.object(service, "eligible_views", legacy_eligible_views):
                started = time.perf_counter()
                arrive(session, project, [next_id])
                legacy_one_ms = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                arrive(session, project, list(range(next_id + 1, next_id + 101)))
                legacy_batch_ms = (time.perf_counter() - started) * 1000 / 100
    finally:
        engine.dispose()
    return DbFigures(engine.dialect.name, persist_s, one_ms, batch_ms, legacy_one_ms, legacy_batch_ms)


def report_db(f: DbFigures, n_tasks: int, n_rows: int) -> None:
    print(
        f"  {f.backend:<10} persistence {f.persist_s:6.1f} s: {n_tasks:,} tasks + {n_rows:,} assignments "
        f"+ {n_rows:,} events + read counters, bulk insert as route_project does"
    )
    print(
        f"  {f.backend:<10} a task arrives (record, load pool + today's loads, route, write): "
        f"p50 {statistics.median(f.one_ms):.1f} ms, p95 {p95(f.one_ms):.1f} ms   target ≤ {TARGET_ONE_MS:.0f} ms; "
        f"before 0005r {f.legacy_one_ms:.0f} ms → {f.legacy_one_ms / statistics.median(f.one_ms):.0f}× faster"
    )
    print(
        f"  {f.backend:<10} batches of 100: {f.batch_ms:.2f} ms/task   target ≤ {TARGET_BATCH_MS:.0f} ms; "
        f"before 0005r {f.legacy_batch_ms:.2f} ms/task → {f.legacy_batch_ms / f.batch_ms:.1f}× faster",
        flush=True,
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--physicians", type=int, default=2_000)
    parser.add_argument("--no-persist", action="store_true", help="skip the DB parts")
    parser.add_argument("--postgres-url", help="also run the DB parts on this PostgreSQL database (emptied)")
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
        with tempfile.TemporaryDirectory() as tmp:
            urls = [f"sqlite:///{Path(tmp) / 'bench.db'}"] + (
                [args.postgres_url] if args.postgres_url else []
            )
            for url in urls:
                report_db(
                    persist(url, rows, len(views), max(d.task_id for d in decisions)), n_tasks, len(rows)
                )
        if not args.postgres_url:
            print("  (PostgreSQL not measured: give --postgres-url)")


if __name__ == "__main__":
    main()
