"""The `medlabel` command: templates, projects and the local stack."""

from __future__ import annotations

import importlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import click

from config_templates import LabelEntry, Overrides, get_template, list_templates, load_template_dir
from config_templates.catalog import check_template
from medlabel import labeling_config
from medlabel.errors import MedlabelError, TemplateError
from medlabel.logs import configure_logging
from medlabel.settings import get_settings
from medlabel.specialties import SPECIALTIES


class MedlabelGroup(click.Group):
    """Turns every MedlabelError into one line on stderr and its exit code (2 for bad input)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MedlabelError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=MedlabelGroup)
def main() -> None:
    """medlabel: medical labeling templates, routing and exports around Label Studio."""
    configure_logging(get_settings().log_level)


# ------------------------------------------------------------------ templates


@main.group(cls=MedlabelGroup)
def templates() -> None:
    """Browse and validate the medical template catalog."""


@templates.command("list")
@click.option("--specialty", help="Only this specialty (code, e.g. radiology).")
@click.option("--data-type", help="Only this data type: image, time_series, text, video, llm_evaluation.")
def templates_list(specialty: str | None, data_type: str | None) -> None:
    """List templates with specialty, data and task type, tier, reads and pay weight."""
    rows = list_templates(specialty=specialty, data_type=data_type)
    click.echo(f"{'ID':<40} {'SPECIALTY':<30} {'DATA':<15} {'TASK':<19} {'TIER':<10} READS WEIGHT")
    for t in rows:
        specialty_label = t.specialty + (f"/{t.subspecialty}" if t.subspecialty else "")
        click.echo(
            f"{t.id:<40} {specialty_label:<30} {t.data_type:<15} {t.task_type:<19} "
            f"{t.min_tier.value:<10} {t.reads:>5} {t.complexity:>6.1f}"
        )
    covered = {t.specialty for t in rows}
    click.echo(f"\n{len(rows)} templates, {len(covered)} of {len(SPECIALTIES)} specialties")


@templates.command("show")
@click.argument("template_id")
@click.option("--language", type=click.Choice(["en", "ko", "both"]), default="en", show_default=True)
@click.option("--xml", "xml_only", is_flag=True, help="Print only the rendered labeling config.")
def templates_show(template_id: str, language: str, xml_only: bool) -> None:
    """Show a template's metadata, label sets, options and rendered XML."""
    template = get_template(template_id)
    rendered = template.render(Overrides(language=language))
    if xml_only:
        click.echo(rendered.xml)
        return
    specialty = SPECIALTIES[template.specialty]
    click.echo(f"{template.id} v{template.version}: {template.title} / {template.title_ko}")
    click.echo(
        f"  specialty   {specialty.en} ({specialty.ko}){' / ' + template.subspecialty if template.subspecialty else ''}"
    )
    click.echo(f"  modality    {template.modality}   data: {template.data_type}   task: {template.task_type}")
    click.echo(
        f"  tier        {template.min_tier.value} or above   reads: {template.reads}   weight: {template.complexity}"
    )
    if template.standard:
        click.echo(f"  standard    {template.standard}")
    for control, entries in template.labelsets.items():
        click.echo(f"  labels [{control}]")
        for entry in entries:
            click.echo(f"    {entry.code:<36} {entry.en} / {entry.ko}")
    for option in template.options.values():
        choices = f" ({'|'.join(option.choices)})" if option.choices else ""
        click.echo(
            f"  option {option.name}: {option.type}{choices} = {option.default!r}  {option.description}"
        )
    click.echo(f"  instructions\n    {rendered.instructions}")
    click.echo("  config.xml")
    click.echo(rendered.xml)


