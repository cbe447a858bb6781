"""A project's routing policy: defaults from its template, validated changes, stored in routing_policies."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config_templates import get_template
from medlabel.errors import NoEligiblePhysicianError, RoutingError, UnknownRecordError
from medlabel.models import Physician, ProjectRecord, RoutingPolicy
from medlabel.routing.rules import PhysicianView, Policy, qualification
from medlabel.specialties import SPECIALTIES, Tier

#: Policy fields a manager may set, beside the dispatcher's own: stored, shown, used by review and quality.
EXTRA_FIELDS = ("client_name", "reviewer_specialty", "reviewer_tier", "agreement_threshold")
#: Consensus agreement below which a task goes to a reviewer, until a manager sets the project's own.
DEFAULT_AGREEMENT_THRESHOLD = 0.6


def project_by_ls_id(session: Session, ls_project_id: int) -> ProjectRecord:
    project = session.scalar(select(ProjectRecord).where(ProjectRecord.ls_project_id == ls_project_id))
    if project is None:
        raise UnknownRecordError(
            f"Label Studio project {ls_project_id} was not created by medlabel (see `medlabel project create`)"
        )
    return project


def template_policy(project: ProjectRecord) -> Policy:
    """The policy a project starts with: its template's specialty, minimum tier and reads.

    The template's subspecialty is not required by default (it would shut out residents and most of the
    pool); a manager narrows to it with `route policy --subspecialty`.
    """
    template = get_template(project.template_id)
    return Policy(
        specialty=template.specialty,
        min_tier=template.min_tier,
        reads=project.reads,
        require_board_certification=template.min_tier is Tier.SPECIALIST,
    )


def policy_of(session: Session, project: ProjectRecord) -> Policy:
    row = session.get(RoutingPolicy, project.id)
    if row is None:
        return template_policy(project)
    return Policy(
        specialty=row.specialty,
        subspecialty=row.subspecialty,
        min_tier=Tier(row.min_tier),
        reads=row.reads,
        require_board_certification=row.require_board_certification,
        conflict_of_interest=row.conflict_of_interest,
        daily_capacity=row.daily_capacity,
        lease_hours=row.lease_hours,
        gold_share=row.gold_share,
        deadline=row.deadline,
    )


def agreement_threshold(row: RoutingPolicy | None) -> float:
    """The project's review threshold (the default until a policy row sets one)."""
    return row.agreement_threshold if row is not None else DEFAULT_AGREEMENT_THRESHOLD


def physician_view(physician: Physician, used_today: int = 0, used_today_project: int = 0) -> PhysicianView:
    return PhysicianView(
        id=physician.id,
        specialties=physician.certified_in(),
        tier=Tier(physician.tier),
        institution=physician.institution,
        daily_capacity=physician.daily_capacity,
        active=physician.active,
        subspecialties=tuple(physician.subspecialties),
        accuracy=physician.accuracy,
        reads_count=physician.reads_count,
        used_today=used_today,
        used_today_project=used_today_project,
    )


