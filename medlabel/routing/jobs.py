"""Routing as RQ jobs: the TASKS_CREATED webhook hands its tasks to a worker when Redis is configured.

A job carries only ids and priorities, never credentials: the worker reads its own settings.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job

from medlabel.db import platform_session
from medlabel.ls_client import make_client
from medlabel.routing.operations import tasks_arrived
from medlabel.routing.policy import project_by_ls_id
from medlabel.settings import Settings, get_settings

QUEUE_NAME = "medlabel-routing"


def queue(settings: Settings, name: str = QUEUE_NAME) -> Queue:
    return Queue(name, connection=Redis.from_url(settings.redis_url))


def enqueue_arrival(
    settings: Settings,
    ls_project_id: int,
    ls_task_ids: list[int],
    priorities: dict[int, float | None],
    queue_name: str = QUEUE_NAME,
) -> Job:
    return queue(settings, queue_name).enqueue(tasks_arrived_job, ls_project_id, ls_task_ids, priorities)


def tasks_arrived_job(
    ls_project_id: int, ls_task_ids: list[int], priorities: dict[int, float | None]
) -> dict[str, object]:
    """Run in an RQ worker: the one arrival operation; returns its summary."""
    settings = get_settings()
    with platform_session(settings) as session:
        project = project_by_ls_id(session, ls_project_id)
        report = tasks_arrived(
            session, lambda: make_client(settings), settings, project, ls_task_ids, priorities
        )
    return {
        "registered": report.registered,
        "assigned": report.route.assigned,
        "shortfalls": report.route.shortfalls,
        "publish_error": report.publish_error,
    }
