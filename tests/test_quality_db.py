"""Quality over the mirror on SQLite and PostgreSQL, driven through sync's handlers as Label Studio's webhooks
would: consensus at the k-th read, incomplete below k, no aggregator named, idempotent reruns, review routing
(conflict of interest, original readers excluded), the reviewer's final decision, gold import and promotion,
and accuracy that moves routing's share weight."""

from __future__ import annotations

import csv
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config_templates import Overrides, get_template
from medlabel.db import Base
from medlabel.errors import LabelStudioError, QualityError, RoutingError
from medlabel.models import (
    Adjudication,
    Assignment,
    AssignmentEvent,
    GoldScore,
    Physician,
    ProjectRecord,
    QualityConfig,
    QualityResult,
    ReadOutcome,
    RoutedTask,
)
from medlabel.models.quality import AdjudicationStatus, ResultStatus
from medlabel.quality.cli import read_gold_file
from medlabel.quality.operations import import_gold, note_reason, promote_gold, run_consensus
from medlabel.quality.report import gather, write_report
from medlabel.quality.scoring import posterior
from medlabel.routing.demo import demo_pool_rows
from medlabel.routing.generator import to_csv
from medlabel.routing.policy import set_policy
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.rules import share_weight
from medlabel.routing.service import physician_views, route_new_tasks
from medlabel.settings import Settings
from sync.events import parse_event
from sync.handlers import SyncContext, handle

PROJECT = 4343
TEMPLATE = "radiology_report_classification"
CONTEXT = SyncContext(settings=Settings(label_studio_url="http://127.0.0.1:9", label_studio_api_key="x"))
_ids = itertools.count(90_000)
QUALITY_TABLES = ("quality_", "agreement_threshold")


def offline() -> Any:
    """Label Studio is not running in DB tests: publishing worklist tabs fails, as it may in production."""
    raise LabelStudioError("Label Studio is offline in this test")


def test_quality_migration_matches_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in QUALITY_TABLES)] == []


@pytest.fixture
def config() -> str:
    """The template plus a control no aggregator handles (an ellipse on an image), to see it named."""
    xml = get_template(TEMPLATE).render(Overrides(language="en")).xml
    extra = '<Image name="scan" value="$scan"/><EllipseLabels name="marks" toName="scan"><Label value="x"/></EllipseLabels>'
    return xml.replace("</View>", extra + "</View>", 1) if xml.rstrip().endswith("</View>") else xml


@pytest.fixture
def labels(config: str) -> list[str]:
    return list(LabelInterface(config).get_control("category").labels)


@pytest.fixture
def holders(db_session: Session, config: str) -> dict[int, list[int]]:
    """Project 4343 (k=3) with tasks 1-4 routed over a 12-physician radiology pool (LS users 100+id), its
    config stored; returns LS task id -> physician ids holding it."""
    import_pool_csv(db_session, to_csv(demo_pool_rows("radiology", None, size=12, seed=41)))
    for physician in db_session.scalars(select(Physician)):
        physician.ls_user_id = 100 + physician.id
    project = ProjectRecord(
        ls_project_id=PROJECT,
        title="quality test",
        template_id=TEMPLATE,
        template_version=1,
        language="en",
        label_codes={},
        reads=3,
    )
    db_session.add_all([project, QualityConfig(ls_project_id=PROJECT, label_config=config)])
    db_session.commit()
    set_policy(db_session, project, agreement_threshold=0.7, reviewer_tier="specialist")
    assert route_new_tasks(db_session, project, [1, 2, 3, 4]).shortfalls == {}
    found: dict[int, list[int]] = {}
    for task, pid in db_session.execute(
        select(RoutedTask.ls_task_id, Assignment.physician_id)
        .join(Assignment, Assignment.task_id == RoutedTask.id)
        .order_by(Assignment.physician_id)
    ):
        found.setdefault(task, []).append(pid)
    return found


