"""Pool import, policy, routing, leases, pausing and explain on the platform DB (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from label_studio_sdk import LabelStudio
from sqlalchemy import Engine, column, func, inspect, select, table
from sqlalchemy.orm import Session

from medlabel.db import Base, make_engine, upgrade
from medlabel.errors import LabelStudioError, NoEligiblePhysicianError, RoutingError, UnknownRecordError
from medlabel.models import (
    Assignment,
    AssignmentEvent,
    DailyLoad,
    IngestedItem,
    Physician,
    ProjectRecord,
    RoutedTask,
    RoutingPolicy,
)
from medlabel.models.routing import HOLDING_STATES
from medlabel.routing.explain import explain_task
from medlabel.routing.generator import INSTITUTIONS, generate_pool, to_csv
from medlabel.routing.operations import tasks_arrived
from medlabel.routing.policy import policy_of, set_policy
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.rules import Reason, qualification
from medlabel.routing.service import (
    TaskInfo,
    expire_leases,
    physician_views,
    reads_of,
    record_submissions,
    register_tasks,
    route_new_tasks,
    route_project,
    set_active,
)
from medlabel.settings import Settings

ROUTING_TABLES = {
    "physicians",
    "physician_specialties",
    "routing_policies",
    "tasks",
    "assignments",
    "assignment_events",
    "routing_daily_loads",
    "ingested_items",
}
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
_ls_ids = itertools.count(900_000)


def make_project(
    session: Session, template_id: str = "radiology_report_classification", reads: int = 3
) -> ProjectRecord:
    project = ProjectRecord(
        ls_project_id=next(_ls_ids),
        title=f"routing {template_id}",
        template_id=template_id,
        template_version=1,
        language="en",
        label_codes={},
        reads=reads,
    )
    session.add(project)
    session.commit()
    return project


@pytest.fixture
def pool(db_session: Session) -> Session:
    report = import_pool_csv(db_session, to_csv(generate_pool(320, seed=3)))
    assert report.created == 320 and report.errors == []
    return db_session


def add_tasks(session: Session, project: ProjectRecord, n: int, gold: int = 0) -> list[int]:
    ids = [next(_ls_ids) for _ in range(n + gold)]
    register_tasks(
        session,
        project,
        [
            TaskInfo(
                ls_id,
                source_institution=INSTITUTIONS[i % len(INSTITUTIONS)],
                priority=(i % 7) / 7,
                is_gold=i >= n,
            )
            for i, ls_id in enumerate(ids)
        ],
    )
    session.commit()
    return ids


def holders(session: Session, ls_task_id: int) -> list[tuple[int, str]]:
    return list(
        session.execute(
            select(Assignment.physician_id, Assignment.state)
            .join(RoutedTask, RoutedTask.id == Assignment.task_id)
            .where(RoutedTask.ls_task_id == ls_task_id)
            .order_by(Assignment.id)
        ).all()
    )


def test_migration_creates_the_routing_tables_without_drift(db_engine: Engine) -> None:
    assert ROUTING_TABLES <= set(inspect(db_engine).get_table_names())
    with db_engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if any(table in repr(d) for table in ROUTING_TABLES)]
    assert ours == []


BAD_CSV = """license_number,name,email,tier,specialties,board_certified,subspecialties,languages,institution,daily_capacity
KMA-1001,Kim Minjun,kim@example.org,specialist,radiology,radiology,chest,ko;en,Asan Medical Center,40
KMA-1002,Lee Sua,lee@example.org,specialist,radiologgy,,,ko,Asan Medical Center,40
KMA-1003,Park Jiho,park@example.org,professor,radiology,,,ko,Asan Medical Center,40
KMA-1001,Choi Yejun,choi@example.org,resident,radiology,,,ko,Severance Hospital,30
KMA-1005,Jung Hayoon,jung@example.org,resident,pediatrics,,,ko,Severance Hospital,lots
KMA-1006,Kang Doyun,kang@example.org,resident
KMA-1007,Cho Siwoo,not-an-email,labeler,dermatology,dermatology,,ko,Severance Hospital,20
KMA-1008,Yoon Jimin,yoon@example.org,resident,neurology,,,ko,Inha University Hospital,25
"""


def test_pool_import_reports_each_bad_row_and_field_and_imports_the_rest(db_session: Session) -> None:
    report = import_pool_csv(db_session, BAD_CSV)
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "specialties"),
        (4, "tier"),
        (5, "license_number"),
        (6, "daily_capacity"),
        (7, "*"),
        (8, "email"),
        (8, "board_certified"),
    ]
    assert "unknown specialty code 'radiologgy'" in str(report.errors[0])
    assert "duplicate of row 2" in str(report.errors[2])
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    licenses = set(db_session.scalars(select(Physician.license_number)))
    assert licenses == {"KMA-1001", "KMA-1008"}
    kim = db_session.scalar(select(Physician).where(Physician.license_number == "KMA-1001"))
    assert kim is not None and kim.certified_in() == {"radiology": True} and kim.subspecialties == ["chest"]


def test_pool_import_is_idempotent_and_upserts_by_license(db_session: Session) -> None:
    rows = generate_pool(40, seed=5)
    first = import_pool_csv(db_session, to_csv(rows))
    again = import_pool_csv(db_session, to_csv(rows))
    assert (first.created, again.created, again.updated, again.unchanged) == (40, 0, 0, 40)
    rows[0]["daily_capacity"] = "55"
    rows[1]["institution"] = "Ajou University Hospital"
    changed = import_pool_csv(db_session, to_csv(rows))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 38)
    assert db_session.scalar(select(func.count()).select_from(Physician)) == 40
    assert (
        db_session.scalar(
            select(Physician.daily_capacity).where(Physician.license_number == rows[0]["license_number"])
        )
        == 55
    )


def test_pool_import_refuses_an_email_owned_by_another_license(db_session: Session) -> None:
    import_pool_csv(db_session, BAD_CSV)
    clash = (
        BAD_CSV.splitlines()[0]
        + "\nKMA-2001,Oh Eunwoo,kim@example.org,resident,radiology,,,ko,Ajou University Hospital,30\n"
    )
    report = import_pool_csv(db_session, clash)
    assert [(e.row, e.field) for e in report.errors] == [(2, "email")] and report.created == 0


def test_bad_policy_is_refused_and_nothing_is_written(pool: Session) -> None:
    project = make_project(pool)
    for changes, message in [
        ({"specialty": "radiologgy"}, "unknown specialty"),
        ({"subspecialty": "cardiology"}, "not a subspecialty of radiology"),
        ({"min_tier": "labeler"}, "below the template's minimum resident"),
        ({"min_tier": "chief"}, "unknown tier"),
        ({"gold_share": 0.9}, "gold_share"),
        ({"reviewer_specialty": "astrology"}, "unknown reviewer specialty"),
        ({"reads": 0}, r"reads \(k\) must be 1–10"),
    ]:
        with pytest.raises(RoutingError, match=message):
            set_policy(pool, project, **changes)
    tb = make_project(pool, "tb_chest_xray")
    eligible = sum(
        1 for v in physician_views(pool, tb.id, NOW) if qualification(v, policy_of(pool, tb)) is None
    )
    with pytest.raises(
        NoEligiblePhysicianError, match=f"k={eligible + 1} independent reads .* only {eligible} active"
    ):
        set_policy(pool, tb, reads=eligible + 1)
    assert pool.get(RoutingPolicy, project.id) is None and pool.get(RoutingPolicy, tb.id) is None
    assert project.reads == 3

    row = set_policy(
        pool, project, reads=2, gold_share=0.25, client_name="Acme AI", reviewer_tier="specialist"
    )
    assert (row.reads, row.gold_share, row.client_name, project.reads) == (2, 0.25, "Acme AI", 2)


def test_route_project_gives_k_distinct_eligible_physicians_and_is_assigned_agrees(pool: Session) -> None:
    project = make_project(pool)
    ids = add_tasks(pool, project, 120)
    report = route_project(pool, project, NOW)
    policy = policy_of(pool, project)
    views = {v.id: v for v in physician_views(pool, project.id, NOW)}
    tasks = {
        t.ls_task_id: t for t in pool.scalars(select(RoutedTask).where(RoutedTask.project_id == project.id))
    }
    assert report.assigned == 360 and report.shortfalls == {}
    for ls_id in ids:
        chosen = [pid for pid, state in holders(pool, ls_id)]
        assert len(set(chosen)) == 3
        for pid in chosen:
            assert qualification(views[pid], policy) is None
            assert views[pid].institution != tasks[ls_id].source_institution
            assert views[pid].used_today <= views[pid].daily_capacity
    reads = reads_of(pool, ids)
    assert {(ls_id, pid) for ls_id in ids for pid, _ in holders(pool, ls_id)} == set(reads)
    outsider = next(v.id for v in views.values() if qualification(v, policy) is Reason.WRONG_SPECIALTY)
    assert (ids[0], outsider) not in reads
    assert route_project(pool, project, NOW).assigned == 0  # nothing left to route
    events = pool.scalar(select(func.count()).select_from(AssignmentEvent))
    assert events == 360


def test_shortfall_is_recorded_per_task(pool: Session) -> None:
    project = make_project(pool, "tb_chest_xray")
    eligible = [
        v
        for v in physician_views(pool, project.id, NOW)
        if qualification(v, policy_of(pool, project)) is None
    ]
    set_policy(pool, project, reads=len(eligible))  # every eligible physician is needed on every task
    ids = [next(_ls_ids) for _ in range(4)]
    conflicted = eligible[0].institution  # so at least one of them may not read these
    register_tasks(pool, project, [TaskInfo(i, source_institution=conflicted) for i in ids])
    report = route_project(pool, project, NOW)
    assert set(report.shortfalls) == set(ids)
    missing = sum(v.institution == conflicted for v in eligible)
    assert set(report.shortfalls.values()) == {missing}
    shortfalls = pool.scalars(select(RoutedTask.shortfall).where(RoutedTask.ls_task_id.in_(ids))).all()
    assert shortfalls == [missing] * 4
    assert explain_task(pool, ids[0], NOW).shortfall == missing
    verdicts = {v.physician_id: v.outcome for v in explain_task(pool, ids[0], NOW).verdicts}
    assert verdicts[eligible[0].id] == Reason.CONFLICT_OF_INTEREST


def test_leases_expire_and_are_rerouted_to_someone_else(pool: Session) -> None:
    project = make_project(pool)
    set_policy(pool, project, lease_hours=24)
    ids = add_tasks(pool, project, 10)
    route_project(pool, project, NOW)
    first = {ls_id: {pid for pid, _ in holders(pool, ls_id)} for ls_id in ids}
    submitted_task = ids[0]
    submitter = pool.scalar(select(Physician).where(Physician.id == min(first[submitted_task])))
    assert submitter is not None
    assignment_id, state = reads_of(pool, [submitted_task])[(submitted_task, submitter.id)]
    assert state == "assigned"
    record_submissions(pool, [assignment_id], NOW + timedelta(hours=2))
    pool.commit()
    later = NOW + timedelta(hours=25)
    report = route_project(pool, project, later)
    assert report.expired == 29 and report.assigned == 29
    for ls_id in ids:
        rows = holders(pool, ls_id)
        active = {pid for pid, state in rows if state in ("assigned", "submitted")}
        expired = {pid for pid, state in rows if state == "expired"}
        assert len(active) == 3 and not active & expired
        assert len({pid for pid, _ in rows}) == len(rows), "a physician got the same task twice"
    assert reads_of(pool, [submitted_task])[(submitted_task, submitter.id)] == (assignment_id, "submitted")
    assert any(state == "submitted" for _, state in holders(pool, submitted_task))


def test_pausing_reroutes_open_work_and_resuming_restores_eligibility(pool: Session) -> None:
    project = make_project(pool)
    ids = add_tasks(pool, project, 60)
    route_project(pool, project, NOW)
    busiest = pool.execute(
        select(Assignment.physician_id, func.count())
        .group_by(Assignment.physician_id)
        .order_by(func.count().desc(), Assignment.physician_id)
    ).first()
    assert busiest is not None
    physician_id, open_count = busiest
    report = set_active(pool, physician_id, False, NOW + timedelta(minutes=5))
    assert report.assigned == open_count
    for ls_id in ids:
        rows = holders(pool, ls_id)
        assert sum(state == "assigned" for _, state in rows) == 3
        assert (physician_id, "assigned") not in rows
    states = pool.scalars(select(Assignment.state).where(Assignment.physician_id == physician_id)).all()
    assert set(states) == {"rerouted"}
    reasons = pool.scalars(
        select(AssignmentEvent.reason)
        .join(Assignment)
        .where(Assignment.physician_id == physician_id, AssignmentEvent.to_state == "rerouted")
    ).all()
    assert reasons == ["physician paused"] * open_count
    verdicts = {v.physician_id: v for v in explain_task(pool, ids[0], NOW).verdicts}
    assert verdicts[physician_id].outcome in (Reason.READ_BEFORE, Reason.PAUSED)
    set_active(pool, physician_id, True)
    assert pool.get(Physician, physician_id).active  # type: ignore[union-attr]
    with pytest.raises(UnknownRecordError):
        set_active(pool, 10_000_000, False)


def test_explain_names_a_reason_for_every_physician(pool: Session) -> None:
    project = make_project(pool)
    policy = policy_of(pool, project)
    qualified = [v for v in physician_views(pool, project.id, NOW) if qualification(v, policy) is None]
    ls_id = next(_ls_ids)
    register_tasks(pool, project, [TaskInfo(ls_id, source_institution=qualified[-1].institution)])
    route_project(pool, project, NOW)
    explanation = explain_task(pool, ls_id, NOW)
    outcomes = [v.outcome for v in explanation.verdicts]
    assert len(outcomes) == 320
    assert outcomes[:3] == ["assigned"] * 3
    assert {Reason.WRONG_SPECIALTY, Reason.NOT_IN_TOP_K, Reason.CONFLICT_OF_INTEREST} <= set(outcomes)
    assert Reason.TIER_TOO_LOW in outcomes  # labelers in radiology
    with pytest.raises(UnknownRecordError):
        explain_task(pool, 1, NOW)


def test_gold_reads_are_mixed_in_and_route_new_tasks_routes_only_the_new(pool: Session) -> None:
    project = make_project(pool)
    set_policy(pool, project, gold_share=0.5)
    add_tasks(pool, project, 0, gold=6)
    new_ids = [next(_ls_ids) for _ in range(12)]
    report = route_new_tasks(pool, project, new_ids, {new_ids[0]: TaskInfo(new_ids[0], priority=0.05)}, NOW)
    assert report.assigned == 36 and report.gold_reads > 0
    gold_reads = pool.execute(
        select(Assignment.physician_id, Assignment.task_id).where(Assignment.is_gold_read.is_(True))
    ).all()
    assert len(gold_reads) == len(set(gold_reads)) == report.gold_reads
    regular = {
        pid
        for pid, _ in pool.execute(
            select(Assignment.physician_id, Assignment.task_id).where(Assignment.is_gold_read.is_(False))
        )
    }
    assert {pid for pid, _ in gold_reads} <= regular


def label_studio_down() -> LabelStudio:
    """The client factory of a run where Label Studio is unreachable: routing stands, publishing fails."""
    raise LabelStudioError("cannot reach Label Studio (test)")


def test_source_facts_that_arrive_late_cancel_conflicting_reads_and_refill_them(pool: Session) -> None:
    """The webhook may report a task before ingest has recorded where it came from; ingest's own report then
    brings the institution, and reads by that institution's physicians are cancelled and given to others."""
    project = make_project(pool)
    ls_id = next(_ls_ids)
    first = tasks_arrived(pool, label_studio_down, Settings(), project, [ls_id], now=NOW)
    assert first.registered == 1 and first.route.assigned == 3
    assert first.publish_error == "cannot reach Label Studio (test)"
    readers = [pool.get(Physician, pid) for pid, _ in holders(pool, ls_id)]
    source = readers[0].institution  # type: ignore[union-attr]
    pool.add(
        IngestedItem(
            ls_project_id=project.ls_project_id,
            content_key="late-key",
            ls_task_id=ls_id,
            source_institution=source,
            plugin="dicom",
            run_id="r",
        )
    )
    pool.commit()
    second = tasks_arrived(pool, label_studio_down, Settings(), project, [ls_id], now=NOW)
    in_conflict = sum(1 for r in readers if r is not None and r.institution == source)
    assert (second.registered, second.corrected, second.cancelled) == (0, 1, in_conflict)
    assert second.route.assigned == in_conflict
    task = pool.scalars(select(RoutedTask).where(RoutedTask.ls_task_id == ls_id)).one()
    assert (task.content_key, task.source_institution, task.shortfall) == ("late-key", source, 0)
    holding = [pid for pid, state in holders(pool, ls_id) if state in HOLDING_STATES]
    assert len(holding) == 3
    assert all(pool.get(Physician, pid).institution != source for pid in holding)  # type: ignore[union-attr]
    reasons = pool.scalars(
        select(AssignmentEvent.reason).where(AssignmentEvent.to_state == "cancelled")
    ).all()
    assert reasons == ["conflict of interest (source learned)"] * in_conflict
    third = tasks_arrived(pool, label_studio_down, Settings(), project, [ls_id], now=NOW)
    assert (third.registered, third.corrected, third.route.assigned) == (0, 0, 0)


