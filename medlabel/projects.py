"""Turn a catalog template into a live Label Studio project, all or nothing."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from urllib.parse import quote

from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface
from sqlalchemy.orm import Session

from config_templates import Overrides, RenderedTemplate, get_template
from medlabel import samples
from medlabel.errors import LabelStudioError, MedlabelError
from medlabel.ls_client import call
from medlabel.models import ProjectRecord
from medlabel.settings import Settings

logger = logging.getLogger(__name__)
#: Path of the platform's webhook receiver (sync/webhooks.py); Label Studio posts every event of a project here.
WEBHOOK_PATH = "/webhooks/label-studio"
#: The events the receiver handles (sync.events.LsAction) that a project webhook can carry.
WEBHOOK_ACTIONS = (
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATIONS_DELETED",
    "TASKS_CREATED",
    "TASKS_DELETED",
    "PROJECT_UPDATED",
)
# PROJECT_DELETED is "organization-only" in Label Studio: a project webhook refuses it, and 1.23.2's API
# refuses organization webhooks (`perform_create` answers 404 without a project). The receiver still takes it
# (from a webhook an admin made in Django's admin); reconciliation notices a deleted project by itself.


@dataclass(frozen=True)
class CreatedProject:
    id: int
    title: str
    url: str
    template_id: str
    sample_task_id: int | None


def local_files_url(relative_path: str) -> str:
    """The URL under which Label Studio serves a file below LOCAL_FILES_DOCUMENT_ROOT."""
    return f"/data/local-files/?d={quote(relative_path)}"


def create_project(
    client: LabelStudio,
    settings: Settings,
    template_id: str,
    title: str,
    overrides: Overrides | None = None,
    with_sample_task: bool = False,
    session: Session | None = None,
    ml_backend_url: str | None = None,
    phi_review: bool = False,
) -> CreatedProject:
    """Create a project from a template; if any later step fails the project is deleted again.

    Validation runs before anything is sent, so a bad template or override creates nothing. With a
    `session`, the project is also recorded in the platform DB (committed last, so a failed commit
    deletes the Label Studio project too). With `ml_backend_url`, Label Studio connects that ML backend
    (interactive when the config has smart tools, basic auth from the settings) and pre-annotates tasks as
    physicians open them. With `phi_review`, ingested data is sampled into the PHI review queue (`medlabel.phi`).
    """
    template = get_template(template_id)
    rendered = template.render(overrides or Overrides(language=settings.label_language))
    if ml_backend_url:
        settings.ml_basic_auth()  # no credentials: fail before anything is created
    project = call(
        "create project",
        lambda: client.projects.create(
            title=title,
            label_config=rendered.xml,
            description=_description(rendered),
            expert_instruction=rendered.instructions,
            show_instruction=True,
            maximum_annotations=template.reads,
            show_collab_predictions=True,
            evaluate_predictions_automatically=bool(ml_backend_url),
        ),
    )
    try:
        register_webhook(client, settings, project.id)
        if ml_backend_url:
            connect_ml_backend(
                client,
                settings,
                project.id,
                ml_backend_url,
                interactive=uses_interactive_models(rendered.xml),
            )
        sample_task_id = _attach_samples(client, settings, project.id, rendered) if with_sample_task else None
        if session is not None:
            session.add(
                ProjectRecord(
                    ls_project_id=project.id,
                    title=title,
                    template_id=template.id,
                    template_version=template.version,
                    language=rendered.language,
                    label_codes=rendered.label_codes(),
                    reads=template.reads,
                    phi_review=phi_review,
                )
            )
            session.commit()
    except BaseException:
        if session is not None:
            session.rollback()
        try:
            call("delete half-made project", lambda: client.projects.delete(project.id))
        except LabelStudioError:
            logger.exception("could not delete half-made project %s", project.id)
        raise
    logger.info("created project %s from template %s", project.id, template.id)
    return CreatedProject(
        id=project.id,
        title=title,
        url=f"{settings.label_studio_url}/projects/{project.id}/data",
        template_id=template.id,
        sample_task_id=sample_task_id,
    )


def connect_ml_backend(
    client: LabelStudio, settings: Settings, project_id: int, url: str, *, interactive: bool = False
) -> None:
    """Connect the ML backend to a project with basic auth, and give Label Studio's webhook to it the same.

    Label Studio calls /health, /setup, /predict and /train with the connection's credentials, but the
    webhook it creates to `<url>/webhook` (annotation events the backend learns from) sends none: it gets an
    Authorization header here, or the backend would refuse every event.
    """
    user, password = settings.ml_basic_auth()
    call(
        "connect ML backend",
        lambda: client.ml.create(
            url=url,
            project=project_id,
            title="medlabel pre-annotation",
            is_interactive=interactive,
            auth_method="BASIC_AUTH",
            basic_auth_user=user,
            basic_auth_pass=password,
        ),
    )
    webhook_url = url.rstrip("/") + "/webhook"
    hooks = call("list webhooks", lambda: client.webhooks.list(project=str(project_id)))
    hook = next((h for h in hooks if h.url == webhook_url), None)
    if hook is None or hook.id is None:
        raise LabelStudioError(f"Label Studio created no webhook to {webhook_url} for project {project_id}")
    hook_id, headers = hook.id, {**(hook.headers or {}), "Authorization": basic_auth_header(user, password)}
    call("authenticate ML backend webhook", lambda: client.webhooks.update(hook_id, headers=headers))


def register_webhook(client: LabelStudio, settings: Settings, project_id: int) -> int | None:
    """Have Label Studio post the project's events to the platform with the shared secret; idempotent.

    Returns the webhook id, or None (logged) when MEDLABEL_WEBHOOK_URL or MEDLABEL_WEBHOOK_SECRET is unset:
    the project is then mirrored by reconciliation (`medlabel sync`) alone.
    """
    if not settings.webhook_url or not settings.webhook_secret:
        logger.info(
            "project %s: no webhook registered (MEDLABEL_WEBHOOK_URL or MEDLABEL_WEBHOOK_SECRET unset); "
            "`medlabel sync` mirrors it",
            project_id,
        )
        return None
    from medlabel.routing.label_studio import SECRET_HEADER

    url = settings.webhook_url + WEBHOOK_PATH
    hooks = call("list webhooks", lambda: client.webhooks.list(project=str(project_id)))
    for hook in hooks:
        if hook.url == url and hook.project == project_id and hook.id is not None:
            return int(hook.id)
    hook = call(
        "create webhook",
        lambda: client.webhooks.create(
            url=url,
            project=project_id,
            actions=list(WEBHOOK_ACTIONS),
            send_payload=True,
            send_for_all_actions=False,
            headers={SECRET_HEADER: settings.webhook_secret},
        ),
    )
    logger.info("project %s: webhook %s posts its events to %s", project_id, hook.id, url)
    return int(hook.id)


def basic_auth_header(user: str, password: str) -> str:
    """The HTTP Authorization header value of basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def uses_interactive_models(xml: str) -> bool:
    """Whether a config has smart tools (smart="true"), i.e. wants click/box-to-mask interactive pre-annotation."""
    return any((control.attr or {}).get("smart") == "true" for control in LabelInterface(xml).controls)


def _description(rendered: RenderedTemplate) -> str:
    t = rendered.template
    standard = f" Label set: {t.standard}." if t.standard else ""
    return f"medlabel template {t.id} v{t.version} ({t.specialty}, {rendered.language}).{standard}"


def _attach_samples(
    client: LabelStudio, settings: Settings, project_id: int, rendered: RenderedTemplate
) -> int:
    """Serve the template's sample media to this project and import its sample task."""
    sample = rendered.template.sample_task
    names = samples.sample_names(sample)
    if names:
        folder = samples.ensure_sample_media(settings.media_root, names)
        call(
            "attach sample media storage",
            lambda: client.import_storage.local.create(
                project=project_id, path=str(folder), title="medlabel sample media", use_blob_urls=True
            ),
        )
    data = samples.resolve_sample_task(sample, local_files_url)
    call("import sample task", lambda: client.projects.import_tasks(id=project_id, request=[{"data": data}]))
    tasks = call("list sample task", lambda: list(client.tasks.list(project=project_id, page_size=1)))
    if not tasks:
        raise MedlabelError("the sample task was not imported")
    return int(tasks[0].id)
