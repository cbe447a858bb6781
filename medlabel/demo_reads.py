"""The demo's first reads: a few physicians label through Label Studio as themselves, so the mirror has
something to show; one of them labels a task that was not routed to them, which sync must quarantine, and the
readers of one task disagree on a single-choice question, so consensus sends it to a senior reviewer (the demo
project asks for 75% agreement, so even a 2–1 split on a two-choice question goes to review).

Reads are submitted with each physician's own Label Studio user (their JWT, the identity the gateway uses),
not the admin's, so they exercise the same enforcement real reads meet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medlabel.accounts.label_studio import AccessTokens, provision
from medlabel.ls_client import call
from medlabel.models import Adjudication, Assignment, MirrorAnnotation, Physician, RoutedTask
from medlabel.models.routing import HOLDING_STATES
from medlabel.quality.operations import run_consensus
from medlabel.routing.label_studio import open_tasks_by_physician
from medlabel.routing.operations import change_policy
from medlabel.routing.policy import project_by_ls_id
from medlabel.settings import Settings
from sync.operations import sync_context
from sync.queries import status
from sync.reconcile import reconcile

logger = logging.getLogger(__name__)
#: The demo project's agreement threshold: below it, a task goes to a reviewer.
DEMO_AGREEMENT = 0.75


@dataclass(frozen=True)
class DemoReads:
    ls_project_id: int
    annotations: int
    quarantined: int
    #: Tasks consensus sent to a reviewer.
    reviews: int = 0


def submit_demo_reads(client: LabelStudio, settings: Settings, session: Session, ls_project_id: int) -> None:
    """Two routed physicians read one task each, and a physician of the same pool who was not routed to the
    first of those tasks reads it too; then the readers of a task read it with three different answers. Once
    per project (the printed login is chosen afterwards, among those with work left)."""
    project = project_by_ls_id(session, ls_project_id)
    if session.scalar(
        select(MirrorAnnotation.ls_annotation_id).where(MirrorAnnotation.ls_project_id == ls_project_id)
    ):
        return  # a restart adds nothing
    config = call("read project", lambda: client.projects.get(id=ls_project_id)).label_config
    result = LabelInterface(config).generate_sample_prediction()["result"]
    readers = [(pid, tasks[0]) for pid, tasks in sorted(open_tasks_by_physician(session, project).items())]
    if not readers:
        return
    first_task = readers[0][1]
    holders = set(
        session.scalars(
            select(Assignment.physician_id).join(RoutedTask).where(RoutedTask.ls_task_id == first_task)
        )
    )
    outsider = session.scalar(select(Physician.id).where(Physician.id.not_in(holders)).order_by(Physician.id))
    reads = [(pid, task, result) for pid, task in readers[:2]]
    reads += [(outsider, first_task, result)] if outsider is not None else []
    change_policy(session, lambda: client, project, agreement_threshold=DEMO_AGREEMENT)
    reads += _disagreement(session, project.id, config, result, reads)
    with httpx.Client(base_url=settings.label_studio_url, timeout=60) as http:
        tokens = AccessTokens(settings, http)
        for physician_id, task, answer in reads:
            physician = session.get(Physician, physician_id)
            assert physician is not None
            provision(settings, session, physician)
            answer = http.post(
                f"/api/tasks/{task}/annotations/?project={ls_project_id}",
                json={"result": answer, "lead_time": 42.0},
                headers={"Authorization": f"Bearer {tokens.get(physician)}"},
            )
            answer.raise_for_status()
    logger.info("demo project %s: %d reads submitted by physicians", ls_project_id, len(reads))


def _disagreement(
    session: Session,
    project_id: int,
    config: str,
    sample: list[dict[str, Any]],
    planned: list[tuple[int, int, list[dict[str, Any]]]],
) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """Reads that complete one task with answers spread over the labels of its first single-choice Choices
    control (a multi-label control would not do: three different labels are three agreed "no"s per label)."""
    control = next(
        (
            c
            for c in LabelInterface(config).controls
            if c.tag == "Choices" and len(c.labels) >= 2 and (c.attr or {}).get("choice") != "multiple"
        ),
        None,
    )
    if control is None:
        return []
    holders: dict[int, list[int]] = {}
    for task, pid in session.execute(
        select(RoutedTask.ls_task_id, Assignment.physician_id)
        .join(Assignment, Assignment.task_id == RoutedTask.id)
        .where(RoutedTask.project_id == project_id, Assignment.state.in_(HOLDING_STATES))
        .order_by(RoutedTask.ls_task_id, Assignment.physician_id)
    ):
        holders.setdefault(task, []).append(pid)
    already = {(pid, t): answer for pid, t, answer in planned}
    task = next((t for t, pids in holders.items() if sum((pid, t) in already for pid in pids) <= 1), None)
    if task is None:
        return []
    taken = {
        str(item["value"]["choices"][0])
        for pid in holders[task]
        for item in already.get((pid, task), [])
        if item.get("from_name") == control.name and item.get("value", {}).get("choices")
    }
    # labels nobody gave yet first: three labels make a three-way tie, two a 2–1 split
    labels = [label for label in control.labels if label not in taken] + sorted(taken)
    reads = []
    for pid in (p for p in holders[task] if (p, task) not in already):
        answer = [i for i in sample if i.get("from_name") != control.name]
        answer.append(
            {
                "from_name": control.name,
                "to_name": control.to_name[0],
                "type": "choices",
                "value": {"choices": [labels[len(reads) % len(labels)]]},
            }
        )
        reads.append((pid, task, answer))
    return reads


def mirror_demo_project(maker: sessionmaker[Session], settings: Settings, ls_project_id: int) -> DemoReads:
    """The same passes as `medlabel sync --project P` then `medlabel consensus --project P`: whatever the webhooks
    brought, the mirror now matches, and tasks whose readers disagree have gone to a reviewer."""
    reconcile(maker, settings, sync_context(settings), ls_project_id)
    with maker() as session:
        run_consensus(session, settings, ls_project_id)
        shown = status(session, project_by_ls_id(session, ls_project_id))
        reviews = session.scalar(
            select(func.count()).select_from(Adjudication).where(Adjudication.ls_project_id == ls_project_id)
        )
    return DemoReads(ls_project_id, shown.annotations, shown.quarantined, int(reviews or 0))
