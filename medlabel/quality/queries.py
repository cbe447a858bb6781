"""Quality's reads of the platform DB: the reads that count, and what the report shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.models import MirrorAnnotation


@dataclass(frozen=True)
class CountedRead:
    """One physician's valid annotation of a task."""

    annotation_id: int
    physician_id: int
    result: list[Any]


def counted_reads(
    session: Session, ls_project_id: int, ls_task_ids: list[int] | None
) -> dict[int, list[CountedRead]]:
    """task -> the reads that count, one per physician (their latest annotation), in annotation id order."""
    query = select(
        MirrorAnnotation.ls_task_id,
        MirrorAnnotation.ls_annotation_id,
        MirrorAnnotation.physician_id,
        MirrorAnnotation.result,
    ).where(
        MirrorAnnotation.ls_project_id == ls_project_id,
        MirrorAnnotation.deleted.is_(False),
        MirrorAnnotation.was_cancelled.is_(False),
        MirrorAnnotation.quarantined.is_(False),
        MirrorAnnotation.physician_id.is_not(None),
        MirrorAnnotation.ls_task_id.is_not(None),
    )
    if ls_task_ids is not None:
        query = query.where(MirrorAnnotation.ls_task_id.in_(ls_task_ids))
    latest: dict[tuple[int, int], CountedRead] = {}
    for task_id, annotation_id, physician_id, result in session.execute(
        query.order_by(MirrorAnnotation.ls_annotation_id)
    ):
        latest[(task_id, physician_id)] = CountedRead(annotation_id, physician_id, list(result or []))
    by_task: dict[int, list[CountedRead]] = defaultdict(list)
    for (task_id, _), reading in sorted(latest.items(), key=lambda kv: kv[1].annotation_id):
        by_task[task_id].append(reading)
    return by_task
