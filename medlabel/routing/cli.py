"""`medlabel pool …` and `medlabel route …`: the physician pool and routing from the command line.

The groups are plain click groups: `medlabel.cli.main` (a MedlabelGroup) turns errors into one line.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import click

from medlabel.errors import RoutingError
from medlabel.settings import get_settings
from medlabel.tables import cell

#: `route --project` routed what it could, but some tasks are short of readers (the pool is too small).
SHORTFALL_EXIT = 4


@click.group()
def pool() -> None:
    """The physician pool: import, list, show, pause and resume physicians."""


@pool.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def pool_import(csv_file: Path) -> None:
    """Import physicians from CSV: valid rows are upserted by license number, bad rows are reported.

    Nobody can log in yet: `medlabel accounts invite --physician ID` sends each one a link to set a password.
    """
    from medlabel.db import platform_session
    from medlabel.routing.pool import import_pool_csv

    settings = get_settings()
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RoutingError(f"{csv_file} is not UTF-8 text") from exc
    with platform_session(settings) as session:
        report = import_pool_csv(session, text)
        for error in report.errors:
            click.echo(f"{csv_file.name}: {error}", err=True)
    click.echo(f"pool import: {report.summary()}")
    if report.errors:
        raise SystemExit(2)


@pool.command("list")
@click.option("--specialty", help="Only physicians with this specialty code.")
def pool_list(specialty: str | None) -> None:
    """List physicians: id, license, tier, specialties (* board-certified), institution, capacity, status."""
    from medlabel.db import platform_session
    from medlabel.routing.pool import list_physicians, require_known_specialty

    require_known_specialty(specialty)
    with platform_session(get_settings()) as session:
        physicians = list_physicians(session, specialty)
        click.echo(
            f"{'ID':>5} {'LICENSE':<16} {'NAME':<20} {'TIER':<10} {'SPECIALTIES':<40} {'CAP':>4} STATUS"
        )
        for p in physicians:
            specs = ";".join(s.specialty + ("*" if s.board_certified else "") for s in p.specialties)
            status = "active" if p.active else "paused"
            click.echo(
                f"{p.id:>5} {cell(p.license_number, 16)} {cell(p.name, 20)} {p.tier:<10} {cell(specs, 40)} "
                f"{p.daily_capacity:>4} {status}"
            )
        click.echo(f"\n{len(physicians)} physicians")


@pool.command("show")
@click.argument("physician_id", type=int)
def pool_show(physician_id: int) -> None:
    """Show one physician with their open and past assignments."""
    from sqlalchemy import func, select

    from medlabel.db import platform_session
    from medlabel.models import Assignment
    from medlabel.routing.pool import get_physician

    with platform_session(get_settings()) as session:
        p = get_physician(session, physician_id)
        counts = dict(
            session.execute(
                select(Assignment.state, func.count())
                .where(Assignment.physician_id == p.id)
                .group_by(Assignment.state)
            ).all()
        )
        specs = ", ".join(
            f"{s.specialty} ({'board-certified' if s.board_certified else 'not certified'})"
            for s in p.specialties
        )
        accuracy = (
            f"{p.accuracy:.3f} over {p.reads_count} gold reads" if p.accuracy is not None else "not measured"
        )
        for label, value in (
            ("physician", f"{p.id}: {p.name} <{p.email}>"),
            ("license", p.license_number),
            ("tier", p.tier),
            ("specialties", specs),
            ("subspecialties", ", ".join(p.subspecialties) or "-"),
            ("languages", ", ".join(p.languages)),
            ("institution", p.institution),
            ("capacity", f"{p.daily_capacity} reads per day"),
            ("status", "active" if p.active else "paused"),
            ("label studio", f"user {p.ls_user_id}" if p.ls_user_id else "no user yet"),
            ("accuracy", accuracy),
            ("assignments", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
        ):
            click.echo(f"  {label:<15} {value}")


def _set_active(physician_id: int, active: bool) -> None:
    from medlabel.db import platform_session
    from medlabel.ls_client import make_client
    from medlabel.routing.operations import set_physician_active

    settings = get_settings()
    with platform_session(settings) as session:
        arrival = set_physician_active(session, lambda: make_client(settings), settings, physician_id, active)
    click.echo(f"physician {physician_id} {'resumed' if active else 'paused'}")
    if active:
        return
    report = arrival.route
    click.echo(
        f"re-routed: {report.assigned} reads on {report.tasks_routed} tasks, "
        f"{len(report.shortfalls)} tasks short of readers"
    )
    if arrival.publish_error:  # the DB is consistent; the tabs catch up on the next `route`
        click.echo(
            f"warning: Label Studio tabs not updated ({arrival.publish_error}); run `medlabel route --project P`",
            err=True,
        )


@pool.command("pause")
@click.argument("physician_id", type=int)
def pool_pause(physician_id: int) -> None:
    """Pause a physician: no new work, and their open assignments are re-routed to others."""
    _set_active(physician_id, False)


@pool.command("resume")
@click.argument("physician_id", type=int)
def pool_resume(physician_id: int) -> None:
    """Resume a paused physician."""
    _set_active(physician_id, True)


@click.group(invoke_without_command=True)
@click.option("--project", "ls_project_id", type=int, help="Label Studio project id to route.")
@click.pass_context
def route(ctx: click.Context, ls_project_id: int | None) -> None:
    """Route a project's tasks to physicians (`route --project P`), or explain or set its policy."""
    if ctx.invoked_subcommand is not None:
        return
    if ls_project_id is None:
        raise click.UsageError("give --project P, or a subcommand (explain, policy)")
    from medlabel.db import platform_session
    from medlabel.errors import LabelStudioError
    from medlabel.ls_client import make_client
    from medlabel.routing.operations import route_project_tasks
    from medlabel.routing.policy import project_by_ls_id

    settings = get_settings()
    client = make_client(settings)
    with platform_session(settings) as session:
        project = project_by_ls_id(session, ls_project_id)
        arrival = route_project_tasks(session, lambda: client, settings, project)
    if arrival.publish_error:
        raise LabelStudioError(f"routed, but the worklist tabs were not updated: {arrival.publish_error}")
    report = arrival.route
    click.echo(
        f"project {ls_project_id}: {arrival.registered} new tasks, {report.expired} leases expired, "
        f"{report.assigned} reads assigned on {report.tasks_routed} tasks, {report.gold_reads} gold reads, "
        f"{len(arrival.views)} worklist tabs"
    )
    for ls_task_id, missing in sorted(report.shortfalls.items()):
        click.echo(f"  task {ls_task_id}: short of {missing} eligible physician(s)")
    if report.shortfalls:
        click.echo(f"{len(report.shortfalls)} tasks could not get all their reads (see `route explain TASK`)")
        sys.exit(SHORTFALL_EXIT)