def test_daily_load_counters_equal_todays_holding_reads_through_every_state_change(pool: Session) -> None:
    """The counters routing reads instead of counting assignments stay equal to that count."""
    project = make_project(pool)
    add_tasks(pool, project, 30)

    def counted() -> dict[int, int]:
        rows = pool.execute(
            select(Assignment.physician_id, func.count())
            .where(Assignment.state.in_(HOLDING_STATES), Assignment.created_at >= NOW.replace(hour=0))
            .group_by(Assignment.physician_id)
        ).all()
        return dict(rows)

    def counters() -> dict[int, int]:
        rows = pool.execute(
            select(DailyLoad.physician_id, func.sum(DailyLoad.reads))
            .where(DailyLoad.day == NOW.date())
            .group_by(DailyLoad.physician_id)
        ).all()
        return {pid: int(n) for pid, n in rows if n}

    route_project(pool, project, NOW)
    assert counters() == counted() and sum(counted().values()) == 90
    busiest = max(counted(), key=lambda pid: (counted()[pid], pid))
    set_active(pool, busiest, False, NOW)  # re-routes their open reads
    assert counters() == counted() and busiest not in counted()
    some = pool.scalars(select(Assignment.id).where(Assignment.state == "assigned").limit(5)).all()
    pool.execute(
        Assignment.__table__.update()
        .where(Assignment.id.in_(some))
        .values(leased_until=NOW - timedelta(hours=1))
    )
    assert expire_leases(pool, NOW, project.id) == 5
    pool.commit()
    assert counters() == counted() and sum(counted().values()) < 90


