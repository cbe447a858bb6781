"""`medlabel ingest`: hospital files and folders → de-identified tasks of one Label Studio project."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from medlabel.errors import ConfigError, MedlabelError
from medlabel.settings import Settings, get_settings
from plugins.ingest.base import IngestOptions

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

    from medlabel.ingest.runner import IngestResult

#: With Redis configured, inputs of more files than this go through the job queue.
QUEUE_ABOVE_FILES = 1000


def _region(value: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise ConfigError(f"--burned-in-region must be x,y,width,height in pixels, not {value!r}") from None
    if min(x, y) < 0 or min(w, h) <= 0:
        raise ConfigError(f"--burned-in-region {value!r}: x and y must be ≥ 0, width and height > 0")
    return (x, y, w, h)


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--window", "window_preset", help="Window preset for CT/MR (lung, bone, brain, …).")
@click.option(
    "--retain-dates", is_flag=True, help="Annex E option: keep dates shifted by a per-patient offset."
)
@click.option(
    "--retain-patient-characteristics", is_flag=True, help="Annex E option: keep age, sex, size, weight."
)
@click.option("--retain-device-identity", is_flag=True, help="Annex E option: keep device identifiers.")
@click.option(
    "--burned-in-region",
    "regions",
    multiple=True,
    metavar="X,Y,W,H",
    help="Black out this pixel region instead of quarantining images that may carry burned-in text.",
)
@click.option(
    "--source-institution",
    help="Hospital the data comes from: physicians of that institution never get it (conflict of interest).",
)
@click.option("--strict", is_flag=True, help="Exit non-zero when any source is quarantined.")
@click.option(
    "--queue/--no-queue",
    "use_queue",
    default=None,
    help=f"Run as RQ jobs (default: when MEDLABEL_REDIS_URL is set and there are > {QUEUE_ABOVE_FILES} files).",
)
def ingest(
    paths: tuple[Path, ...],
    project_id: int,
    window_preset: str | None,
    retain_dates: bool,
    retain_patient_characteristics: bool,
    retain_device_identity: bool,
    regions: tuple[str, ...],
    source_institution: str | None,
    strict: bool,
    use_queue: bool | None,
) -> None:
    """Ingest files, folders and zip archives into a project: de-identify, render, import, report."""
    settings = get_settings()
    options = IngestOptions(
        retain_longitudinal_modified_dates=retain_dates,
        retain_patient_characteristics=retain_patient_characteristics,
        retain_device_identity=retain_device_identity,
        burned_in_regions=tuple(_region(r) for r in regions),
        window_preset=window_preset,
    )
    files = sum(1 if p.is_file() else sum(1 for q in p.rglob("*") if q.is_file()) for p in paths)
    if use_queue is None:
        use_queue = bool(settings.redis_url) and files > QUEUE_ABOVE_FILES
    if use_queue:
        _run_queued(settings, project_id, list(paths), options, source_institution)
        return
    from medlabel.db import platform_session
    from medlabel.ingest.runner import IngestRun
    from medlabel.ls_client import make_client

    client = make_client(settings)
    with platform_session(settings) as session:
        with click.progressbar(length=files, label="ingest", file=sys.stderr) as bar:
            result = IngestRun(
                client,
                settings,
                session,
                project_id,
                options,
                on_progress=bar.update,
                source_institution=source_institution,
            ).run(list(paths))
        buckets = result.buckets()
        held = f"{buckets['held']} in {result.held} drafts held for PHI review, " if buckets["held"] else ""
        click.echo(
            f"{result.sources} sources: {buckets['task']} in {result.ingested} new tasks, {held}"
            f"{buckets['duplicate']} duplicates skipped, {buckets['quarantined']} quarantined"
        )
        for reason, count in result.reasons().items():
            click.echo(f"  {count:>6}  {reason}")
        click.echo(f"manifest: {result.manifest}")
        _route(session, client, settings, result)
    sys.exit(result.exit_code(strict))


def _route(session: Session, client: LabelStudio, settings: Settings, result: IngestResult) -> None:
    """Route the new tasks now; a routing problem (e.g. too small a pool) leaves the tasks for `medlabel route`."""
    from medlabel.ingest.handoff import route_ingested

    try:
        arrival = route_ingested(session, client, settings, result)
    except MedlabelError as exc:
        click.echo(
            f"tasks not routed yet: {exc}; run `medlabel route --project {result.project_id}` later", err=True
        )
        return
    if arrival is not None:
        report = arrival.route
        click.echo(
            f"routed {report.tasks_routed} tasks: {report.assigned} reads assigned, {len(report.shortfalls)} short of readers"
        )
        if arrival.publish_error:
            click.echo(f"worklist tabs not updated: {arrival.publish_error}", err=True)


def _run_queued(
    settings: Settings,
    project_id: int,
    paths: list[Path],
    options: IngestOptions,
    source_institution: str | None,
) -> None:
    from medlabel.ingest.jobs import enqueue

    jobs = enqueue(settings, project_id, paths, options, source_institution=source_institution)
    click.echo(
        f"enqueued {len(jobs)} ingest jobs; a worker runs them: rq worker -u $MEDLABEL_REDIS_URL medlabel-ingest"
    )
    with click.progressbar(length=len(jobs), label="ingest jobs", file=sys.stderr) as bar:
        pending = list(jobs)
        while pending:
            time.sleep(1)
            finished = [
                j
                for j in pending
                if j.get_status(refresh=True) in ("finished", "failed", "stopped", "canceled")
            ]
            bar.update(len(finished))
            pending = [j for j in pending if j not in finished]
    tasks = sum((j.return_value() or {}).get("tasks", 0) for j in jobs)
    failed = [j.id for j in jobs if j.get_status() != "finished"]
    click.echo(f"{tasks} tasks created by {len(jobs)} jobs; failed jobs: {', '.join(failed) or 'none'}")
    sys.exit(1 if failed or tasks == 0 else 0)
