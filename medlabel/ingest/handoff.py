"""After ingest: new tasks go to routing at once (the TASKS_CREATED webhook is only a backstop)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.ingest.runner import IngestResult
from medlabel.models import ProjectRecord
from medlabel.routing.service import RouteReport, TaskInfo, route_new_tasks


def route_ingested(
    session: Session, result: IngestResult, source_institution: str | None
) -> RouteReport | None:
    """Route the run's new tasks when the project is one the platform manages; None when it is not.

    The source institution stays in the platform DB (conflict of interest), never in Label Studio.
    """
    project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == result.project_id))
    if project is None or not result.task_ids:
        return None
    infos = {
        task_id: TaskInfo(
            task_id, content_key=result.content_keys.get(task_id), source_institution=source_institution
        )
        for task_id in result.task_ids
    }
    return route_new_tasks(session, project, result.task_ids, infos)