def read(session: Session, task: int, physician_id: int, label: str, reason: str | None = None) -> int:
    """One annotation through sync's handler, as the ANNOTATION_CREATED webhook brings it."""
    annotation_id = next(_ids)
    stamp = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=annotation_id)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    result: list[dict[str, Any]] = [
        {
            "id": "c1",
            "from_name": "category",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]
    if reason:
        result.append(
            {"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": [reason]}}
        )
    body = {
        "action": "ANNOTATION_CREATED",
        "project": {"id": PROJECT},
        "annotation": {
            "id": annotation_id,
            "task": task,
            "project": PROJECT,
            "completed_by": 100 + physician_id,
            "result": result,
            "was_cancelled": False,
            "created_at": stamp,
            "updated_at": stamp,
        },
        "task": {"id": task, "updated_at": stamp},
    }
    handle(session, CONTEXT, parse_event(body))
    return annotation_id


def results(session: Session, task: int) -> dict[str, QualityResult]:
    session.expire_all()
    return {
        r.control: r for r in session.scalars(select(QualityResult).where(QualityResult.ls_task_id == task))
    }


def test_consensus_appears_at_the_kth_read_and_reruns_change_nothing(
    db_session: Session, holders: dict[int, list[int]], labels: list[str]
) -> None:
    first, second, third = holders[1]
    read(db_session, 1, first, labels[0])
    read(db_session, 1, second, labels[0])
    assert results(db_session, 1) == {}  # below k, sync computes nothing
    read(db_session, 1, third, labels[0])
    rows = results(db_session, 1)
    category = rows["category"]
    assert category.status == ResultStatus.CONSENSUS and category.agreement == 1.0
    assert category.method == "majority_vote" and len(category.annotation_ids) == 3
    assert category.items == [
        {"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": [labels[0]]}}
    ]
    assert rows["spans"].method == "span_overlap_hungarian"  # nobody marked a span: agreed on none
    assert rows["marks"].status == ResultStatus.NO_AGGREGATOR and "EllipseLabels 'marks'" in (
        rows["marks"].message or ""
    )
    assert db_session.get(Adjudication, 1) is None

    # a whole-project run: task 2 has one read (incomplete, never a consensus of one), a message names the
    # controls without an aggregator, and a second run writes nothing
    read(db_session, 2, holders[2][0], labels[1])
    report = run_consensus(db_session, CONTEXT.settings, PROJECT, client=offline, refresh_config=False)
    assert report.incomplete == 1 and any("EllipseLabels 'marks'" in m for m in report.messages)
    incomplete = results(db_session, 2)["category"]
    assert incomplete.status == ResultStatus.INCOMPLETE and incomplete.items is None
    assert incomplete.message == "1 of 3 reads"
    versions = {(r.ls_task_id, r.control): r.version for r in db_session.scalars(select(QualityResult))}
    again = run_consensus(db_session, CONTEXT.settings, PROJECT, client=offline, refresh_config=False)
    assert again.changed == 0
    assert {
        (r.ls_task_id, r.control): r.version for r in db_session.scalars(select(QualityResult))
    } == versions


