"""`route explain`: why each physician was or was not chosen for one task, as of now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.errors import UnknownRecordError
from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import HOLDING_STATES
from medlabel.routing.dispatcher import Dispatcher, candidates
from medlabel.routing.policy import policy_of
from medlabel.routing.rules import Policy, Reason, qualification, remaining_capacity
from medlabel.routing.service import physician_views


@dataclass(frozen=True)
class Verdict:
    physician_id: int
    name: str
    #: "assigned"/"submitted" (holding a read), or a Reason value.
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Explanation:
    ls_task_id: int
    project: ProjectRecord
    policy: Policy
    shortfall: int
    verdicts: list[Verdict]


def explain_task(session: Session, ls_task_id: int, now: datetime | None = None) -> Explanation:
    """One verdict per physician in the pool, holders first, then qualified ones, then the rest."""
    now = now or datetime.now(UTC)
    task = session.scalar(select(RoutedTask).where(RoutedTask.ls_task_id == ls_task_id))
    if task is None:
        raise UnknownRecordError(
            f"task {ls_task_id} is not known to routing (run `medlabel route --project P`)"
        )
    project = session.get(ProjectRecord, task.project_id)
    assert project is not None
    policy = policy_of(session, project)
    views = physician_views(session, project.id, now)
    names = dict(session.execute(select(Physician.id, Physician.name)).all())
    states = dict(
        session.execute(
            select(Assignment.physician_id, Assignment.state).where(Assignment.task_id == task.id)
        ).all()
    )
    dispatcher = Dispatcher(candidates(views, policy), policy.conflict_of_interest)
    holder_keys = [dispatcher.key_of(pid) for pid, st in states.items() if st in HOLDING_STATES]
    verdicts: list[Verdict] = []
    for view in views:
        name = names[view.id]
        state = states.get(view.id)
        standing = qualification(view, policy)
        if state in HOLDING_STATES:
            verdicts.append(Verdict(view.id, name, state, "holds a read of this task"))
        elif state is not None:
            verdicts.append(Verdict(view.id, name, Reason.READ_BEFORE, f"earlier read ended as {state}"))
        elif standing is not None:
            verdicts.append(
                Verdict(view.id, name, standing, _standing_detail(standing, view.tier.value, policy))
            )
        elif policy.conflict_of_interest and task.source_institution == view.institution:
            verdicts.append(
                Verdict(view.id, name, Reason.CONFLICT_OF_INTEREST, f"data comes from {view.institution}")
            )
        elif remaining_capacity(view, policy) == 0:
            verdicts.append(Verdict(view.id, name, Reason.AT_CAPACITY, f"{view.used_today} reads today"))
        else:
            key = dispatcher.key_of(view.id)
            bar = f"; chosen ones are at {max(holder_keys):.3f}" if holder_keys else ""
            verdicts.append(
                Verdict(
                    view.id,
                    name,
                    Reason.NOT_IN_TOP_K,
                    f"load key {key:.3f} (reads today {view.used_today}/{view.daily_capacity}){bar}",
                )
            )
    standing_reasons = {r.value for r in STANDING}
    verdicts.sort(
        key=lambda v: (v.outcome in standing_reasons, v.outcome not in HOLDING_STATES, v.physician_id)
    )
    return Explanation(ls_task_id, project, policy, task.shortfall, verdicts)


#: Reasons that hold for every task of the project (qualification), listed last and summarised by the CLI.
STANDING = (
    Reason.WRONG_SPECIALTY,
    Reason.NOT_BOARD_CERTIFIED,
    Reason.WRONG_SUBSPECIALTY,
    Reason.TIER_TOO_LOW,
    Reason.PAUSED,
)


def _standing_detail(reason: Reason, tier: str, policy: Policy) -> str:
    return {
        Reason.WRONG_SPECIALTY: f"not in {policy.specialty}",
        Reason.NOT_BOARD_CERTIFIED: f"not board-certified in {policy.specialty}",
        Reason.WRONG_SUBSPECIALTY: f"no {policy.subspecialty} subspecialty",
        Reason.TIER_TOO_LOW: f"{tier} is below {policy.min_tier.value}",
        Reason.PAUSED: "paused",
    }.get(reason, "")