def set_policy(session: Session, project: ProjectRecord, **changes: Any) -> RoutingPolicy:
    """Validate the whole new policy, then store it; a bad value raises and nothing is written.

    Args:
        changes: any of Policy's fields plus client_name, reviewer_specialty, reviewer_tier,
            agreement_threshold; None leaves a field as it is.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(Policy.__dataclass_fields__) - set(EXTRA_FIELDS)
    if unknown:
        raise RoutingError(f"unknown policy field(s): {', '.join(sorted(unknown))}")
    extras = {k: changes.pop(k) for k in EXTRA_FIELDS if k in changes}
    current = session.get(RoutingPolicy, project.id)
    if "min_tier" in changes:
        changes["min_tier"] = _tier(changes["min_tier"], "min_tier")
    if "specialty" in changes and "subspecialty" not in changes:
        changes["subspecialty"] = None
    policy = replace(policy_of(session, project), **changes)
    _validate(project, policy)
    reviewer_specialty = extras.get("reviewer_specialty", current.reviewer_specialty if current else None)
    reviewer_tier = extras.get("reviewer_tier", current.reviewer_tier if current else None)
    if reviewer_specialty is not None and reviewer_specialty not in SPECIALTIES:
        raise RoutingError(f"unknown reviewer specialty {reviewer_specialty!r}")
    if reviewer_tier is not None:
        reviewer_tier = _tier(reviewer_tier, "reviewer_tier").value
    threshold = extras.get("agreement_threshold", agreement_threshold(current))
    if not 0.0 <= threshold <= 1.0:
        raise RoutingError(f"agreement_threshold must be between 0 and 1, not {threshold}")
    _check_pool(session, policy)
    row = current or RoutingPolicy(project_id=project.id)
    for name, value in asdict(policy).items():
        setattr(row, name, value.value if isinstance(value, Tier) else value)
    row.client_name = extras.get("client_name", current.client_name if current else None)
    row.reviewer_specialty = reviewer_specialty
    row.reviewer_tier = reviewer_tier
    row.agreement_threshold = threshold
    if row.reads != project.reads:
        project.reads = row.reads
    session.add(row)
    session.commit()
    return row


def _tier(value: str | Tier, name: str) -> Tier:
    try:
        return Tier(value)
    except ValueError:
        raise RoutingError(f"{name}: unknown tier {value!r} (one of {', '.join(Tier)})") from None


def _validate(project: ProjectRecord, policy: Policy) -> None:
    if policy.specialty not in SPECIALTIES:
        raise RoutingError(f"unknown specialty {policy.specialty!r}")
    subs = SPECIALTIES[policy.specialty].subspecialties
    if policy.subspecialty is not None and policy.subspecialty not in subs:
        raise RoutingError(
            f"{policy.subspecialty!r} is not a subspecialty of {policy.specialty} ({', '.join(subs) or 'none'})"
        )
    floor = get_template(project.template_id).min_tier
    if policy.min_tier.rank < floor.rank:
        raise RoutingError(
            f"min_tier {policy.min_tier.value} is below the template's minimum {floor.value} "
            f"for {project.template_id}"
        )
    if policy.require_board_certification and policy.min_tier is not Tier.SPECIALIST:
        raise RoutingError("board certification can only be required with min_tier specialist")
    if not 1 <= policy.reads <= 10:
        raise RoutingError(f"reads (k) must be 1–10, not {policy.reads}")
    if not 0.0 <= policy.gold_share <= 0.5:
        raise RoutingError(f"gold_share must be between 0 and 0.5, not {policy.gold_share}")
    if policy.daily_capacity is not None and policy.daily_capacity < 1:
        raise RoutingError(f"daily capacity must be at least 1, not {policy.daily_capacity}")
    if not 1 <= policy.lease_hours <= 24 * 30:
        raise RoutingError(f"lease_hours must be 1–720, not {policy.lease_hours}")
    if policy.deadline is not None and policy.deadline.replace(
        tzinfo=policy.deadline.tzinfo or UTC
    ) < datetime.now(UTC):
        raise RoutingError(f"deadline {policy.deadline.isoformat()} is in the past")


def _check_pool(session: Session, policy: Policy) -> None:
    """k must not exceed the active physicians qualified for the policy (capacity aside)."""
    physicians = session.scalars(select(Physician).options(selectinload(Physician.specialties))).all()
    eligible = sum(1 for p in physicians if qualification(physician_view(p), policy) is None)
    if policy.reads > eligible:
        raise NoEligiblePhysicianError(
            f"k={policy.reads} independent reads need {policy.reads} distinct physicians, but only {eligible} "
            f"active ones qualify ({policy.specialty}{'/' + policy.subspecialty if policy.subspecialty else ''}, "
            f"{policy.min_tier.value} or above"
            f"{', board-certified' if policy.require_board_certification else ''})"
        )
