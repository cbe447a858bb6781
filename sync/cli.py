"""`medlabel sync …`: reconcile a project's mirror with Label Studio, show its status and its quarantine.

Thin: each command parses, calls sync.reconcile / sync.queries, and prints. Errors become one line in
`medlabel.cli.main`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from medlabel.settings import get_settings

#: Show a progress bar from this many changed tasks on.
PROGRESS_FROM = 200


@click.group(invoke_without_command=True)
@click.option("--project", "ls_project_id", type=int, help="Label Studio project id to reconcile.")
@click.option("--all", "all_projects", is_flag=True, help="Reconcile every project medlabel manages.")
@click.option("--watch", is_flag=True, help="Keep reconciling, every --interval seconds.")
@click.option("--interval", type=float, default=60.0, show_default=True, help="Seconds between passes.")
@click.option(
    "--full-diff-every", type=int, default=10, show_default=True, help="Diff all task ids every N passes."
)
@click.pass_context
def sync(
    ctx: click.Context,
    ls_project_id: int | None,
    all_projects: bool,
    watch: bool,
    interval: float,
    full_diff_every: int,
) -> None:
    """Repair the mirror from Label Studio (`sync --project P`, `sync --all`), or show status or quarantine."""
    if ctx.invoked_subcommand is not None:
        return
    if (ls_project_id is None) == (not all_projects):
        raise click.UsageError("give --project P or --all, or a subcommand (status, quarantine)")
    from medlabel.db import make_engine, make_sessionmaker, upgrade
    from sync.operations import sync_context

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    context = sync_context(settings)
    passes = 0
    try:
        while True:
            full_diff = not watch or passes % max(full_diff_every, 1) == 0
            for project_id in [ls_project_id] if ls_project_id is not None else _managed(maker):
                _reconcile_one(maker, settings, context, project_id, full_diff)
            passes += 1
            if not watch:
                return
            time.sleep(interval)
    finally:
        engine.dispose()


def _managed(maker: Any) -> list[int]:
    from sqlalchemy import select

    from medlabel.models import ProjectRecord

    with maker() as session:
        return list(
            session.scalars(select(ProjectRecord.ls_project_id).order_by(ProjectRecord.ls_project_id))
        )


def _reconcile_one(maker: Any, settings: Any, context: Any, ls_project_id: int, full_diff: bool) -> None:
    from sync.reconcile import reconcile

    bar = _LazyBar()
    try:
        report = reconcile(maker, settings, context, ls_project_id, full_diff=full_diff, progress=bar.update)
    finally:
        bar.close()
    if report.project_deleted:
        click.echo(f"project {ls_project_id} was deleted in Label Studio: its mirror is marked deleted")
        return
    click.echo(
        f"project {ls_project_id}: {report.inbox_processed} inbox events processed, "
        f"{report.tasks_seen} changed tasks and {report.annotations_seen} annotations read, "
        f"{report.annotations_deleted} annotations and {report.tasks_deleted} tasks found deleted; "
        f"watermark {report.watermark.isoformat() if report.watermark else '-'}"
    )


class _LazyBar:
    """A click progress bar that appears only once the changed tasks are known to be many."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def update(self, done: int, total: int) -> None:
        if self._bar is None and total >= PROGRESS_FROM:
            self._bar = click.progressbar(length=total, label="tasks", file=sys.stderr)
            self._bar.__enter__()
        if self._bar is not None:
            self._bar.update(done - self._shown)
            self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@sync.command("status")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
def sync_status(ls_project_id: int) -> None:
    """Watermark, inbox backlog, events by kind, quarantined count, tasks complete and incomplete."""
    from medlabel.db import platform_session
    from medlabel.routing.policy import project_by_ls_id
    from sync.queries import status

    with platform_session(get_settings()) as session:
        report = status(session, project_by_ls_id(session, ls_project_id))
    click.echo(f"project {ls_project_id}")
    click.echo(f"  watermark       {report.watermark.isoformat() if report.watermark else '-'}")
    click.echo(f"  last reconciled {report.last_run_at.isoformat() if report.last_run_at else 'never'}")
    click.echo(f"  inbox backlog   {report.inbox_backlog} ({report.inbox_errors} with errors)")
    events = ", ".join(f"{k} {v}" for k, v in sorted(report.events.items())) or "none"
    click.echo(f"  events          {events}")
    click.echo(f"  annotations     {report.annotations} mirrored, {report.quarantined} quarantined")
    click.echo(
        f"  tasks           {report.tasks_complete} complete ({report.reads_required} reads in), "
        f"{report.tasks_incomplete} incomplete"
    )


@sync.command("quarantine")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
def sync_quarantine(ls_project_id: int) -> None:
    """Annotations by someone the task was not routed to: kept, never paid, scored or exported."""
    from medlabel.db import platform_session
    from medlabel.routing.policy import project_by_ls_id
    from sync.queries import quarantined

    with platform_session(get_settings()) as session:
        project_by_ls_id(session, ls_project_id)
        rows = quarantined(session, ls_project_id)
        if not rows:
            click.echo(f"project {ls_project_id}: no quarantined annotations")
            return
        click.echo("annotation  task      LS user  physician  deleted  reason")
        for row in rows:
            click.echo(
                f"{row.ls_annotation_id:<11} {row.ls_task_id or '-':<9} {row.completed_by or '-':<8} "
                f"{row.physician_id or '-':<10} {'yes' if row.deleted else 'no':<8} {row.quarantine_reason}"
            )
        click.echo(f"{len(rows)} quarantined")
