"""Which annotations the backend learns from: none written by a physician the task is not routed to.

Label Studio Community lets any member annotate (or edit an annotation of) any task (ARCHITECTURE.md, "Access
control"). The sync layer keeps such reads out of exports and payouts; the backend must not learn from them
either, or a reader nobody chose for the task would shape every later pre-annotation. A task is routed to a
physician while they hold an assignment of it (`HOLDING_STATES`, the rule of `routing.service.reads_of`).
Label Studio users who are not physicians in the platform DB (the admin, project managers) are learned from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from medlabel.db import make_engine
from medlabel.models import Assignment, Physician, RoutedTask
from medlabel.models.routing import HOLDING_STATES

logger = logging.getLogger(__name__)

Annotated = tuple[dict[str, Any], dict[str, Any]]
#: Task ids per query: far below SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 500


def authors(annotation: dict[str, Any]) -> set[int]:
    """Label Studio user ids that wrote the annotation: `completed_by` and `updated_by`, each an id (webhooks)
    or a user object (task listings, /train); a deleted user is null and names nobody."""
    found = set()
    for key in ("completed_by", "updated_by"):
        who = annotation.get(key)
        if isinstance(who, dict):
            who = who.get("id")
        if isinstance(who, int) and not isinstance(who, bool):
            found.add(who)
    return found


def routed_only(annotated: Sequence[Annotated], database_url: str, project_id: int | None) -> list[Annotated]:
    """The (task, annotation) pairs whose physician authors all hold an assignment of the task.

    Reads the platform DB only when some annotation names an author. If the DB cannot be read, whether an
    author is a physician is unknown, so every annotation naming one is left out (fail closed).
    """
    named = set().union(*(authors(a) for _, a in annotated))
    if not named:
        return list(annotated)
    try:
        physicians, holding = _routing_facts(database_url, named, {_task_id(t) for t, _ in annotated})
    except (SQLAlchemyError, OSError) as exc:  # OSError: a SQLite file that cannot be created or opened
        reason = str(exc.orig) if getattr(exc, "orig", None) is not None else exc.__class__.__name__
        kept = [(t, a) for t, a in annotated if not authors(a)]
        logger.warning(
            "project %s: platform DB unavailable (%s): not learning from %d annotation(s) by identified users",
            project_id,
            reason,
            len(annotated) - len(kept),
        )
        return kept
    kept, skipped = [], []
    for task, annotation in annotated:
        unrouted = {u for u in authors(annotation) & physicians if (_task_id(task), u) not in holding}
        (skipped if unrouted else kept).append((task, annotation))
    if skipped:
        logger.info(
            "project %s: not learning from %d annotation(s) by physicians the task is not routed to: ids %s",
            project_id,
            len(skipped),
            sorted(str(a.get("id")) for _, a in skipped),
        )
    return kept


def _task_id(task: dict[str, Any]) -> int | None:
    task_id = task.get("id")
    return task_id if isinstance(task_id, int) else None


def _routing_facts(
    database_url: str, users: set[int], task_ids: Iterable[int | None]
) -> tuple[set[int], set[tuple[int, int]]]:
    """Which of `users` are physicians, and the (task, user) pairs among them that hold an assignment."""
    engine = make_engine(database_url)
    holding: set[tuple[int, int]] = set()
    try:
        with Session(engine) as session:
            found = session.scalars(select(Physician.ls_user_id).where(Physician.ls_user_id.in_(users)))
            physicians = {user for user in found if user is not None}
            ids = sorted(i for i in task_ids if i is not None) if physicians else []
            for start in range(0, len(ids), _CHUNK):
                rows = session.execute(
                    select(RoutedTask.ls_task_id, Physician.ls_user_id)
                    .join(Assignment, Assignment.task_id == RoutedTask.id)
                    .join(Physician, Physician.id == Assignment.physician_id)
                    .where(
                        RoutedTask.ls_task_id.in_(ids[start : start + _CHUNK]),
                        Physician.ls_user_id.in_(physicians),
                        Assignment.state.in_(HOLDING_STATES),
                    )
                )
                holding.update((task, user) for task, user in rows)
    finally:
        engine.dispose()
    return physicians, holding
