"""PHI review flows: hold a draft (from ingest), release held items to Label Studio and routing, reject them.

Every trigger (the CLI now, a page later) calls these. A held item's media sit in a private folder outside
Label Studio's document root until release moves them to the project's served folder; the task is imported
and handed to routing's one arrival operation exactly as a normal ingest does. A rejected item never reaches
Label Studio: its media move to the ingest quarantine with the reviewer's reason.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from label_studio_sdk import LabelStudio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medlabel.errors import ConfigError, LabelStudioError, MedlabelError
from medlabel.ingest.sources import private_dir
from medlabel.ls_client import call
from medlabel.models import HeldItem, IngestedItem, ProjectRecord
from medlabel.models.phi import HeldState
from medlabel.phi.policy import SourceRecord
from medlabel.phi.removed import removed
from medlabel.routing.operations import ArrivalReport, tasks_arrived
from medlabel.settings import Settings
from plugins.ingest.base import TaskDraft

logger = logging.getLogger(__name__)

#: Quarantine reason of an item a reviewer rejected.
REJECTED_REASON = "phi_review_rejected"


class PhiReviewError(MedlabelError):
    """A review request that cannot be carried out (unknown item, already decided, no reason)."""

    code = "phi_review"
    http_status = 400
    exit_code = 2


@dataclass
class ReleaseReport:
    item_ids: list[int] = field(default_factory=list)
    task_ids: list[int] = field(default_factory=list)
    arrivals: list[ArrivalReport] = field(default_factory=list)
    #: Routing problems (the tasks exist; `medlabel route` picks them up later).
    route_errors: list[str] = field(default_factory=list)


def held_folder(settings: Settings, project_id: int) -> Path:
    """The private folder of a project's held media: never below Label Studio's document root."""
    folder = settings.state_dir / "phi" / "held" / f"p{project_id}"
    if folder.resolve().is_relative_to(settings.media_root.resolve()):
        raise ConfigError(
            f"the PHI review folder {folder} lies below MEDLABEL_MEDIA_ROOT, which Label Studio serves; "
            "move MEDLABEL_STATE_DIR or MEDLABEL_MEDIA_ROOT"
        )
    return folder


def source_record(session: Session, project_id: int, institution: str | None) -> SourceRecord:
    """Items of this source released in this project since its last rejection there."""
    same_source = (
        HeldItem.source_institution.is_(None)
        if institution is None
        else HeldItem.source_institution == institution
    )
    last_rejection = session.scalar(
        select(func.max(HeldItem.decided_at)).where(
            HeldItem.ls_project_id == project_id, same_source, HeldItem.state == HeldState.REJECTED
        )
    )
    released = select(func.count()).where(
        HeldItem.ls_project_id == project_id, same_source, HeldItem.state == HeldState.RELEASED
    )
    if last_rejection is not None:
        released = released.where(HeldItem.decided_at > last_rejection)
    # Items that went straight through count too: they reached physicians with no one objecting.
    direct = select(func.count()).where(
        IngestedItem.ls_project_id == project_id,
        IngestedItem.source_institution.is_(None)
        if institution is None
        else IngestedItem.source_institution == institution,
        IngestedItem.content_key.not_in(
            select(HeldItem.content_key).where(HeldItem.ls_project_id == project_id)
        ),
    )
    if last_rejection is not None:
        direct = direct.where(IngestedItem.created_at > last_rejection)
    return SourceRecord(int(session.scalar(released) or 0) + int(session.scalar(direct) or 0))


def hold(
    session: Session,
    settings: Settings,
    *,
    project_id: int,
    draft: TaskDraft,
    task: dict[str, Any],
    plugin: str,
    run_id: str,
    source_institution: str | None,
    staging: Path,
    reasons: Sequence[str],
) -> list[Path]:
    """Queue a draft for review: its media move from `staging` to the held folder, a row is added (the caller
    commits). Returns the files moved, for the caller to remove if its commit fails."""
    folder = private_dir(held_folder(settings, project_id))
    moved = []
    for path in draft.media:
        relative = path.relative_to(staging)
        destination = folder / relative
        private_dir(destination.parent)
        if not destination.exists():  # content-addressed names: same name, same bytes
            os.replace(path, destination)
            moved.append(destination)
    session.add(
        HeldItem(
            ls_project_id=project_id,
            content_key=draft.content_key,
            plugin=plugin,
            run_id=run_id,
            source_institution=source_institution,
            reasons=list(reasons),
            task=task,
            removed=removed(draft),
            media=[path.relative_to(staging).as_posix() for path in draft.media],
            state=HeldState.HELD,
        )
    )
    return moved


def set_review(
    session: Session,
    ls_project_id: int,
    *,
    enabled: bool,
    share: float | None = None,
    proven_after: int | None = None,
) -> ProjectRecord:
    """Switch PHI review on or off for a project, optionally with its sampling share and proving count."""
    project = _project(session, ls_project_id)
    if share is not None and not 0.0 <= share <= 1.0:
        raise PhiReviewError(f"the review share must be between 0 and 1, not {share}")
    if proven_after is not None and proven_after < 0:
        raise PhiReviewError(f"--proven-after must be 0 or more, not {proven_after}")
    project.phi_review = enabled
    if share is not None:
        project.phi_review_share = share
    if proven_after is not None:
        project.phi_review_proven_after = proven_after
    session.commit()
    logger.info(
        "project %s: PHI review %s (share %s, proven after %s)",
        ls_project_id,
        "on" if enabled else "off",
        project.phi_review_share,
        project.phi_review_proven_after,
    )
    return project


def release(
    session: Session, client: LabelStudio, settings: Settings, item_ids: Sequence[int], reviewer: str
) -> ReleaseReport:
    """Import held items into Label Studio and route them, all or nothing per project.

    Raises:
        PhiReviewError: an id is unknown or not held (nothing is released then).
        LabelStudioError: the import failed (undone: no task stays, the media are back in the held folder).
    """
    items = _held(session, item_ids)
    report = ReleaseReport()
    by_project: dict[int, list[HeldItem]] = {}
    for item in items:
        by_project.setdefault(item.ls_project_id, []).append(item)
    for project_id, group in by_project.items():
        task_ids = _release_project(session, client, settings, project_id, group, reviewer)
        report.item_ids.extend(item.id for item in group)
        report.task_ids.extend(task_ids)
        project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == project_id))
        if project is None:
            continue
        try:
            report.arrivals.append(tasks_arrived(session, lambda: client, settings, project, task_ids))
        except MedlabelError as exc:
            report.route_errors.append(f"project {project_id}: {exc}")
    return report


def reject(session: Session, settings: Settings, item_id: int, reason: str, reviewer: str) -> HeldItem:
    """Send a held item to quarantine with the reviewer's reason; it can never be imported afterwards.

    The media move to `<state>/ingest/quarantine/p<project>/phi_review_rejected/item-<id>/` beside a JSON
    record of the decision; the row keeps the decision too (who, when, why).
    """
    if not reason.strip():
        raise PhiReviewError("a rejection needs a reason")
    (item,) = _held(session, [item_id])
    now = datetime.now(UTC)
    quarantine = private_dir(
        settings.state_dir
        / "ingest"
        / "quarantine"
        / f"p{item.ls_project_id}"
        / REJECTED_REASON
        / f"item-{item.id}"
    )
    source = held_folder(settings, item.ls_project_id)
    for relative in item.media:
        path = source / relative
        if path.exists():
            destination = quarantine / relative
            private_dir(destination.parent)
            os.replace(path, destination)
    (quarantine / "decision.json").write_text(
        json.dumps(
            {
                "reason": REJECTED_REASON,
                "detail": reason,
                "item": item.id,
                "project": item.ls_project_id,
                "run_id": item.run_id,
                "held_for": item.reasons,
                "by": reviewer,
                "at": now.isoformat(),
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    item.state = HeldState.REJECTED
    item.decided_by, item.decided_at, item.decision_reason = reviewer, now, reason
    session.commit()
    logger.info("PHI review: item %s of project %s rejected by %s", item.id, item.ls_project_id, reviewer)
    return item


def _release_project(
    session: Session,
    client: LabelStudio,
    settings: Settings,
    project_id: int,
    items: list[HeldItem],
    reviewer: str,
) -> list[int]:
    from medlabel.ingest.runner import ensure_ingest_storage, ingest_folder

    ensure_ingest_storage(client, settings, project_id)
    held, served = held_folder(settings, project_id), ingest_folder(settings, project_id)
    moved: list[tuple[Path, Path]] = []
    task_ids: list[int] = []
    session.commit()  # no read lock held while Label Studio posts TASKS_CREATED to the platform (see runner)
    try:
        for item in items:
            for relative in item.media:
                source, destination = held / relative, served / relative
                if destination.exists():
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, destination)
                moved.append((source, destination))
        response = call(
            "import released tasks",
            lambda: client.projects.import_tasks(
                id=project_id, request=[item.task for item in items], return_task_ids=True
            ),
        )
        task_ids = list((response.model_extra or {}).get("task_ids") or [])
        if len(task_ids) != len(items):
            raise LabelStudioError(
                f"Label Studio created {len(task_ids)} tasks for {len(items)} released items"
            )
        now = datetime.now(UTC)
        for item, task_id in zip(items, task_ids, strict=True):
            session.add(
                IngestedItem(
                    ls_project_id=project_id,
                    content_key=item.content_key,
                    ls_task_id=task_id,
                    source_institution=item.source_institution,
                    plugin=item.plugin,
                    run_id=item.run_id,
                )
            )
            item.state, item.ls_task_id = HeldState.RELEASED, task_id
            item.decided_by, item.decided_at = reviewer, now
        session.commit()
    except BaseException:
        session.rollback()
        for task_id in task_ids:
            try:
                call("delete half-released task", lambda t=task_id: client.tasks.delete(id=t))
            except LabelStudioError:
                logger.exception("could not delete half-released task %s", task_id)
        for source, destination in moved:
            os.replace(destination, source)
        raise
    logger.info("PHI review: %s items of project %s released by %s", len(items), project_id, reviewer)
    return task_ids


def _held(session: Session, item_ids: Sequence[int]) -> list[HeldItem]:
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise PhiReviewError("name at least one item")
    items = {i.id: i for i in session.scalars(select(HeldItem).where(HeldItem.id.in_(ids)))}
    missing = [i for i in ids if i not in items]
    if missing:
        raise PhiReviewError(f"no review item {', '.join(map(str, missing))}")
    decided = [f"{i} ({items[i].state})" for i in ids if items[i].state != HeldState.HELD]
    if decided:
        raise PhiReviewError(f"already decided: {', '.join(decided)}")
    return [items[i] for i in ids]


def _project(session: Session, ls_project_id: int) -> ProjectRecord:
    project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == ls_project_id))
    if project is None:
        raise PhiReviewError(f"project {ls_project_id} is not a project the platform created")
    return project
