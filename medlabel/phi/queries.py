"""Reads of the PHI review queue (for the CLI now and the review page later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.db import utc
from medlabel.models import HeldItem
from medlabel.models.phi import HeldState
from medlabel.phi.operations import PhiReviewError, held_folder
from medlabel.settings import Settings


@dataclass(frozen=True)
class ItemView:
    """One review item as a reviewer sees it: the de-identified task beside what was removed."""

    id: int
    project_id: int
    state: str
    plugin: str
    reasons: list[str]
    source_institution: str | None
    created_at: datetime
    task: dict[str, Any]
    removed: dict[str, Any]
    #: Rendered images to look at (in the held folder while held).
    media: list[Path]
    decided_by: str | None
    decision_reason: str | None
    ls_task_id: int | None


def list_items(session: Session, ls_project_id: int, state: str | None = HeldState.HELD) -> list[HeldItem]:
    """A project's review items, oldest first; `state` None lists every state."""
    query = select(HeldItem).where(HeldItem.ls_project_id == ls_project_id).order_by(HeldItem.id)
    if state is not None:
        query = query.where(HeldItem.state == state)
    return list(session.scalars(query))


def show(session: Session, settings: Settings, item_id: int) -> ItemView:
    item = session.get(HeldItem, item_id)
    if item is None:
        raise PhiReviewError(f"no review item {item_id}")
    folder = held_folder(settings, item.ls_project_id)
    created = utc(item.created_at)
    assert created is not None
    return ItemView(
        id=item.id,
        project_id=item.ls_project_id,
        state=item.state,
        plugin=item.plugin,
        reasons=list(item.reasons),
        source_institution=item.source_institution,
        created_at=created,
        task=item.task,
        removed=item.removed,
        media=[folder / relative for relative in item.media],
        decided_by=item.decided_by,
        decision_reason=item.decision_reason,
        ls_task_id=item.ls_task_id,
    )