def test_migration_0005r_counts_the_reads_already_given(tmp_path: Path) -> None:
    """Upgrading a DB that already has assignments fills the day counters from them (holding reads only)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0004")
        day1, day2 = datetime(2026, 11, 20, 23, 30, tzinfo=UTC), datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                Physician.__table__.insert(),
                [
                    {
                        "id": pid,
                        "license_number": f"L{pid}",
                        "name": f"P{pid}",
                        "email": f"p{pid}@example.org",
                        "tier": "specialist",
                        "subspecialties": [],
                        "languages": [],
                        "institution": "A",
                        "daily_capacity": 10,
                        "active": True,
                        "reads_count": 0,
                        "created_at": day1,
                    }
                    for pid in (1, 2)
                ],
            )
            then = (
                "id",
                "ls_project_id",
                "title",
                "template_id",
                "template_version",
                "language",
                "label_codes",
            )
            projects_at_0004 = table(  # the table as it was then, not as the model is now
                "projects",
                *(column(c, ProjectRecord.__table__.c[c].type) for c in (*then, "reads", "created_at")),
            )
            connection.execute(
                projects_at_0004.insert(),
                [
                    {
                        "id": 5,
                        "ls_project_id": 50,
                        "title": "old",
                        "template_id": "radiology_report_classification",
                        "template_version": 1,
                        "language": "en",
                        "label_codes": {},
                        "reads": 3,
                        "created_at": day1,
                    }
                ],
            )
            connection.execute(
                RoutedTask.__table__.insert(),
                [
                    {
                        "id": t,
                        "project_id": 5,
                        "ls_task_id": t,
                        "is_gold": False,
                        "shortfall": 0,
                        "created_at": day1,
                    }
                    for t in (1, 2, 3)
                ],
            )
            rows = [(1, 1, "assigned", day1), (2, 1, "submitted", day1), (3, 1, "expired", day1)]
            rows += [(1, 2, "assigned", day2), (2, 2, "rerouted", day2)]
            connection.execute(
                Assignment.__table__.insert(),
                [
                    {
                        "task_id": t,
                        "physician_id": p,
                        "state": state,
                        "is_gold_read": False,
                        "leased_until": at,
                        "created_at": at,
                        "updated_at": at,
                    }
                    for t, p, state, at in rows
                ],
            )
        upgrade(engine)
        with engine.connect() as connection:
            counters = connection.execute(
                select(DailyLoad.day, DailyLoad.physician_id, DailyLoad.project_id, DailyLoad.reads).order_by(
                    DailyLoad.day, DailyLoad.physician_id
                )
            ).all()
        assert [tuple(r) for r in counters] == [(day1.date(), 1, 5, 2), (day2.date(), 2, 5, 1)]
    finally:
        engine.dispose()
