"""Reconciliation: pull what changed in Label Studio since a project's watermark and repair the mirror.

Webhooks are hints (Community posts each once, with no retry); this pass is what makes the mirror converge.
Tasks updated since the watermark (minus an overlap, for clock skew and pages that shifted under us) come with
their annotations inline (`fields=all`); a changed task's annotations missing from Label Studio were deleted;
tasks deleted with their webhook lost are found by a full diff of task ids. It reuses the webhook handlers,
which are idempotent, so running it again, or after the webhooks did their work, changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medlabel.db import utc
from medlabel.errors import LabelStudioError, UnknownRecordError
from medlabel.models import MirrorAnnotation, MirrorTask, SyncWatermark
from medlabel.settings import Settings
from sync.events import LsAction, LsEvent, ls_time, user_id
from sync.handlers import (
    SyncContext,
    handle,
    managed_project,
    mark_annotations_deleted,
    mark_tasks_deleted,
    mirror_annotations,
    mirror_task,
)
from sync.operations import process_pending

logger = logging.getLogger(__name__)
#: Re-read this much before the watermark: Label Studio's clock and ours, and commits still in flight.
OVERLAP = timedelta(minutes=5)
PAGE_SIZE = 100
ID_PAGE_SIZE = 1000
#: The datetime format Label Studio's Data Manager filter accepts (ARCHITECTURE.md, "Reconciliation").
LS_FILTER_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Progress = Callable[[int, int], None]


@dataclass
class ReconcileReport:
    inbox_processed: int = 0
    tasks_seen: int = 0
    annotations_seen: int = 0
    annotations_deleted: int = 0
    tasks_deleted: int = 0
    watermark: datetime | None = None
    project_deleted: bool = False


@dataclass
class LabelStudioTasks:
    """Reads a project's tasks over Label Studio's task API (the SDK has no typed `query` filter)."""

    settings: Settings
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        if not self.settings.label_studio_api_key:
            raise LabelStudioError("LABEL_STUDIO_API_KEY is not set; the local stack prints one on start")
        self.http = httpx.Client(
            base_url=self.settings.label_studio_url,
            headers={"Authorization": f"Token {self.settings.label_studio_api_key}"},
            timeout=120,
        )

    def close(self) -> None:
        self.http.close()

    def _page(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.http.get("/api/tasks/", params=params)
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"list tasks: cannot reach Label Studio ({exc})") from exc
        if answer.status_code == 404:  # past the last page
            return {"tasks": [], "total": 0}
        if answer.status_code != 200:
            raise LabelStudioError(f"list tasks: Label Studio answered {answer.status_code}")
        body: dict[str, Any] = answer.json()
        return body

    def changed_since(
        self, ls_project_id: int, since: datetime, progress: Progress | None = None
    ) -> Iterator[dict[str, Any]]:
        """Tasks with `updated_at` after `since`, oldest change first, annotations inline."""
        query = {
            "filters": {
                "conjunction": "and",
                "items": [
                    {
                        "filter": "filter:tasks:updated_at",
                        "operator": "greater",
                        "type": "Datetime",
                        "value": since.astimezone(UTC).strftime(LS_FILTER_FORMAT),
                    }
                ],
            },
            "ordering": ["tasks:updated_at"],
        }
        yield from self._all(
            {"project": ls_project_id, "fields": "all", "query": json.dumps(query)}, PAGE_SIZE, progress
        )

    def project_exists(self, ls_project_id: int) -> bool:
        try:
            answer = self.http.get(f"/api/projects/{ls_project_id}/")
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"read project: cannot reach Label Studio ({exc})") from exc
        if answer.status_code not in (200, 404):
            raise LabelStudioError(f"read project: Label Studio answered {answer.status_code}")
        return answer.status_code == 200

    def task_ids(self, ls_project_id: int) -> set[int]:
        return {
            int(t["id"])
            for t in self._all({"project": ls_project_id, "fields": "task_only"}, ID_PAGE_SIZE, None)
        }

    def all_tasks(self, ls_project_id: int) -> list[dict[str, Any]]:
        return list(self._all({"project": ls_project_id, "fields": "all"}, PAGE_SIZE, None))

    def _all(
        self, params: dict[str, Any], page_size: int, progress: Progress | None
    ) -> Iterator[dict[str, Any]]:
        """Every page, the next one fetched while the caller writes this one (Label Studio's serializer and
        the mirror's writes take turns otherwise)."""
        done = 0
        with ThreadPoolExecutor(max_workers=1) as ahead:
            pending = ahead.submit(self._page, {**params, "page": 1, "page_size": page_size})
            page = 1
            while True:
                body = pending.result()
                tasks = body.get("tasks") or []
                total = int(body.get("total") or 0)
                done += len(tasks)
                last = not tasks or done >= total
                if not last:
                    page += 1
                    pending = ahead.submit(self._page, {**params, "page": page, "page_size": page_size})
                yield from tasks
                if progress is not None:
                    progress(done, total)
                if last:
                    return


def reconcile(
    maker: sessionmaker[Session],
    settings: Settings,
    context: SyncContext,
    ls_project_id: int,
    full_diff: bool = True,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Drain the project's inbox, then bring its mirror to what Label Studio holds now.

    Raises:
        UnknownRecordError: the project is not one medlabel manages.
    """
    report = ReconcileReport()
    with maker() as session:
        if managed_project(session, ls_project_id) is None:
            raise UnknownRecordError(f"Label Studio project {ls_project_id} is not managed by medlabel")
    report.inbox_processed = process_pending(maker, context, ls_project_id)
    source = LabelStudioTasks(settings)
    started = datetime.now(UTC)
    try:
        if not source.project_exists(
            ls_project_id
        ):  # Label Studio cannot send us PROJECT_DELETED (projects.py)
            with maker() as session:
                handle(session, context, LsEvent(LsAction.PROJECT_DELETED, ls_project_id))
            report.project_deleted = True
            return report
        with maker() as session:
            mark = session.get(SyncWatermark, ls_project_id) or SyncWatermark(ls_project_id=ls_project_id)
            since = (utc(mark.updated_at) or EPOCH) - OVERLAP
            newest = utc(mark.updated_at)
            page: list[dict[str, Any]] = []
            for task in source.changed_since(ls_project_id, since, progress):
                page.append(task)
                updated = ls_time(task.get("updated_at"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                if len(page) == PAGE_SIZE:
                    _apply_page(session, context, ls_project_id, page, report)
                    session.commit()
                    page = []
            _apply_page(session, context, ls_project_id, page, report)
            session.commit()
            if full_diff:
                report.tasks_deleted = _deleted_tasks(session, source, ls_project_id)
                mark.last_full_diff_at = started
            mark.updated_at, mark.last_run_at = newest, started
            session.merge(mark)
            session.commit()
    finally:
        source.close()
    report.watermark = newest
    logger.info(
        "project %s reconciled: %d inbox events, %d tasks and %d annotations read, %d annotations and %d tasks "
        "found deleted",
        ls_project_id,
        report.inbox_processed,
        report.tasks_seen,
        report.annotations_seen,
        report.annotations_deleted,
        report.tasks_deleted,
    )
    return report


def _apply_page(
    session: Session,
    context: SyncContext,
    ls_project_id: int,
    tasks: list[dict[str, Any]],
    report: ReconcileReport,
) -> None:
    """Mirror a page of tasks as Label Studio holds them now: their annotations in one batch, and the
    annotations the mirror holds for them that Label Studio no longer has marked deleted."""
    if not tasks:
        return
    annotations = [{**data, "task": task["id"]} for task in tasks for data in task.get("annotations") or []]
    ids = [task["id"] for task in tasks]
    session.scalars(
        select(MirrorTask).where(MirrorTask.ls_task_id.in_(ids))
    ).all()  # one read, not one per task
    for task in tasks:
        mirror_task(session, ls_project_id, task, deleted=False)  # Label Studio has it now
    mirror_annotations(session, context, ls_project_id, annotations, current=True)
    report.tasks_seen += len(tasks)
    report.annotations_seen += len(annotations)
    present = {int(data["id"]) for data in annotations}
    known = set(
        session.scalars(
            select(MirrorAnnotation.ls_annotation_id).where(
                MirrorAnnotation.ls_task_id.in_([task["id"] for task in tasks]),
                MirrorAnnotation.deleted.is_(False),
            )
        )
    )
    report.annotations_deleted += mark_annotations_deleted(session, ls_project_id, sorted(known - present))


def _deleted_tasks(session: Session, source: LabelStudioTasks, ls_project_id: int) -> int:
    live = source.task_ids(ls_project_id)
    mirrored = set(
        session.scalars(
            select(MirrorTask.ls_task_id).where(
                MirrorTask.ls_project_id == ls_project_id, MirrorTask.deleted.is_(False)
            )
        )
    )
    gone = sorted(mirrored - live)
    if gone:
        mark_tasks_deleted(session, ls_project_id, gone)
        session.commit()
    return len(gone)


def differences(maker: sessionmaker[Session], settings: Settings, ls_project_id: int) -> list[str]:
    """Every way the mirror differs from Label Studio right now (empty when converged); for checks and tests."""
    source = LabelStudioTasks(settings)
    try:
        tasks = source.all_tasks(ls_project_id)
    finally:
        source.close()
    live = {int(a["id"]): (int(t["id"]), a) for t in tasks for a in t.get("annotations") or []}
    problems: list[str] = []
    with maker() as session:
        mirrored_tasks = set(
            session.scalars(
                select(MirrorTask.ls_task_id).where(
                    MirrorTask.ls_project_id == ls_project_id, MirrorTask.deleted.is_(False)
                )
            )
        )
        rows = {
            r.ls_annotation_id: r
            for r in session.scalars(
                select(MirrorAnnotation).where(
                    MirrorAnnotation.ls_project_id == ls_project_id, MirrorAnnotation.deleted.is_(False)
                )
            )
        }
    live_tasks = {int(t["id"]) for t in tasks}
    problems += [f"task {t} missing from the mirror" for t in sorted(live_tasks - mirrored_tasks)]
    problems += [f"task {t} deleted in Label Studio" for t in sorted(mirrored_tasks - live_tasks)]
    problems += [f"annotation {a} missing from the mirror" for a in sorted(set(live) - set(rows))]
    problems += [f"annotation {a} deleted in Label Studio" for a in sorted(set(rows) - set(live))]
    for annotation_id in sorted(set(live) & set(rows)):
        task_id, data = live[annotation_id]
        row = rows[annotation_id]
        expected = (
            task_id,
            data.get("result") or [],
            bool(data.get("was_cancelled")),
            user_id(data.get("completed_by")),
            ls_time(data.get("updated_at")),
        )
        actual = (row.ls_task_id, row.result, row.was_cancelled, row.completed_by, utc(row.ls_updated_at))
        if expected != actual:
            problems.append(f"annotation {annotation_id} differs")
    return problems
