"""Seed the demo stack: a small physician pool that can read the demo project, routed and visible in LS."""

from __future__ import annotations

from dataclasses import dataclass, field

from label_studio_sdk import LabelStudio
from sqlalchemy.orm import Session

from medlabel.errors import LabelStudioError, RoutingError
from medlabel.routing.generator import generate_pool, to_csv
from medlabel.routing.operations import route_project_tasks
from medlabel.routing.policy import project_by_ls_id, template_policy
from medlabel.routing.pool import import_pool_csv
from medlabel.routing.service import RouteReport
from medlabel.settings import Settings


@dataclass
class DemoRouting:
    report: RouteReport
    #: physician id -> Data Manager view id in the demo project.
    views: dict[int, int] = field(default_factory=dict)


def demo_pool_rows(
    specialty: str, subspecialty: str | None, size: int = 12, seed: int = 7
) -> list[dict[str, str]]:
    """`size` generated physicians, the first half board-certified specialists qualified for `specialty`."""
    rows = generate_pool(size=size, seed=seed)
    for index, row in enumerate(rows[: size // 2]):
        row.update(
            tier="specialist",
            specialties=specialty,
            board_certified=specialty,
            subspecialties=subspecialty or "",
            email=f"demo.reader{index + 1}.s{seed}@example.org",
        )
    return rows


def seed_demo_routing(
    session: Session,
    client: LabelStudio,
    settings: Settings,
    ls_project_id: int,
    size: int = 12,
    seed: int = 7,
) -> DemoRouting:
    """Import the demo pool (idempotent), route the project's tasks and create each reader's Data Manager tab."""
    project = project_by_ls_id(session, ls_project_id)
    policy = template_policy(project)
    report = import_pool_csv(
        session, to_csv(demo_pool_rows(policy.specialty, policy.subspecialty, size, seed))
    )
    if report.errors:  # generated rows are valid by construction; fail loudly if that ever changes
        raise RoutingError(f"demo pool rejected: {report.errors[0]}")
    arrival = route_project_tasks(session, lambda: client, settings, project)
    if arrival.publish_error:
        raise LabelStudioError(f"demo worklist tabs not updated: {arrival.publish_error}")
    return DemoRouting(report=arrival.route, views=arrival.views)
