"""Who may read a project's tasks: the policy and physician views the dispatcher works on, and the rules.

Pure data and functions (no ORM), so the dispatcher, `route explain` and the tests share one definition of
"eligible" and the hot loop never touches the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from medlabel.specialties import Tier

#: Prior accuracy of a physician with no measured reads, and how many reads it weighs.
PRIOR_ACCURACY = 0.85
PRIOR_READS = 20
#: Newcomers' bonus: EXPLORATION_BONUS / sqrt(1 + reads / 10), so a new physician is not starved of work
#: before quality has measured them (a UCB-style optimism; it fades after a few dozen gold reads).
EXPLORATION_BONUS = 0.15
#: Quality q in [0, 1] becomes a share weight in [1 - SPREAD, 1 + SPREAD]: at equal capacity the best
#: physician gets at most (1 + SPREAD) / (1 - SPREAD) the load of the worst, so load stays balanced.
WEIGHT_SPREAD = 0.1


class Reason(StrEnum):
    """Why a physician is not reading a task (stable codes shown by `route explain`)."""

    WRONG_SPECIALTY = "wrong_specialty"
    NOT_BOARD_CERTIFIED = "not_board_certified"
    WRONG_SUBSPECIALTY = "wrong_subspecialty"
    TIER_TOO_LOW = "tier_too_low"
    PAUSED = "paused"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    AT_CAPACITY = "at_capacity"
    READ_BEFORE = "read_before"
    NOT_IN_TOP_K = "not_in_top_k"


@dataclass(frozen=True)
class Policy:
    """The routing knobs of one project (see RoutingPolicy for the stored form)."""

    specialty: str
    min_tier: Tier
    reads: int
    subspecialty: str | None = None
    require_board_certification: bool = True
    conflict_of_interest: bool = True
    daily_capacity: int | None = None
    lease_hours: int = 48
    gold_share: float = 0.0
    deadline: datetime | None = None


@dataclass(frozen=True)
class PhysicianView:
    """What routing knows about one physician; `used_today` counts reads given today in every project,
    `used_today_project` those of the project being routed."""

    id: int
    specialties: dict[str, bool]  # code -> board certified
    tier: Tier
    institution: str
    daily_capacity: int
    active: bool = True
    subspecialties: tuple[str, ...] = ()
    accuracy: float | None = None
    reads_count: int = 0
    used_today: int = 0
    used_today_project: int = 0


def qualification(physician: PhysicianView, policy: Policy) -> Reason | None:
    """The first standing reason the physician cannot read this project's tasks, or None if qualified."""
    if policy.specialty not in physician.specialties:
        return Reason.WRONG_SPECIALTY
    if policy.require_board_certification and not physician.specialties[policy.specialty]:
        return Reason.NOT_BOARD_CERTIFIED
    if policy.subspecialty and policy.subspecialty not in physician.subspecialties:
        return Reason.WRONG_SUBSPECIALTY
    if physician.tier.rank < policy.min_tier.rank:
        return Reason.TIER_TOO_LOW
    if not physician.active:
        return Reason.PAUSED
    return None


def remaining_capacity(physician: PhysicianView, policy: Policy) -> int:
    """Reads this physician can still take today in this project."""
    left = physician.daily_capacity - physician.used_today
    if policy.daily_capacity is not None:
        left = min(left, policy.daily_capacity - physician.used_today_project)
    return max(left, 0)


def quality(accuracy: float | None, reads: int) -> float:
    """Shrunk accuracy plus an exploration bonus for physicians with few measured reads, clipped to [0, 1]."""
    if accuracy is None:  # reads without a measured accuracy carry no information
        accuracy, reads = 0.0, 0
    shrunk = (accuracy * reads + PRIOR_ACCURACY * PRIOR_READS) / (reads + PRIOR_READS)
    return min(1.0, max(0.0, shrunk + EXPLORATION_BONUS / math.sqrt(1 + reads / 10)))


def share_weight(accuracy: float | None, reads: int) -> float:
    """How much more than its plain capacity share a physician should receive (1 ± WEIGHT_SPREAD)."""
    return 1.0 - WEIGHT_SPREAD + 2 * WEIGHT_SPREAD * quality(accuracy, reads)