@templates.command("validate")
@click.argument("path_or_id")
@click.option("--strict", is_flag=True, help="Treat warnings (attributes Label Studio ignores …) as errors.")
@click.option(
    "--deep",
    is_flag=True,
    help="Templates: also have label-studio-sdk generate and validate a sample prediction (~1.5 s).",
)
def templates_validate(path_or_id: str, strict: bool, deep: bool) -> None:
    """Validate a catalog template (by id or folder) or a labeling-config XML file of your own.

    An XML file gets Label Studio's own verdict: what it refuses is an error (exit 2); what it accepts but
    ignores or cannot render in Community is a warning on stderr (exit 0, or 2 with --strict). A template must
    render in every language with no warning and its sample task must fit; --deep adds the SDK's sample
    prediction (the test suite runs it on every shipped template).
    """
    path = Path(path_or_id)
    if path.is_file():
        try:
            xml = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateError(f"{path} is not UTF-8 text") from exc
        checked = labeling_config.check(xml)
        if strict:
            checked.strict()
        for warning in checked.warnings:
            click.echo(f"warning: {warning}", err=True)
        controls = ", ".join(f"{tag} {name}" for tag, name in checked.controls)
        click.echo(f"ok: {path} is a valid labeling config ({controls})")
        return
    template = load_template_dir(path) if path.is_dir() else get_template(path_or_id)
    check_template(template, deep=deep)
    checked = (
        "sample task and sample prediction fit" if deep else "sample task fits (sample prediction: --deep)"
    )
    click.echo(f"ok: template {template.id} renders in en/ko/both; {checked}")


# ------------------------------------------------------------------ projects


def _parse_overrides(
    language: str | None,
    labels: tuple[str, ...],
    labels_files: tuple[str, ...],
    instructions: str | None,
    options: tuple[str, ...],
) -> Overrides:
    label_sets: dict[str, list[LabelEntry | str]] = {}
    for item in labels:
        control, sep, codes = item.partition("=")
        if not sep or not codes:
            raise TemplateError(f"--labels wants CONTROL=code,code,… not {item!r}")
        label_sets[control] = [code.strip() for code in codes.split(",") if code.strip()]
    for item in labels_files:
        control, sep, file_name = item.partition("=")
        if not sep:
            raise TemplateError(f"--labels-file wants CONTROL=path.toml|path.json, not {item!r}")
        label_sets[control] = _read_label_file(Path(file_name))
    option_values: dict[str, str] = {}
    for item in options:
        name, sep, value = item.partition("=")
        if not sep:
            raise TemplateError(f"--option wants NAME=VALUE, not {item!r}")
        option_values[name] = value
    if instructions and instructions.startswith("@"):
        instructions = Path(instructions[1:]).read_text(encoding="utf-8")
    return Overrides(labels=label_sets, language=language, instructions=instructions, options=option_values)


