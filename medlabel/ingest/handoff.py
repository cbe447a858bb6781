"""After ingest: new tasks go to routing's one arrival operation at once (the webhook is only a backstop)."""

from __future__ import annotations

from label_studio_sdk import LabelStudio
from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.ingest.runner import IngestResult
from medlabel.models import ProjectRecord
from medlabel.routing.operations import ArrivalReport, tasks_arrived
from medlabel.settings import Settings


def route_ingested(
    session: Session, client: LabelStudio, settings: Settings, result: IngestResult
) -> ArrivalReport | None:
    """Route the run's new tasks when the project is one the platform manages; None when it is not.

    The facts routing needs (content key, source institution) were recorded with each item by the run.
    """
    project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == result.project_id))
    if project is None or not result.task_ids:
        return None
    return tasks_arrived(session, lambda: client, settings, project, result.task_ids)
