"""The demo's first reads: a few physicians label through Label Studio as themselves, so the mirror has
something to show; one of them labels a task that was not routed to them, which sync must quarantine.

Reads are submitted with each physician's own Label Studio user (their JWT, the identity the gateway uses),
not the admin's, so they exercise the same enforcement real reads meet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medlabel.accounts.label_studio import AccessTokens, provision
from medlabel.ls_client import call
from medlabel.models import Assignment, MirrorAnnotation, Physician, RoutedTask
from medlabel.routing.label_studio import open_tasks_by_physician
from medlabel.routing.policy import project_by_ls_id
from medlabel.settings import Settings
from sync.operations import sync_context
from sync.queries import status
from sync.reconcile import reconcile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoReads:
    ls_project_id: int
    annotations: int
    quarantined: int


def submit_demo_reads(
    client: LabelStudio, settings: Settings, session: Session, ls_project_id: int, keep_open: int | None
) -> None:
    """Two routed physicians (never `keep_open`, whose work the printed login shows) read one task each, and a
    physician of the same pool who was not routed to the first of those tasks reads it too. Once per project."""
    project = project_by_ls_id(session, ls_project_id)
    if session.scalar(
        select(MirrorAnnotation.ls_annotation_id).where(MirrorAnnotation.ls_project_id == ls_project_id)
    ):
        return  # a restart adds nothing
    config = call("read project", lambda: client.projects.get(id=ls_project_id)).label_config
    result = LabelInterface(config).generate_sample_prediction()["result"]
    readers = [
        (pid, tasks[0])
        for pid, tasks in sorted(open_tasks_by_physician(session, project).items())
        if pid != keep_open
    ]
    if not readers:
        return
    first_task = readers[0][1]
    holders = set(
        session.scalars(
            select(Assignment.physician_id).join(RoutedTask).where(RoutedTask.ls_task_id == first_task)
        )
    )
    outsider = session.scalar(
        select(Physician.id).where(Physician.id.not_in(holders | {keep_open or -1})).order_by(Physician.id)
    )
    reads = readers[:2] + ([(outsider, first_task)] if outsider is not None else [])
    with httpx.Client(base_url=settings.label_studio_url, timeout=60) as http:
        tokens = AccessTokens(settings, http)
        for physician_id, task in reads:
            physician = session.get(Physician, physician_id)
            assert physician is not None
            provision(settings, session, physician)
            answer = http.post(
                f"/api/tasks/{task}/annotations/?project={ls_project_id}",
                json={"result": result, "lead_time": 42.0},
                headers={"Authorization": f"Bearer {tokens.get(physician)}"},
            )
            answer.raise_for_status()
    logger.info("demo project %s: %d reads submitted by physicians", ls_project_id, len(reads))


def mirror_demo_project(maker: sessionmaker[Session], settings: Settings, ls_project_id: int) -> DemoReads:
    """The same pass as `medlabel sync --project P`: whatever the webhooks brought, the mirror now matches."""
    reconcile(maker, settings, sync_context(settings), ls_project_id)
    with maker() as session:
        shown = status(session, project_by_ls_id(session, ls_project_id))
    return DemoReads(ls_project_id, shown.annotations, shown.quarantined)
