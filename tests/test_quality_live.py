"""Quality end to end on the live Label Studio: three routed physicians annotate a chest X-ray project through
Label Studio's API as themselves, one of them disagreeing; Label Studio's webhooks reach the platform's
gunicorn, whose sync path computes consensus at the third read and routes the disagreement to a senior
reviewer; the reviewer's annotation closes it; a gold task moves a physician's accuracy, which routing's next
run weighs; gold answers never reach Label Studio."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import Engine, select

from medlabel.accounts.label_studio import AccessTokens, provision
from medlabel.db import make_sessionmaker
from medlabel.models import Adjudication, Assignment, Physician, QualityResult, ReadOutcome, RoutedTask
from medlabel.models.quality import AdjudicationStatus, ResultStatus
from medlabel.projects import register_webhook
from medlabel.routing.dispatcher import candidates
from medlabel.routing.policy import policy_of, project_by_ls_id
from medlabel.routing.rules import share_weight
from medlabel.routing.service import eligible_views
from medlabel.settings import Settings
from tests.fixtures.platform import Platform, RoutedWorld, build_routed_world, medlabel

pytestmark = pytest.mark.label_studio


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def world(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> RoutedWorld:
    world = build_routed_world(
        ls_client,
        platform.settings,
        platform_db,
        tmp_path_factory.mktemp("quality-inputs"),
        "quality live",
        seed=173,  # a pool of its own
        with_accounts=12,
    )
    register_webhook(
        ls_client, dataclasses.replace(platform.settings, webhook_url=platform.url), world.ls_project_id
    )
    return world


def result(findings: str, certainty: str, reason: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"from_name": "findings", "to_name": "image", "type": "choices", "value": {"choices": [findings]}},
        {"from_name": "certainty", "to_name": "image", "type": "choices", "value": {"choices": [certainty]}},
    ]
    if reason:
        items.append(
            {"from_name": "comment", "to_name": "image", "type": "textarea", "value": {"text": [reason]}}
        )
    return items


def annotate(
    settings: Settings, engine: Engine, physician_id: int, task: int, items: list[dict[str, Any]]
) -> int:
    """Post as the physician's own Label Studio user (a JWT from their refresh token), as the gateway does."""
    with make_sessionmaker(engine)() as session:
        physician = session.get(Physician, physician_id)
        assert physician is not None
        provision(settings, session, physician)
        session.commit()
        with httpx.Client(base_url=settings.label_studio_url, timeout=60) as http:
            token = AccessTokens(settings, http).get(physician)
            answer = http.post(
                f"/api/tasks/{task}/annotations/",
                json={"result": items, "lead_time": 12.0},
                headers={"Authorization": f"Bearer {token}"},
            )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def holders(engine: Engine, task: int) -> list[int]:
    with make_sessionmaker(engine)() as session:
        return list(
            session.scalars(
                select(Assignment.physician_id)
                .join(RoutedTask, RoutedTask.id == Assignment.task_id)
                .where(RoutedTask.ls_task_id == task)
                .order_by(Assignment.physician_id)
            )
        )


def quality_rows(engine: Engine, task: int) -> dict[str, QualityResult]:
    with make_sessionmaker(engine)() as session:
        return {
            r.control: r
            for r in session.scalars(select(QualityResult).where(QualityResult.ls_task_id == task))
        }


def adjudication(engine: Engine, task: int) -> Adjudication | None:
    with make_sessionmaker(engine)() as session:
        return session.get(Adjudication, task)


