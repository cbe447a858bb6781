"""`medlabel preannotate`: have Label Studio pre-annotate a project's tasks with its ML backend, with progress."""

from __future__ import annotations

import click

from medlabel.ls_client import make_client
from medlabel.preannotate import preannotate
from medlabel.settings import get_settings


@click.command("preannotate")
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=20, show_default=True,
              help="Tasks per /predict call (and per queue job).")  # fmt: skip
def preannotate_command(project_id: int, batch_size: int) -> None:
    """Have Label Studio predict every task of the project that has no prediction yet, with its ML backend.

    Label Studio calls the backend through its own ML connection and stores the predictions. Runs as RQ jobs
    when MEDLABEL_REDIS_URL is set (workers on the queue "medlabel-preannotate"), in this process otherwise.
    Tasks that fail are listed at the end; they do not stop the others.
    """
    settings = get_settings()
    client = make_client(settings)
    mode = "queued on Redis" if settings.redis_url else "in-process"
    with click.progressbar(length=0, label=f"pre-annotating ({mode})") as bar:

        def advance(n: int) -> None:
            bar.update(n)

        def start(total: int) -> None:
            bar.length = total

        total, outcome = preannotate(client, settings, project_id, batch_size, advance, start)
    click.echo(
        f"{total} tasks without predictions: {len(outcome.predicted)} predicted, "
        f"{len(outcome.empty)} with no regions, {len(outcome.failed)} failed"
    )
    for task_id, reason in sorted(outcome.failed.items()):
        click.echo(f"  task {task_id}: {reason}")
    if outcome.empty:
        # The backend answers an empty result both when there is nothing to draw and when it could not read the
        # task's media; its log names the task and the reason.
        click.echo(
            f"  no regions for tasks {', '.join(map(str, sorted(outcome.empty)))} (the ML backend log says why)"
        )
