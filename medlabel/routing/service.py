"""Routing on the platform DB: register tasks, expire leases, run the dispatcher, store assignments.

The dispatcher (`dispatcher.py`) decides in memory; this module only loads its inputs in a few set-based
queries and writes its decisions in bulk, each state change with an AssignmentEvent, in one transaction.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import cast

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from medlabel.db import utc
from medlabel.errors import UnknownRecordError
from medlabel.models import (
    Assignment,
    AssignmentEvent,
    DailyLoad,
    IngestedItem,
    Physician,
    PhysicianSpecialty,
    ProjectRecord,
    RoutedTask,
    RoutingPolicy,
)
from medlabel.models.routing import HOLDING_STATES, AssignmentState
from medlabel.routing.dispatcher import Dispatcher, TaskRequest, candidates
from medlabel.routing.policy import policy_of
from medlabel.routing.rules import PhysicianView, Policy
from medlabel.specialties import Tier

logger = logging.getLogger(__name__)
# Bulk writes go through the Core tables: the ORM's bulk path costs ~4× more per row for no gain here.
TASKS, ASSIGNMENTS, EVENTS = RoutedTask.__table__, Assignment.__table__, AssignmentEvent.__table__
LOADS = DailyLoad.__table__


@dataclass(frozen=True)
class TaskInfo:
    """What ingest or the webhook knows about a new Label Studio task."""

    ls_task_id: int
    content_key: str | None = None
    source_institution: str | None = None
    is_gold: bool = False
    priority: float | None = None


@dataclass
class RouteReport:
    assigned: int = 0
    gold_reads: int = 0
    tasks_routed: int = 0
    expired: int = 0
    #: ls_task_id -> reads still missing (explicit, never silent).
    shortfalls: dict[int, int] = field(default_factory=dict)
    #: Physicians whose open work changed (new reads, expired leases): the worklist tabs to update.
    touched: set[int] = field(default_factory=set)


def register_tasks(session: Session, project: ProjectRecord, tasks: Iterable[TaskInfo]) -> int:
    """Record tasks not yet known (by Label Studio id); returns how many were new. Does not commit."""
    infos = {t.ls_task_id: t for t in tasks}
    if not infos:
        return 0
    known = set(session.scalars(select(RoutedTask.ls_task_id).where(RoutedTask.ls_task_id.in_(infos))))
    new = [
        {
            "project_id": project.id,
            "ls_task_id": t.ls_task_id,
            "content_key": t.content_key,
            "source_institution": t.source_institution,
            "is_gold": t.is_gold,
            "priority": t.priority,
            "shortfall": 0,
        }
        for ls_id, t in infos.items()
        if ls_id not in known
    ]
    if new:
        session.execute(insert(TASKS), new)
    return len(new)


def source_facts(session: Session, project: ProjectRecord, ls_task_ids: Iterable[int]) -> dict[int, TaskInfo]:
    """What the platform itself recorded about these tasks when ingest created them (content key, source
    institution); tasks ingest did not create are absent. Never read from Label Studio: its task.meta is
    editable by every member and ingest keeps the institution out of it on purpose."""
    ids = list(ls_task_ids)
    facts: dict[int, TaskInfo] = {}
    for start in range(0, len(ids), 10_000):  # stay below SQLite's bound-parameter limit
        rows = session.execute(  # by task id alone, the project checked here (see route_project)
            select(
                IngestedItem.ls_project_id,
                IngestedItem.ls_task_id,
                IngestedItem.content_key,
                IngestedItem.source_institution,
            ).where(IngestedItem.ls_task_id.in_(ids[start : start + 10_000]))
        )
        for ls_project_id, ls_task_id, content_key, institution in rows:
            if ls_project_id == project.ls_project_id:
                facts[ls_task_id] = TaskInfo(
                    ls_task_id, content_key=content_key, source_institution=institution
                )
    return facts


def physician_views(
    session: Session, project_id: int, now: datetime, specialty: str | None = None
) -> list[PhysicianView]:
    """Physicians (all, or only those with `specialty`) with today's reads in all projects and in this one.

    Three Core queries over the candidates only (their rows, their specialties, their counters for today):
    the cost follows the specialty's pool, not the number of assignments in the DB.
    """
    p, s, loads = Physician.__table__, PhysicianSpecialty.__table__, LOADS
    ids = select(s.c.physician_id).where(s.c.specialty == specialty) if specialty is not None else None
    physician_query = select(
        p.c.id,
        p.c.tier,
        p.c.institution,
        p.c.daily_capacity,
        p.c.active,
        p.c.subspecialties,
        p.c.accuracy,
        p.c.reads_count,
    ).order_by(p.c.id)
    specialty_query = select(s.c.physician_id, s.c.specialty, s.c.board_certified)
    load_query = (
        select(
            loads.c.physician_id,
            func.sum(loads.c.reads),
            func.sum(case((loads.c.project_id == project_id, loads.c.reads), else_=0)),
        )
        .where(loads.c.day == utc(now).date())
        .group_by(loads.c.physician_id)
    )
    if ids is not None:
        physician_query = physician_query.where(p.c.id.in_(ids))
        specialty_query = specialty_query.where(s.c.physician_id.in_(ids))
        load_query = load_query.where(loads.c.physician_id.in_(ids))
    certified: dict[int, dict[str, bool]] = defaultdict(dict)
    for physician_id, code, board_certified in session.execute(specialty_query):
        certified[physician_id][code] = bool(board_certified)
    used = {pid: (int(total), int(here)) for pid, total, here in session.execute(load_query)}
    return [
        PhysicianView(
            id=row.id,
            specialties=dict(sorted(certified[row.id].items())),
            tier=Tier(row.tier),
            institution=row.institution,
            daily_capacity=row.daily_capacity,
            active=bool(row.active),
            subspecialties=tuple(row.subspecialties or ()),
            accuracy=row.accuracy,
            reads_count=row.reads_count,
            used_today=used.get(row.id, (0, 0))[0],
            used_today_project=used.get(row.id, (0, 0))[1],
        )
        for row in session.execute(physician_query)
    ]


def eligible_views(session: Session, project_id: int, now: datetime, policy: Policy) -> list[PhysicianView]:
    """The physicians qualified for `policy`, with today's reads: what the dispatcher needs, and no more.

    Specialty, certification, tier and pause are filtered in SQL, so only the qualified rows (and only their
    counters for today) are read; the JSON subspecialties are decoded only when the policy requires one.
    """
    p, s, loads = Physician.__table__, PhysicianSpecialty.__table__, LOADS
    tiers = [t.value for t in Tier if t.rank >= policy.min_tier.rank]
    columns = [p.c.id, p.c.tier, p.c.institution, p.c.daily_capacity, p.c.accuracy, p.c.reads_count]
    query = (
        select(*columns, s.c.board_certified, *([p.c.subspecialties] if policy.subspecialty else []))
        .join(s, s.c.physician_id == p.c.id)
        .where(s.c.specialty == policy.specialty, p.c.active.is_(True), p.c.tier.in_(tiers))
        .order_by(p.c.id)
    )
    if policy.require_board_certification:
        query = query.where(s.c.board_certified.is_(True))
    rows = [
        row
        for row in session.execute(query)
        if not policy.subspecialty or policy.subspecialty in (row.subspecialties or ())
    ]
    ids = select(s.c.physician_id).where(s.c.specialty == policy.specialty)
    used = {
        pid: (int(total), int(here))
        for pid, total, here in session.execute(
            select(
                loads.c.physician_id,
                func.sum(loads.c.reads),
                func.sum(case((loads.c.project_id == project_id, loads.c.reads), else_=0)),
            )
            .where(loads.c.day == utc(now).date(), loads.c.physician_id.in_(ids))
            .group_by(loads.c.physician_id)
        )
    }
    return [
        PhysicianView(
            id=row.id,
            specialties={policy.specialty: bool(row.board_certified)},
            tier=Tier(row.tier),
            institution=row.institution,
            daily_capacity=row.daily_capacity,
            subspecialties=(policy.subspecialty,) if policy.subspecialty else (),
            accuracy=row.accuracy,
            reads_count=row.reads_count,
            used_today=used.get(row.id, (0, 0))[0],
            used_today_project=used.get(row.id, (0, 0))[1],
        )
        for row in rows
    ]


def add_loads(session: Session, counts: Mapping[tuple[date, int, int], int]) -> None:
    """Add to the (day, physician, project) read counters, creating rows as needed (one upsert)."""
    counts = {key: n for key, n in counts.items() if n}
    if not counts:
        return
    dialect = session.get_bind().dialect.name
    make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = make_insert(LOADS).values(
        [
            {"day": d, "physician_id": pid, "project_id": prj, "reads": n}
            for (d, pid, prj), n in counts.items()
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[LOADS.c.day, LOADS.c.physician_id, LOADS.c.project_id],
            set_={"reads": LOADS.c.reads + statement.excluded.reads},
        )
    )


def change_state(
    session: Session, assignment_ids: list[int], to_state: AssignmentState, reason: str, now: datetime
) -> None:
    if not assignment_ids:
        return
    if to_state.value not in HOLDING_STATES:  # the reads stop counting towards their day's load
        released: Counter[tuple[date, int, int]] = Counter()
        for physician_id, project_id, created_at in session.execute(
            select(Assignment.physician_id, RoutedTask.project_id, Assignment.created_at)
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(Assignment.id.in_(assignment_ids))
        ):
            released[(utc(created_at).date(), physician_id, project_id)] -= 1
        add_loads(session, released)
    session.execute(
        update(Assignment)
        .where(Assignment.id.in_(assignment_ids))
        .values(state=to_state.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        insert(EVENTS),
        [
            {
                "assignment_id": i,
                "from_state": "assigned",
                "to_state": to_state.value,
                "reason": reason,
                "at": now,
            }
            for i in assignment_ids
        ],
    )


def expire_leases(session: Session, now: datetime, project_id: int | None = None) -> int:
    """Move assigned reads whose lease has run out to `expired`; returns how many. Does not commit."""
    return len(_expire_leases(session, now, project_id))


def _expire_leases(session: Session, now: datetime, project_id: int | None) -> list[int]:
    """Expire overdue leases; returns the physician id of each expired read."""
    query = select(Assignment.id, Assignment.physician_id).where(
        Assignment.state == AssignmentState.ASSIGNED.value, Assignment.leased_until < now
    )
    if project_id is not None:
        query = query.join(RoutedTask, RoutedTask.id == Assignment.task_id).where(
            RoutedTask.project_id == project_id
        )
    rows = session.execute(query).all()
    change_state(session, [r.id for r in rows], AssignmentState.EXPIRED, "lease expired", now)
    if rows:
        logger.info("expired %d leases", len(rows))
    return [r.physician_id for r in rows]


def route_project(
    session: Session,
    project: ProjectRecord,
    now: datetime | None = None,
    ls_task_ids: Iterable[int] | None = None,
) -> RouteReport:
    """Expire the project's overdue leases, then give every task of it that lacks reads its k physicians.

    Args:
        ls_task_ids: only these tasks (e.g. just created); all of the project's tasks when None.
    """
    now = now or datetime.now(UTC)
    expired = _expire_leases(session, now, project.id)
    report = RouteReport(expired=len(expired), touched=set(expired))
    policy = policy_of(session, project)
    views = eligible_views(session, project.id, now, policy)
    dispatcher = Dispatcher(candidates(views, policy), policy.conflict_of_interest)

    # Row locks (PostgreSQL; SQLite serialises writers anyway) so that two routing runs at once, e.g. ingest's
    # and the TASKS_CREATED webhook's, cannot both see a task short of reads and both fill it.
    if ls_task_ids is not None:
        # By the unique Label Studio id alone: with the project in the WHERE clause as well, SQLite's planner
        # may walk the project's whole index (a million rows) instead of looking up a hundred ids.
        task_query = select(RoutedTask).where(RoutedTask.ls_task_id.in_(list(ls_task_ids)))
        tasks = [t for t in session.scalars(task_query.with_for_update()) if t.project_id == project.id]
        of_tasks = Assignment.task_id.in_([t.id for t in tasks])
    else:
        task_query = select(RoutedTask).where(RoutedTask.project_id == project.id)
        tasks = list(session.scalars(task_query.with_for_update()))
        of_tasks = Assignment.task_id.in_(task_query.with_only_columns(RoutedTask.id))
    by_id = {t.id: t for t in tasks}
    held: dict[int, int] = defaultdict(int)
    ever: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(Assignment.task_id, Assignment.physician_id, Assignment.state).where(of_tasks)
    ).all()
    for task_id, physician_id, state in rows:
        ever[task_id].add(physician_id)
        held[task_id] += state in HOLDING_STATES
    requests = [
        TaskRequest(t.id, policy.reads - held[t.id], t.source_institution, t.priority, frozenset(ever[t.id]))
        for t in tasks
        if not t.is_gold and held[t.id] < policy.reads
    ]
    decisions = dispatcher.route(requests)
    lease_end = _lease_end(policy, now)
    new_rows = [
        {"task_id": d.task_id, "physician_id": pid, "leased_until": lease_end, "is_gold_read": False}
        for d in decisions
        for pid in d.physician_ids
    ]
    per_physician: dict[int, int] = defaultdict(int)
    for row in new_rows:
        per_physician[row["physician_id"]] += 1
    gold_rows = _gold_reads(session, project, policy, dispatcher, per_physician, ever, lease_end)
    _insert_assignments(session, new_rows + gold_rows, now, project.id)
    for d in decisions:
        task = by_id[d.task_id]
        task.shortfall = d.shortfall
        if d.shortfall:
            report.shortfalls[task.ls_task_id] = d.shortfall
    for t in tasks:
        if not t.is_gold and held[t.id] >= policy.reads:
            t.shortfall = 0
    session.commit()
    report.assigned, report.gold_reads = len(new_rows), len(gold_rows)
    report.touched.update(cast(int, row["physician_id"]) for row in new_rows + gold_rows)
    report.tasks_routed = sum(1 for d in decisions if d.physician_ids)
    logger.info(
        "project %s: %d reads assigned on %d tasks, %d gold reads, %d tasks short, %d leases expired",
        project.ls_project_id,
        report.assigned,
        report.tasks_routed,
        report.gold_reads,
        len(report.shortfalls),
        report.expired,
    )
    return report


def _lease_end(policy: Policy, now: datetime) -> datetime:
    end = now + timedelta(hours=policy.lease_hours)
    return min(end, utc(policy.deadline)) if policy.deadline is not None else end


def _gold_reads(
    session: Session,
    project: ProjectRecord,
    policy: Policy,
    dispatcher: Dispatcher,
    per_physician: Mapping[int, int],
    ever: Mapping[int, set[int]],
    lease_end: datetime,
) -> list[dict[str, object]]:
    """Mix gold-standard tasks into each physician's new work: round(gold_share × new reads) each, fewest-read
    gold tasks first, never one they read before or from their own institution, within their room."""
    if policy.gold_share <= 0 or not per_physician:
        return []
    gold = session.scalars(
        select(RoutedTask).where(RoutedTask.project_id == project.id, RoutedTask.is_gold.is_(True))
    ).all()
    if not gold:
        return []
    institution = dict(session.execute(select(Physician.id, Physician.institution)).all())
    reads = {t.id: len(ever.get(t.id, ())) for t in gold}
    rows: list[dict[str, object]] = []
    for physician_id in sorted(per_physician):
        wanted = min(round(policy.gold_share * per_physician[physician_id]), dispatcher.room_of(physician_id))
        choices = sorted(
            (
                t
                for t in gold
                if physician_id not in ever.get(t.id, ())
                and not (policy.conflict_of_interest and t.source_institution == institution[physician_id])
            ),
            key=lambda t: (reads[t.id], t.ls_task_id),
        )
        for task in choices[:wanted]:
            reads[task.id] += 1
            rows.append(
                {
                    "task_id": task.id,
                    "physician_id": physician_id,
                    "leased_until": lease_end,
                    "is_gold_read": True,
                }
            )
    return rows


def _insert_assignments(
    session: Session, rows: list[dict[str, object]], now: datetime, project_id: int, reason: str = "routed"
) -> None:
    """Insert new assigned reads of one project's tasks, their events, and count them in today's loads."""
    if not rows:
        return
    for row in rows:
        row.update(state=AssignmentState.ASSIGNED.value, created_at=now, updated_at=now)
    day = utc(now).date()
    add_loads(session, Counter((day, cast(int, row["physician_id"]), project_id) for row in rows))
    ids = session.scalars(insert(ASSIGNMENTS).returning(ASSIGNMENTS.c.id), rows).all()
    session.execute(
        insert(EVENTS),
        [
            {"assignment_id": i, "from_state": None, "to_state": "assigned", "reason": reason, "at": now}
            for i in ids
        ],
    )


def reviewer_policy(session: Session, project: ProjectRecord, reader_tiers: Iterable[Tier]) -> Policy:
    """Who may review a project's task: the policy's reviewer specialty (else the project's) at the reviewer
    tier (default specialist) and above every reader's tier (a specialist panel is reviewed by a specialist)."""
    policy = policy_of(session, project)
    row = session.get(RoutingPolicy, project.id)
    tier = Tier(row.reviewer_tier) if row is not None and row.reviewer_tier else Tier.SPECIALIST
    tiers = list(Tier)
    above_readers = max((t.rank + 1 for t in reader_tiers), default=0)
    tier = tiers[min(max(tier.rank, above_readers), len(tiers) - 1)]
    specialty = row.reviewer_specialty if row is not None and row.reviewer_specialty else policy.specialty
    return replace(
        policy,
        specialty=specialty,
        subspecialty=policy.subspecialty if specialty == policy.specialty else None,
        min_tier=tier,
        require_board_certification=tier is Tier.SPECIALIST,
    )


def assign_reviewer(
    session: Session, project: ProjectRecord, ls_task_id: int, reason: str, now: datetime | None = None
) -> int | None:
    """Give a task one more read by a reviewer (see `reviewer_policy`): never one of its past or present
    readers, never from its source institution (when the policy checks conflicts of interest), within
    capacity. Returns the reviewer's physician id, or None if nobody qualifies. Does not commit."""
    now = now or datetime.now(UTC)
    task = session.scalar(select(RoutedTask).where(RoutedTask.ls_task_id == ls_task_id).with_for_update())
    if task is None or task.project_id != project.id:
        raise UnknownRecordError(f"task {ls_task_id} is not a routed task of project {project.ls_project_id}")
    readers = session.execute(
        select(Assignment.physician_id, Physician.tier)
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(Assignment.task_id == task.id)
    ).all()
    policy = reviewer_policy(session, project, [Tier(tier) for _, tier in readers])
    views = eligible_views(session, project.id, now, policy)
    dispatcher = Dispatcher(candidates(views, policy), policy.conflict_of_interest)
    decision = dispatcher.assign(
        TaskRequest(task.id, 1, task.source_institution, exclude=frozenset(pid for pid, _ in readers))
    )
    if not decision.physician_ids:
        logger.warning("task %s: no %s+ %s reviewer available", ls_task_id, policy.min_tier, policy.specialty)
        return None
    reviewer = decision.physician_ids[0]
    row = {
        "task_id": task.id,
        "physician_id": reviewer,
        "leased_until": _lease_end(policy, now),
        "is_gold_read": False,
    }
    _insert_assignments(session, [row], now, project.id, reason=f"review: {reason}"[:255])
    return reviewer


def mark_gold(session: Session, project: ProjectRecord, ls_task_ids: Iterable[int]) -> int:
    """Make tasks gold standards for routing (mixed into physicians' work at the policy's gold share); returns
    how many changed. Does not commit."""
    ids = list(ls_task_ids)
    result = session.execute(
        update(RoutedTask)
        .where(
            RoutedTask.ls_task_id.in_(ids), RoutedTask.project_id == project.id, RoutedTask.is_gold.is_(False)
        )
        .values(is_gold=True)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def route_new_tasks(
    session: Session,
    project: ProjectRecord,
    ls_task_ids: Iterable[int],
    infos: Mapping[int, TaskInfo] | None = None,
    now: datetime | None = None,
) -> RouteReport:
    """Register freshly created Label Studio tasks and route just those (after ingest or TASKS_CREATED).

    Args:
        infos: per task id, what ingest knows (source institution, content key, gold, prediction score).
    """
    ids = list(ls_task_ids)
    infos = infos or {}
    register_tasks(session, project, [infos.get(i, TaskInfo(i)) for i in ids])
    return route_project(session, project, now, ids)


def reroute_physician(session: Session, physician: Physician, reason: str, now: datetime) -> RouteReport:
    """Take a physician's open (assigned, not submitted) reads away and route those tasks to others."""
    open_rows = session.execute(
        select(Assignment.id, RoutedTask.project_id, RoutedTask.ls_task_id)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .where(Assignment.physician_id == physician.id, Assignment.state == AssignmentState.ASSIGNED.value)
    ).all()
    change_state(session, [r.id for r in open_rows], AssignmentState.REROUTED, reason, now)
    session.flush()
    total = RouteReport()
    by_project: dict[int, list[int]] = defaultdict(list)
    for row in open_rows:
        by_project[row.project_id].append(row.ls_task_id)
    for project_id, ls_ids in sorted(by_project.items()):
        project = session.get(ProjectRecord, project_id)
        assert project is not None  # the foreign key guarantees it
        part = route_project(session, project, now, ls_ids)
        total.assigned += part.assigned
        total.tasks_routed += part.tasks_routed
        total.shortfalls.update(part.shortfalls)
        total.touched |= part.touched | {physician.id}
    session.commit()
    return total


def set_active(session: Session, physician_id: int, active: bool, now: datetime | None = None) -> RouteReport:
    """Pause (and re-route the open work of) or resume a physician."""
    physician = session.get(Physician, physician_id)
    if physician is None:
        raise UnknownRecordError(f"no physician with id {physician_id}")
    physician.active = active
    session.flush()
    if active:
        session.commit()
        return RouteReport()
    return reroute_physician(session, physician, "physician paused", now or datetime.now(UTC))


def reads_of(session: Session, ls_task_ids: Iterable[int]) -> dict[tuple[int, int], tuple[int, str]]:
    """(LS task id, physician id) → (assignment id, state) of every read these tasks hold now (assigned or
    submitted); one query for a whole batch, so sync can check an annotation's author against routing."""
    ids = sorted(set(ls_task_ids))
    reads: dict[tuple[int, int], tuple[int, str]] = {}
    for start in range(0, len(ids), 1000):  # bounded IN lists
        for row in session.execute(
            select(RoutedTask.ls_task_id, Assignment.physician_id, Assignment.id, Assignment.state)
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(RoutedTask.ls_task_id.in_(ids[start : start + 1000]), Assignment.state.in_(HOLDING_STATES))
        ):
            reads[(row.ls_task_id, row.physician_id)] = (row.id, row.state)
    return reads


def record_submissions(session: Session, assignment_ids: list[int], now: datetime | None = None) -> None:
    """Annotations arrived for these assigned reads: they become submitted (their leases stop expiring).
    Does not commit."""
    change_state(
        session, assignment_ids, AssignmentState.SUBMITTED, "annotation submitted", now or datetime.now(UTC)
    )


def record_skip(
    session: Session, ls_task_id: int, ls_user_id: int, now: datetime | None = None
) -> RouteReport:
    """The physician skipped the task (a cancelled annotation): cancel their read and route it to someone else.

    The dispatcher never gives a task back to a physician who ever held it, so the new read goes elsewhere.
    Returns an empty report when they held no open read of it (already handled, or never theirs).
    """
    now = now or datetime.now(UTC)
    row = session.execute(
        select(Assignment.id, RoutedTask.project_id)
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(Physician, Physician.id == Assignment.physician_id)
        .where(
            RoutedTask.ls_task_id == ls_task_id,
            Physician.ls_user_id == ls_user_id,
            Assignment.state == AssignmentState.ASSIGNED.value,
        )
    ).first()
    if row is None:
        return RouteReport()
    change_state(session, [row.id], AssignmentState.CANCELLED, "task skipped", now)
    session.flush()
    project = session.get(ProjectRecord, row.project_id)
    assert project is not None  # the foreign key guarantees it
    return route_project(session, project, now, [ls_task_id])