def test_disagreement_goes_to_a_senior_reviewer_whose_read_is_final(
    db_session: Session, holders: dict[int, list[int]], labels: list[str]
) -> None:
    readers = holders[3]
    reads = [
        read(db_session, 3, pid, label)
        for pid, label in zip(readers, [labels[0], labels[0], labels[2]], strict=True)
    ]
    adjudication = db_session.get(Adjudication, 3)
    assert adjudication is not None and adjudication.status == AdjudicationStatus.ROUTED
    assert adjudication.trigger == "category: agreement 0.67 < 0.70"
    reviewer = db_session.get(Physician, adjudication.reviewer_id)
    assert reviewer is not None and reviewer.id not in readers and reviewer.tier == "specialist"
    task = db_session.scalar(select(RoutedTask).where(RoutedTask.ls_task_id == 3))
    assert task is not None and reviewer.institution != task.source_institution
    event = db_session.scalar(
        select(AssignmentEvent.reason)
        .join(Assignment, Assignment.id == AssignmentEvent.assignment_id)
        .where(Assignment.task_id == task.id, Assignment.physician_id == reviewer.id)
    )
    assert event == "review: category: agreement 0.67 < 0.70"

    # the reviewer's answer (with its reason in the config's TextArea) closes the task; the majority is overturned
    decision = read(db_session, 3, reviewer.id, labels[2], reason="Free air under the diaphragm.")
    db_session.expire_all()
    adjudication = db_session.get(Adjudication, 3)
    assert adjudication is not None and adjudication.status == AdjudicationStatus.DECIDED
    assert (adjudication.ls_annotation_id, adjudication.reason) == (decision, "Free air under the diaphragm.")
    category = results(db_session, 3)["category"]
    assert category.status == ResultStatus.ADJUDICATED and category.method == "adjudication"
    assert category.items is not None and category.items[0]["value"] == {"choices": [labels[2]]}
    assert sorted(category.annotation_ids) == sorted(reads)  # the reviewer's read is not one of the k
    outcomes = {
        o.ls_annotation_id: o.overturned
        for o in db_session.scalars(select(ReadOutcome).where(ReadOutcome.control == "category"))
    }
    assert outcomes == {reads[0]: True, reads[1]: True, reads[2]: False}
    assert (
        run_consensus(db_session, CONTEXT.settings, PROJECT, client=offline, refresh_config=False).reviews
        == []
    )
    note_reason(db_session, 3, "Confirmed on the lateral view.")
    assert db_session.get(Adjudication, 3).reason == "Confirmed on the lateral view."  # type: ignore[union-attr]
    with pytest.raises(QualityError, match="never sent to review"):
        note_reason(db_session, 1, "x")

    # the decision becomes gold: its readers are scored against it (the reviewer's own read is not)
    gold = promote_gold(db_session, 3)
    assert gold.result[0]["value"] == {"choices": [labels[2]]}
    db_session.expire_all()
    assert db_session.scalar(select(RoutedTask.is_gold).where(RoutedTask.ls_task_id == 3)) is True
    scores = {s.physician_id: (s.correct, s.total) for s in db_session.scalars(select(GoldScore))}
    assert scores == {readers[0]: (0, 1), readers[1]: (0, 1), readers[2]: (1, 1)}
    with pytest.raises(QualityError, match="no reviewer's decision"):
        promote_gold(db_session, 1)


def test_gold_import_validates_and_accuracy_moves_routing(
    db_session: Session, holders: dict[int, list[int]], labels: list[str]
) -> None:
    reader = holders[4][0]
    for pid in holders[4]:
        read(db_session, 4, pid, labels[1])
    answer = [
        {"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": [labels[1]]}}
    ]
    bogus = [{"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": ["Bogus"]}}]
    report = import_gold(
        db_session,
        CONTEXT.settings,
        PROJECT,
        [(4, answer), (2, bogus), (777, answer), ("x", answer)],
        client=offline_config(db_session),
    )
    assert report.kept == [4]
    refused = dict(report.refused)
    assert "Invalid value for control 'category'" in refused[2]
    assert "not a routed task of project 4343" in refused[777] and "not an integer" in refused["x"]
    db_session.expire_all()
    physician = db_session.get(Physician, reader)
    assert physician is not None and physician.reads_count == 1
    assert physician.accuracy == pytest.approx(posterior(1, 1).mean) and physician.accuracy < 0.9
    # routing's next run reads it: the share weight of the scored physician differs from the unmeasured prior
    views = {v.id: v for v in physician_views(db_session, 1, datetime.now(UTC), "radiology")}
    assert views[reader].accuracy == physician.accuracy
    assert share_weight(views[reader].accuracy, views[reader].reads_count) != share_weight(None, 0)


def offline_config(session: Session) -> Any:
    """Gold import re-reads the config from Label Studio; here it answers with the stored copy."""
    stored = session.get(QualityConfig, PROJECT)
    assert stored is not None

    class Projects:
        def get(self, id: int) -> Any:  # noqa: A002 - the SDK's keyword
            return type("Project", (), {"label_config": stored.label_config})()

    return lambda: type("Client", (), {"projects": Projects()})()


