"""`medlabel consensus`, `medlabel gold …` and `medlabel quality …`: thin callers of quality's operations."""

from __future__ import annotations

import csv
import io
import json
import webbrowser
from pathlib import Path
from typing import Any

import click

from medlabel.errors import QualityError
from medlabel.settings import get_settings


@click.command()
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
def consensus(ls_project_id: int) -> None:
    """Consensus for every task of a project now (sync runs it per task at the k-th read)."""
    from medlabel.db import platform_session
    from medlabel.quality.operations import run_consensus

    settings = get_settings()
    with platform_session(settings) as session:
        report = run_consensus(session, settings, ls_project_id)
    for message in report.messages:
        click.echo(f"warning: {message}", err=True)
    click.echo(
        f"project {ls_project_id}: {report.tasks} tasks with reads, {report.complete} with k reads, "
        f"{report.incomplete} incomplete; {report.changed} results written; "
        f"{len(report.reviews)} sent to review, {len(report.decided)} decided by a reviewer"
    )
    for task_id in report.reviews:
        click.echo(f"  task {task_id}: routed to a reviewer")


@click.group()
def gold() -> None:
    """Gold standards: import reference answers, promote an adjudicated task."""


@gold.command("import")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def gold_import(ls_project_id: int, file: Path) -> None:
    """Import reference answers from JSON ({task: result} or [{task, result}]) or CSV (task,result columns,
    result as JSON), in Label Studio's result shape. Invalid entries are refused with the reason (exit 2)."""
    from medlabel.db import platform_session
    from medlabel.quality.operations import import_gold

    settings = get_settings()
    entries = read_gold_file(file)
    with platform_session(settings) as session:
        report = import_gold(session, settings, ls_project_id, entries)
    for task_id, reason in report.refused:
        click.echo(f"{file.name}: task {task_id} refused: {reason}", err=True)
    click.echo(f"gold import: {len(report.kept)} kept, {len(report.refused)} refused")
    if report.refused:
        raise SystemExit(2)


def read_gold_file(path: Path) -> list[tuple[Any, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".csv":
            return [
                (row.get("task"), json.loads(row.get("result") or "null"))
                for row in csv.DictReader(io.StringIO(text))
            ]
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise QualityError(f"cannot read gold file {path}: {exc}") from exc
    if isinstance(data, dict):
        return list(data.items())
    if isinstance(data, list) and all(isinstance(e, dict) for e in data):
        return [(e.get("task"), e.get("result")) for e in data]
    raise QualityError(f"{path}: expected {{task: result}} or [{{task, result}}]")


@gold.command("promote")
@click.option("--task", "ls_task_id", type=int, required=True, help="Label Studio task id (adjudicated).")
def gold_promote(ls_task_id: int) -> None:
    """Make an adjudicated task gold: the reviewer's decision becomes its reference answer."""
    from medlabel.db import platform_session
    from medlabel.quality.operations import promote_gold

    with platform_session(get_settings()) as session:
        promote_gold(session, ls_task_id)
    click.echo(f"task {ls_task_id} is gold; its readers were rescored")


@click.group()
def quality() -> None:
    """Quality report and adjudication notes."""


@quality.command("report")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for HTML + CSV."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML report in a browser.")
def quality_report(ls_project_id: int, out_dir: Path | None, open_browser: bool) -> None:
    """Write report.html (inline SVG plots) and CSV tables; print agreement per label and physician accuracy."""
    from medlabel.db import platform_session
    from medlabel.quality.report import gather, write_report

    settings = get_settings()
    with platform_session(settings) as session:
        report = gather(session, ls_project_id)
    folder = out_dir or settings.state_dir / "reports" / f"quality-{ls_project_id}"
    paths = write_report(report, folder)
    for row in report.labels:
        click.echo(
            f"  {row.control}: {row.label:<30} {row.tasks:>5} tasks  agreement {row.mean_agreement:.2f}"
        )
    for p in report.physicians:
        accuracy = (
            f"{p.accuracy:.2f} [{p.low:.2f}, {p.high:.2f}]"
            if p.accuracy is not None and p.low is not None and p.high is not None
            else "not measured"
        )
        click.echo(
            f"  physician {p.physician_id:>4} reads {p.reads:>4} overturned {p.overturned:>3} accuracy {accuracy}"
        )
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")
    if open_browser:
        webbrowser.open(paths[0].resolve().as_uri())


@quality.command("adjudicate")
@click.option("--task", "ls_task_id", type=int, required=True, help="Label Studio task id sent to review.")
@click.option("--reason", required=True, help="Why the reviewer decided as they did.")
def quality_adjudicate(ls_task_id: int, reason: str) -> None:
    """Record the reviewer's reason (for configs without a TextArea, or to complete one)."""
    from medlabel.db import platform_session
    from medlabel.quality.operations import note_reason

    with platform_session(get_settings()) as session:
        adjudication = note_reason(session, ls_task_id, reason)
    click.echo(f"task {ls_task_id}: reason recorded ({adjudication.status})")
