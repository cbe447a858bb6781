"""Large ingests as RQ jobs: the input is cut into chunks that keep a folder (a DICOM series) together.

A job carries only the project id, file paths and options, never credentials: the worker reads its own
settings from its environment, like every other medlabel process.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import Job

from medlabel.db import platform_session
from medlabel.errors import MedlabelError
from medlabel.ingest.handoff import route_ingested
from medlabel.ingest.runner import IngestRun
from medlabel.ls_client import make_client
from medlabel.settings import Settings, get_settings
from plugins.ingest.base import IngestOptions

logger = logging.getLogger(__name__)

QUEUE_NAME = "medlabel-ingest"
#: A job holds at least this many files (whole folders are never split).
CHUNK_FILES = 500
JOB_TIMEOUT = 6 * 3600


def chunks(paths: list[Path], chunk_files: int = CHUNK_FILES) -> Iterator[list[str]]:
    """Group the input into lists of paths of about `chunk_files` files, never splitting a folder's files."""
    chunk: list[str] = []
    for unit in _units(paths):
        chunk.extend(str(p) for p in unit)
        if len(chunk) >= chunk_files:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _units(paths: list[Path]) -> Iterator[list[Path]]:
    for root in paths:
        if not root.is_dir():
            yield [root]
            continue
        folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
        for folder in folders:
            if any(part.startswith(".") for part in folder.relative_to(root).parts):
                continue
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            if files:
                yield files


def queue(settings: Settings, name: str = QUEUE_NAME) -> Queue:
    return Queue(name, connection=Redis.from_url(settings.redis_url), default_timeout=JOB_TIMEOUT)


def enqueue(
    settings: Settings,
    project_id: int,
    paths: list[Path],
    options: IngestOptions,
    queue_name: str = QUEUE_NAME,
    source_institution: str | None = None,
) -> list[Job]:
    q = queue(settings, queue_name)
    return [
        q.enqueue(
            ingest_job,
            project_id,
            chunk,
            dataclasses.asdict(options),
            source_institution,
            job_timeout=JOB_TIMEOUT,
        )
        for chunk in chunks(paths)
    ]


def ingest_job(
    project_id: int, paths: list[str], options: dict[str, Any], source_institution: str | None = None
) -> dict[str, Any]:
    """Run in an RQ worker: one ingest run over one chunk, then routing; returns the run's summary."""
    settings = get_settings()
    option_values = {**options, "burned_in_regions": tuple(tuple(r) for r in options["burned_in_regions"])}
    client = make_client(settings)
    with platform_session(settings) as session:
        result = IngestRun(
            client,
            settings,
            session,
            project_id,
            IngestOptions(**option_values),
            source_institution=source_institution,
        ).run([Path(p) for p in paths])
        try:
            report = route_ingested(session, client, settings, result)
        except MedlabelError as exc:  # the tasks exist; `medlabel route` picks them up once the pool allows
            logger.warning("ingested tasks of project %s not routed: %s", project_id, exc)
            report = None
    return {
        "sources": result.sources,
        "tasks": result.ingested,
        "task_ids": result.task_ids,
        "held_for_phi_review": result.held,
        "duplicates": result.duplicates,
        "reasons": result.reasons(),
        "manifest": str(result.manifest),
        "routed": report.route.tasks_routed if report else 0,
    }
