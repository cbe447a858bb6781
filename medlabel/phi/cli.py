"""`medlabel phi review`: the PHI review queue from the command line (thin callers of `operations`)."""

from __future__ import annotations

import getpass
import json

import click

from medlabel.db import platform_session
from medlabel.models.phi import HeldState
from medlabel.phi import operations, queries
from medlabel.settings import get_settings


@click.group("phi")
def phi() -> None:
    """PHI assurance: the review queue de-identified data waits in before physicians see it."""


@phi.group("review")
def review() -> None:
    """List, show, release and reject held items; switch a project's PHI review on or off."""


@review.command("settings")
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--on/--off", "enabled", required=True, help="Hold sampled drafts for review, or not.")
@click.option("--share", type=float, help="Share of drafts sampled once a source has proven itself (0-1).")
@click.option("--proven-after", type=int, help="Released items without rejection that prove a source.")
def review_settings(project_id: int, enabled: bool, share: float | None, proven_after: int | None) -> None:
    """Switch PHI review on or off for a project."""
    with platform_session(get_settings()) as session:
        project = operations.set_review(
            session, project_id, enabled=enabled, share=share, proven_after=proven_after
        )
        click.echo(
            f"project {project_id}: PHI review {'on' if project.phi_review else 'off'}, "
            f"share {project.phi_review_share}, proven after {project.phi_review_proven_after} releases"
        )


@review.command("list")
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--all", "every_state", is_flag=True, help="Also released and rejected items.")
def review_list(project_id: int, every_state: bool) -> None:
    """The project's held items, oldest first."""
    with platform_session(get_settings()) as session:
        items = queries.list_items(session, project_id, None if every_state else HeldState.HELD)
        click.echo(f"{'ITEM':>6}  {'STATE':<9} {'PLUGIN':<7} {'SOURCE':<20} REASONS")
        for item in items:
            source = item.source_institution or "-"
            click.echo(
                f"{item.id:>6}  {item.state:<9} {item.plugin:<7} {source:<20} {', '.join(item.reasons)}"
            )
        click.echo(f"{len(items)} items")


@review.command("show")
@click.argument("item_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the whole item as JSON.")
def review_show(item_id: int, as_json: bool) -> None:
    """One item: the de-identified task beside what was removed (kinds and places, never values)."""
    settings = get_settings()
    with platform_session(settings) as session:
        view = queries.show(session, settings, item_id)
    if as_json:
        document = {
            **view.__dict__,
            "media": [str(p) for p in view.media],
            "created_at": view.created_at.isoformat(),
        }
        click.echo(json.dumps(document, indent=1, ensure_ascii=False))
        return
    click.echo(
        f"item {view.id} of project {view.project_id}: {view.state}, {view.plugin}, "
        f"held for {', '.join(view.reasons)}"
    )
    for name, value in view.task.get("data", {}).items():
        if isinstance(value, str) and not value.startswith("/data/"):
            click.echo(f"--- {name}\n{value}")
    removed = view.removed
    for placeholder in removed.get("placeholders", []):
        click.echo(
            f"  removed {placeholder['kind']:<12} "
            f"{placeholder['field']}[{placeholder['start']}:{placeholder['end']}]"
        )
    burned = removed.get("burned_in")
    if burned:
        click.echo(f"  burned-in text checked because {burned['checked_because']}")
        click.echo(
            f"  blacked out {len(burned['ocr_boxes'])} OCR boxes (image, x, y, width, height) and "
            f"{len(burned['regions'])} regions, {burned['blacked_out_share']:.2%} of the pixels"
        )
        for box in burned["ocr_boxes"]:
            click.echo(f"    {box}")
    for path in view.media:
        click.echo(f"  image {path}")
    if view.decided_by:
        click.echo(
            f"decided by {view.decided_by}" + (f": {view.decision_reason}" if view.decision_reason else "")
        )


@review.command("release")
@click.argument("item_ids", nargs=-1, type=int, required=True)
@click.option("--by", "reviewer", default=getpass.getuser, show_default="your login", help="Reviewer name.")
def review_release(item_ids: tuple[int, ...], reviewer: str) -> None:
    """Import held items into Label Studio and route them, like a normal ingest."""
    from medlabel.ls_client import make_client

    settings = get_settings()
    with platform_session(settings) as session:
        report = operations.release(session, make_client(settings), settings, item_ids, reviewer)
    click.echo(f"released {len(report.item_ids)} items as tasks {', '.join(map(str, report.task_ids))}")
    for arrival in report.arrivals:
        click.echo(f"routed {arrival.route.tasks_routed} tasks: {arrival.route.assigned} reads assigned")
    for error in report.route_errors:
        click.echo(f"tasks not routed yet: {error}; run `medlabel route` later", err=True)


@review.command("reject")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why (kept with the item in quarantine; no patient data).")
@click.option("--by", "reviewer", default=getpass.getuser, show_default="your login", help="Reviewer name.")
def review_reject(item_id: int, reason: str, reviewer: str) -> None:
    """Send a held item to quarantine; it never reaches Label Studio."""
    settings = get_settings()
    with platform_session(settings) as session:
        item = operations.reject(session, settings, item_id, reason, reviewer)
    click.echo(f"item {item.id} rejected and quarantined")