def test_consensus_review_and_gold_end_to_end(
    ls_client: LabelStudio, platform: Platform, platform_db: Engine, world: RoutedWorld, tmp_path: Path
) -> None:
    settings = platform.settings
    project = str(world.ls_project_id)
    policy = medlabel(settings, "route", "policy", "--project", project, "--agreement-threshold", "0.7")
    assert policy.returncode == 0 and "agreement_threshold          0.7" in policy.stdout, policy.stderr
    config = ls_client.projects.get(id=world.ls_project_id).label_config
    certainty = list(LabelInterface(config).get_control("certainty").labels)
    finding = list(LabelInterface(config).get_control("findings").labels)[0]
    disputed, agreed = sorted(world.media)
    readers = holders(platform_db, disputed)
    assert len(readers) == 3

    # three reads of the disputed task, one disagreeing on certainty: 2/3 < 0.7 sends it to a reviewer
    reads = [
        annotate(settings, platform_db, pid, disputed, result(finding, answer))
        for pid, answer in zip(readers, [certainty[0], certainty[0], certainty[1]], strict=True)
    ]
    wait_for(lambda: "certainty" in quality_rows(platform_db, disputed), "consensus of the disputed task")
    rows = quality_rows(platform_db, disputed)
    assert rows["certainty"].status == ResultStatus.CONSENSUS and rows[
        "certainty"
    ].agreement == pytest.approx(2 / 3)
    assert sorted(rows["certainty"].annotation_ids) == sorted(reads)
    assert rows["findings"].agreement == 1.0 and rows["comment"].status == ResultStatus.READS_ONLY
    wait_for(lambda: adjudication(platform_db, disputed) is not None, "the review routing")
    review = adjudication(platform_db, disputed)
    assert review is not None and review.status == AdjudicationStatus.ROUTED, review and review.status
    reviewer = review.reviewer_id
    assert reviewer is not None and reviewer not in readers and reviewer in holders(platform_db, disputed)
    with make_sessionmaker(platform_db)() as session:
        assert session.get(Physician, reviewer).tier == "specialist"  # type: ignore[union-attr]

    # the reviewer's annotation closes it, with the reason from the config's TextArea
    decision = annotate(
        settings, platform_db, reviewer, disputed, result(finding, certainty[1], "Subtle basal opacity.")
    )
    wait_for(
        lambda: (adjudication(platform_db, disputed) or Adjudication()).status == AdjudicationStatus.DECIDED,
        "the reviewer's decision",
    )
    review = adjudication(platform_db, disputed)
    assert review is not None and (review.ls_annotation_id, review.reason) == (
        decision,
        "Subtle basal opacity.",
    )
    rows = quality_rows(platform_db, disputed)
    assert rows["certainty"].status == ResultStatus.ADJUDICATED
    assert rows["certainty"].items[0]["value"] == {"choices": [certainty[1]]}  # type: ignore[index]
    with make_sessionmaker(platform_db)() as session:
        overturned = dict(
            session.execute(
                select(ReadOutcome.ls_annotation_id, ReadOutcome.overturned).where(
                    ReadOutcome.control == "certainty"
                )
            ).all()
        )
    assert overturned == {reads[0]: True, reads[1]: True, reads[2]: False}

    # the other task's readers agree; a gold answer for it (imported by the operator) scores them
    agreed_readers = holders(platform_db, agreed)
    for pid in agreed_readers:
        annotate(settings, platform_db, pid, agreed, result(finding, certainty[0]))
    wait_for(lambda: "certainty" in quality_rows(platform_db, agreed), "consensus of the agreed task")
    assert adjudication(platform_db, agreed) is None
    before = ls_client.tasks.get(id=agreed)
    scored = agreed_readers[0]
    with make_sessionmaker(platform_db)() as session:
        assert session.get(Physician, scored).accuracy is None  # type: ignore[union-attr]
    gold_file = tmp_path / "gold.json"
    gold_file.write_text(
        json.dumps({str(agreed): result(finding, certainty[0]), "999999": result(finding, "Bogus")})
    )
    imported = medlabel(settings, "gold", "import", "--project", project, str(gold_file))
    assert imported.returncode == 2 and "1 kept, 1 refused" in imported.stdout, imported.stderr
    assert "task 999999 refused" in imported.stderr
    maker = make_sessionmaker(platform_db)
    with maker() as session:
        physician = session.get(Physician, scored)
        assert physician is not None and physician.accuracy is not None and 0.5 < physician.accuracy < 1.0
        assert physician.reads_count == 2  # findings and certainty, one gold task
        # the next routing run weighs the physician by it (the dispatcher's own inputs)
        record = project_by_ls_id(session, world.ls_project_id)
        policy_now = policy_of(session, record)
        weights = {
            c.physician_id: c.weight
            for c in candidates(eligible_views(session, record.id, datetime.now(UTC), policy_now), policy_now)
        }
        assert (
            weights[scored]
            == share_weight(physician.accuracy, physician.reads_count)
            != share_weight(None, 0)
        )
    routed = medlabel(settings, "route", "--project", project)
    assert routed.returncode == 0, routed.stderr

    # gold stays in the platform: Label Studio's task is as it was (no ground truth, no prediction, same data)
    after = ls_client.tasks.get(id=agreed)
    assert (after.data, after.meta, after.total_predictions) == (
        before.data,
        before.meta,
        before.total_predictions,
    )
    assert not any(a.get("ground_truth") for a in (after.annotations or []))

    # the operator's report
    report = medlabel(settings, "quality", "report", "--project", project, "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    # agreement and accuracy plots; two tasks give no pair of physicians a kappa yet (the DB test draws one)
    assert page.count("<svg") == 2 and str(disputed) in page and "Subtle basal opacity." in page
