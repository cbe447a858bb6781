"""`medlabel gateway`: what the gateway shows physicians, per project."""

from __future__ import annotations

import click

from medlabel.settings import get_settings


@click.group()
def gateway() -> None:
    """What physicians are shown through the labeling gateway."""


@gateway.command("show-models")
@click.option("--project", "ls_project_id", type=int, required=True, help="Label Studio project id.")
@click.option(
    "--model", "prefixes", multiple=True, help="Model-version prefix physicians may see (repeatable)."
)
@click.option("--all", "show_all", is_flag=True, help="Show every model's predictions (the default).")
def show_models(ls_project_id: int, prefixes: tuple[str, ...], show_all: bool) -> None:
    """Approve which models' predictions physicians see; with neither option, print the current setting.

    `--model ""` shows no prediction at all.
    """
    from medlabel.db import platform_session
    from medlabel.routing.policy import project_by_ls_id

    if show_all and prefixes:
        raise click.UsageError("give --all or --model, not both")
    with platform_session(get_settings()) as session:
        project = project_by_ls_id(session, ls_project_id)
        if show_all:
            project.shown_models = None
        elif prefixes:
            project.shown_models = [p for p in prefixes if p]
        session.commit()
        shown = project.shown_models
    click.echo(
        f"project {ls_project_id}: " + ("every model shown" if shown is None else f"shown: {shown or 'none'}")
    )