@route.command("explain")
@click.argument("ls_task_id", type=int)
@click.option(
    "--all", "show_all", is_flag=True, help="Also list physicians who never qualify for the project."
)
def route_explain(ls_task_id: int, show_all: bool) -> None:
    """Why each physician was or was not chosen for a task (as of now)."""
    from medlabel.db import platform_session
    from medlabel.routing.explain import STANDING, explain_task

    with platform_session(get_settings()) as session:
        result = explain_task(session, ls_task_id)
    p = result.policy
    click.echo(
        f"task {ls_task_id} in project {result.project.ls_project_id}: {p.specialty}"
        f"{'/' + p.subspecialty if p.subspecialty else ''}, {p.min_tier.value}+, k={p.reads}"
        f"{', board-certified' if p.require_board_certification else ''}"
        f"{', conflict-of-interest check' if p.conflict_of_interest else ''}"
        + (f"; SHORT of {result.shortfall} reader(s)" if result.shortfall else "")
    )
    standing = Counter()
    for v in result.verdicts:
        if v.outcome in STANDING and not show_all:
            standing[v.outcome] += 1
            continue
        click.echo(f"  {v.physician_id:>5} {v.name[:22]:<22} {v.outcome:<22} {v.detail}")
    for reason, count in standing.most_common():
        click.echo(f"  {count:>5} physicians: {reason}")


@route.command("policy")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--client", "client_name", help="Client (AI company) the project is for.")
@click.option("--specialty", help="Required specialty code.")
@click.option("--subspecialty", help="Required subspecialty code.")
@click.option("--min-tier", type=click.Choice(["labeler", "resident", "specialist"]))
@click.option("--board-certified/--no-board-certified", "require_board_certification", default=None)
@click.option("--reads", type=int, help="k: independent reads by distinct physicians.")
@click.option("--gold-share", type=float, help="Extra gold-standard reads per new read (0–0.5).")
@click.option("--reviewer-specialty", help="Specialty of the reviewer.")
@click.option("--reviewer-tier", type=click.Choice(["labeler", "resident", "specialist"]))
@click.option(
    "--agreement-threshold",
    type=float,
    help="Consensus agreement below which a task goes to a reviewer (0–1).",
)
@click.option("--conflict-check/--no-conflict-check", "conflict_of_interest", default=None)
@click.option("--daily-capacity", type=int, help="Max tasks of this project per physician per day.")
@click.option("--deadline", type=click.DateTime(), help="Leases never run past this (UTC).")
@click.option("--lease-hours", type=int, help="Hours a physician has for an assigned task.")
def route_policy(ls_project_id: int, deadline: datetime | None, **changes: object) -> None:
    """Show or change a project's routing policy (validated as a whole; nothing is stored on error)."""
    from datetime import UTC

    from medlabel.db import platform_session
    from medlabel.ls_client import make_client
    from medlabel.models import RoutingPolicy
    from medlabel.routing.operations import change_policy
    from medlabel.routing.policy import policy_of, project_by_ls_id

    settings = get_settings()
    if deadline is not None:
        changes["deadline"] = deadline.replace(tzinfo=UTC)
    with platform_session(settings) as session:
        project = project_by_ls_id(session, ls_project_id)
        if any(v is not None for v in changes.values()):
            change_policy(session, lambda: make_client(settings), project, **changes)
        policy = policy_of(session, project)
        stored = session.get(RoutingPolicy, project.id)
    for name, value in vars(policy).items():
        click.echo(f"  {name:<28} {getattr(value, 'value', value)}")
    if stored is not None:
        for name in ("client_name", "reviewer_specialty", "reviewer_tier", "agreement_threshold"):
            click.echo(f"  {name:<28} {getattr(stored, name)}")