def _read_label_file(path: Path) -> list[LabelEntry | str]:
    """A label set from a manager's file: JSON list or TOML `[[labels]]`, each with code, en, ko."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text).get("labels")
    except (OSError, ValueError) as exc:
        raise TemplateError(f"cannot read label file {path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise TemplateError(f"{path} must hold a non-empty list of labels with code, en and ko")
    entries: list[LabelEntry | str] = []
    for index, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item[k] for k in ("code", "en", "ko")
        ):
            raise TemplateError(f"{path}: label {index} needs code, en and ko")
        entries.append(LabelEntry(code=item["code"], en=item["en"], ko=item["ko"], color=item.get("color")))
    return entries


@main.group(cls=MedlabelGroup)
def project() -> None:
    """Create Label Studio projects from templates."""


@project.command("create")
@click.option("--template", "template_id", required=True, help="Template id (see `medlabel templates list`).")
@click.option("--title", required=True, help="Project title shown in Label Studio.")
@click.option("--language", type=click.Choice(["en", "ko", "both"]), help="Display language of labels.")
@click.option(
    "--labels", multiple=True, metavar="CONTROL=CODE,…", help="Keep only these labels of a label set."
)
@click.option(
    "--labels-file", multiple=True, metavar="CONTROL=FILE", help="Replace a label set from TOML/JSON."
)
@click.option("--instructions", help="Physician instructions (text, or @file).")
@click.option("--option", "options", multiple=True, metavar="NAME=VALUE", help="Set a template option.")
@click.option("--with-sample", is_flag=True, help="Also import the template's sample task.")
@click.option(
    "--phi-review", is_flag=True, help="Hold sampled ingested data for PHI review before physicians."
)
@click.option(
    "--ml-backend",
    "ml_backend_url",
    metavar="URL",
    help="Connect this ML backend for pre-annotation [default: MEDLABEL_ML_BACKEND_URL, if set].",
)
def project_create(
    template_id: str,
    title: str,
    language: str | None,
    labels: tuple[str, ...],
    labels_file: tuple[str, ...],
    instructions: str | None,
    options: tuple[str, ...],
    with_sample: bool,
    phi_review: bool,
    ml_backend_url: str | None,
) -> None:
    """Create a project on the configured Label Studio from a template and print its URL."""
    from medlabel.db import platform_session
    from medlabel.ls_client import make_client
    from medlabel.projects import create_project

    settings = get_settings()
    overrides = _parse_overrides(
        language or settings.label_language, labels, labels_file, instructions, options
    )
    get_template(template_id).render(overrides)  # validate before touching Label Studio
    with platform_session(settings) as session:
        created = create_project(
            make_client(settings),
            settings,
            template_id,
            title,
            overrides,
            with_sample,
            session,
            ml_backend_url=ml_backend_url or settings.ml_backend_url or None,
            phi_review=phi_review,
        )
    click.echo(f"created project {created.id} from {created.template_id}: {created.url}")


# ------------------------------------------------------------------ local stack


@main.group(cls=MedlabelGroup)
def stack() -> None:
    """The local demo stack: Label Studio, ML backend and platform on this machine."""


@stack.command("up")
@click.option("--ls-port", default=8080, show_default=True, help="Label Studio port.")
@click.option("--web-port", default=8090, show_default=True, help="Platform web service port.")
@click.option("--ml-port", default=9090, show_default=True, help="ML backend port.")
def stack_up(ls_port: int, web_port: int, ml_port: int) -> None:
    """Start everything, create the demo project, and stop cleanly on Ctrl-C."""
    from medlabel.stack import run_stack

    run_stack(get_settings(), ls_port=ls_port, web_port=web_port, ml_port=ml_port)


# ------------------------------------------------------------------ commands of other modules


class LazyCommand(click.Command):
    """A command registered by name and import path, imported only when it runs.

    `medlabel --help` and the catalog commands must answer at once, and the other commands' modules import the
    SDK's client, SQLAlchemy or the ML stack (seconds). The placeholder carries the short help the command list
    shows; click builds a subcommand's context through `make_context`, so handing that to the real command
    runs, parses and documents (`medlabel ingest --help`) the real one. click's own lazy-group recipe loads every
    command to list them, which is what this avoids.
    """

    def __init__(self, name: str, import_path: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help, help=short_help)
        self.import_path = import_path

    def load(self) -> click.Command:
        module_name, _, attribute = self.import_path.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), self.import_path
        return command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)


main.add_command(
    LazyCommand(
        "ingest", "medlabel.ingest.cli:ingest", "Ingest files, folders and zip archives into a project."
    )
)
main.add_command(LazyCommand("ml", "ml_backend.cli:ml", "The pre-annotation ML backend."))
main.add_command(
    LazyCommand(
        "pool",
        "medlabel.routing.cli:pool",
        "The physician pool: import, list, show, pause and resume physicians.",
    )
)
main.add_command(
    LazyCommand(
        "route",
        "medlabel.routing.cli:route",
        "Route a project's tasks to physicians, or explain or set its policy.",
    )
)
main.add_command(
    LazyCommand(
        "preannotate",
        "medlabel.preannotate_cli:preannotate_command",
        "Have Label Studio pre-annotate a project's tasks with its ML backend.",
    )
)
main.add_command(
    LazyCommand(
        "accounts",
        "medlabel.accounts.cli:accounts",
        "Platform accounts: invite physicians and staff, list, revoke; rotate the gateway keys.",
    )
)
main.add_command(
    LazyCommand(
        "gateway", "medlabel.gateway.cli:gateway", "What physicians are shown through the labeling gateway."
    )
)
main.add_command(
    LazyCommand(
        "sync",
        "sync.cli:sync",
        "Mirror Label Studio's annotations: reconcile a project, its status, its quarantine.",
    )
)
main.add_command(
    LazyCommand("consensus", "medlabel.quality.cli:consensus", "Consensus for every task of a project now.")
)
main.add_command(
    LazyCommand(
        "gold", "medlabel.quality.cli:gold", "Gold standards: import reference answers, promote a task."
    )
)
main.add_command(
    LazyCommand(
        "quality", "medlabel.quality.cli:quality", "Quality report (HTML + CSV) and adjudication notes."
    )
)
main.add_command(
    LazyCommand(
        "phi",
        "medlabel.phi.cli:phi",
        "PHI review: list, show, release or reject de-identified data held before physicians see it.",
    )
)