def test_report_is_html_with_inline_svg_plots_and_csv(
    db_session: Session, holders: dict[int, list[int]], labels: list[str], tmp_path: Path
) -> None:
    for task, answers in ((1, [0, 0, 0]), (2, [1, 1, 0]), (3, [2, 2, 2]), (4, [1, 3, 1])):
        for pid, label in zip(holders[task], answers, strict=True):
            read(db_session, task, pid, labels[label])
    answer = [
        {"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": [labels[0]]}}
    ]
    import_gold(db_session, CONTEXT.settings, PROJECT, [(1, answer)], client=offline_config(db_session))
    report = gather(db_session, PROJECT)
    assert {(r.label, r.tasks) for r in report.labels} >= {(labels[0], 1), (labels[2], 1)}
    assert any(p.kappa is not None for p in report.pairs)
    assert {(c.final, c.given) for c in report.confusion if c.final != c.given} == {
        (labels[1], labels[0]),
        (labels[1], labels[3]),
    }
    measured = [p for p in report.physicians if p.gold_total]
    assert measured and all(p.low is not None and p.low < (p.accuracy or 0) < (p.high or 0) for p in measured)
    paths = write_report(report, tmp_path / "out")
    page = paths[0].read_text()
    assert page.count("<svg") == 3 and "<script" not in page and "http://" not in page.split("<svg")[0]
    assert (tmp_path / "out" / "confusion.csv").exists()
    with (tmp_path / "out" / "physicians.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(report.physicians)


def test_review_respects_conflict_of_interest_and_retries_when_nobody_qualified(
    db_session: Session, holders: dict[int, list[int]], labels: list[str]
) -> None:
    readers = holders[2]
    specialists = [
        p
        for p in db_session.scalars(select(Physician).where(Physician.tier == "specialist"))
        if p.id not in readers and "radiology" in p.certified_in()
    ]
    task = db_session.scalar(select(RoutedTask).where(RoutedTask.ls_task_id == 2))
    assert task is not None and specialists
    task.source_institution = "Source Hospital"
    for physician in specialists:  # every possible reviewer works where the data comes from
        physician.institution = "Source Hospital"
    db_session.commit()
    for pid, label in zip(readers, [0, 1, 2], strict=True):  # a three-way tie
        read(db_session, 2, pid, labels[label])
    review = db_session.get(Adjudication, 2)
    assert (
        review is not None and review.status == AdjudicationStatus.NO_REVIEWER and review.reviewer_id is None
    )
    assert review.trigger == "category: no consensus (agreement 0.33)"
    assert results(db_session, 2)["category"].status == ResultStatus.NO_CONSENSUS

    specialists[-1].institution = "Elsewhere"
    db_session.commit()
    report = run_consensus(db_session, CONTEXT.settings, PROJECT, client=offline, refresh_config=False)
    assert report.reviews == [2]
    db_session.expire_all()
    review = db_session.get(Adjudication, 2)
    assert review is not None and (review.status, review.reviewer_id) == (
        AdjudicationStatus.ROUTED,
        specialists[-1].id,
    )


def test_agreement_threshold_is_validated_with_the_policy(
    db_session: Session, holders: dict[int, list[int]]
) -> None:
    project = db_session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == PROJECT))
    assert project is not None
    with pytest.raises(RoutingError, match="agreement_threshold must be between 0 and 1"):
        set_policy(db_session, project, agreement_threshold=1.5)
    assert (
        set_policy(db_session, project, reads=3).agreement_threshold == 0.7
    )  # kept when other fields change


def test_three_right_gold_answers_do_not_make_a_perfect_physician() -> None:
    three = posterior(3, 3)
    assert 0.8 < three.mean < 0.85 and three.low < 0.5 and three.reads == 3
    assert posterior(300, 300).mean > 0.99
    assert (
        posterior(0, 0, model_quality=0.9).reads == 5
        and posterior(0, 0, model_quality=0.9).mean > posterior(0, 0).mean
    )


def test_gold_files_read_as_json_or_csv(tmp_path: Path) -> None:
    answer = [
        {"from_name": "category", "to_name": "text", "type": "choices", "value": {"choices": ["Normal"]}}
    ]
    (tmp_path / "a.json").write_text(json.dumps([{"task": 7, "result": answer}]))
    (tmp_path / "b.csv").write_text("task,result\n7," + '"' + json.dumps(answer).replace('"', '""') + '"\n')
    (tmp_path / "c.json").write_text("{not json")
    assert read_gold_file(tmp_path / "a.json") == [(7, answer)]
    assert read_gold_file(tmp_path / "b.csv") == [("7", answer)]
    with pytest.raises(QualityError, match="cannot read gold file"):
        read_gold_file(tmp_path / "c.json")
