"""The backend's HTTP surface: label-studio-ml 1.0.9's protocol, with /setup, /predict, /train and /health
routed per project.

1.0.9 keeps ONE model object for all projects (its V2 mode), built at /setup and used by /predict without the
project or credentials, answers /predict before any /setup with a 500, and puts tracebacks in error bodies;
its /webhook logs every event body at INFO and writes it to MODEL_DIR (with the project's invite token). So the
app is ours: every request builds MedlabelBackend for the project it names, and a training event forks one
process that runs MedlabelBackend.process_event (→ fit), as 1.0.9 does, without keeping the body anywhere.

1.0.9 has no authentication at all (label-studio-ml 2.x reads BASIC_AUTH_USER / BASIC_AUTH_PASS, the names
our settings reuse): every route but /health needs HTTP basic auth, and the app refuses to start without it.
/health is open (Label Studio's connection check, the container health check) and tells nothing about the
file system. Bodies are capped at MEDLABEL_ML_MAX_REQUEST_BYTES. Gunicorn runs the app with threads
(ml_backend.THREADS), so the per-worker state here is guarded or atomic.
"""

from __future__ import annotations

import hmac
import logging
import multiprocessing
import threading
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from medlabel.errors import MedlabelError
from medlabel.settings import Settings
from ml_backend.control_models.base import ControlModel, ModelStore
from ml_backend.control_models.onnx_model import byom_status
from ml_backend.model import MedlabelBackend, project_id_of

logger = logging.getLogger(__name__)


#: The realm of the basic-auth challenge.
REALM = "medlabel-ml"
#: The endpoint that needs no credentials (/health and its alias /).
OPEN_ENDPOINT = "health"


def create_ml_app(settings: Settings) -> Flask:
    """The ML backend's Flask app, with models under `settings.model_dir`.

    Raises:
        ConfigError: no basic-auth password is configured (an open backend is never started).
    """
    user, password = (value.encode() for value in settings.ml_basic_auth())
    model_dir = settings.model_dir
    app = Flask("ml_backend")
    app.config["MAX_CONTENT_LENGTH"] = settings.ml_max_request_bytes
    #: labeling config per project this worker was set up for: /health describes their models
    active_configs: dict[int, str] = {}
    configs_lock = threading.Lock()  # /setup threads add while /health threads iterate

    def backend(body: dict[str, Any], config_key: str) -> MedlabelBackend:
        return MedlabelBackend(
            label_config=body.get(config_key),
            project=body.get("project"),
            model_dir=model_dir,
            settings=settings,
        )

    @app.before_request
    def require_basic_auth() -> ResponseReturnValue | None:
        # Runs before the body is read: an unauthenticated request costs no parsing, whatever its size.
        if request.endpoint == OPEN_ENDPOINT:
            return None
        given = request.authorization
        if given is not None and given.type == "basic":
            user_ok = hmac.compare_digest((given.username or "").encode(), user)
            password_ok = hmac.compare_digest((given.password or "").encode(), password)
            if user_ok and password_ok:
                return None
        logger.warning(
            "refused %s %s from %s: no or wrong credentials",
            request.method,
            request.path,
            request.remote_addr,
        )
        response = jsonify({"error": "unauthorized", "detail": "this ML backend needs HTTP basic auth"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        return response

    def setup() -> ResponseReturnValue:
        body = request.get_json(force=True)
        project_id = project_id_of(body.get("project"))
        if body.get("access_token"):
            MedlabelBackend.tokens[project_id] = body["access_token"]
        if body.get("schema"):
            with configs_lock:
                active_configs[project_id] = body["schema"]
        return jsonify({"model_version": backend(body, "schema").model_version})

    def predict() -> ResponseReturnValue:
        body = request.get_json(force=True)
        context = (body.get("params") or {}).get("context")
        model = backend(body, "label_config")
        results = model.predict(body.get("tasks") or [], context=context or None)
        return jsonify({"results": results, "model_version": model.model_version})

    def train() -> ResponseReturnValue:
        # Label Studio without the START_TRAINING feature flag posts the annotated tasks here instead.
        body = request.get_json(force=True)
        model = backend(body, "label_config")
        pairs = [(t, a) for t in body.get("annotations") or [] for a in t.get("annotations") or []]
        return jsonify({"model_version": model.fit_annotations(pairs, replace=True)}), 201

    def webhook() -> ResponseReturnValue:
        body = request.get_json(force=True)
        event = str(body.pop("action", ""))
        if event not in MedlabelBackend.TRAIN_EVENTS:
            return jsonify({"status": "ignored", "event": event}), 200
        # answer at once (Label Studio waits 1 s, inside the physician's API call); fit in a forked process
        job = _FORK.Process(target=_fit_job, args=(settings, event, body), daemon=True)
        job.start()
        logger.info("project %s: %s → fit job %s", (body.get("project") or {}).get("id"), event, job.pid)
        return jsonify({"job_id": str(job.pid)}), 201

    def health() -> ResponseReturnValue:
        with configs_lock:
            configs = list(active_configs.items())
        loaded = [
            {"project": project, **_describe(model)}
            for project, config in configs
            for model in MedlabelBackend(
                label_config=config, project=project, model_dir=model_dir, settings=settings
            ).control_models()
        ]
        seen = {(m["project"], m["control"]) for m in loaded}
        stored = [m for m in stored_models(model_dir) if (m["project"], m["control"]) not in seen]
        # Open to anyone who reaches the port: model kinds and versions, no path (BYOM errors name files).
        models = [
            {key: _without_paths(value, model_dir) for key, value in model.items()}
            for model in loaded + stored
        ]
        return jsonify({"status": "UP", "models": models})

    app.add_url_rule("/setup", view_func=setup, methods=["POST"])
    app.add_url_rule("/predict", view_func=predict, methods=["POST"])
    app.add_url_rule("/train", view_func=train, methods=["POST"])
    app.add_url_rule("/webhook", view_func=webhook, methods=["POST"])
    app.add_url_rule("/health", view_func=health, methods=["GET"])
    app.add_url_rule("/", view_func=health, methods=["GET"])

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
        detail = f"request body over {settings.ml_max_request_bytes} bytes (MEDLABEL_ML_MAX_REQUEST_BYTES)"
        return jsonify({"error": "request_too_large", "detail": detail}), 413

    @app.errorhandler(MedlabelError)
    def medlabel_error(exc: MedlabelError) -> ResponseReturnValue:
        logger.error("%s", exc)
        return jsonify({"error": exc.code, "detail": str(exc)}), exc.http_status

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> ResponseReturnValue:
        # the traceback goes to the log only (label-studio-ml's own handler puts it in the response)
        if isinstance(exc, HTTPException):
            return exc
        logger.exception("ML backend request failed")
        return jsonify({"error": "internal_error", "detail": exc.__class__.__name__}), 500

    return app


_FORK = multiprocessing.get_context("fork")


def _fit_job(settings: Settings, event: str, data: dict[str, Any]) -> None:
    """Body of a forked fit job: one training event of one project."""
    try:
        MedlabelBackend(settings=settings).process_event(event, data, job_id=None, additional_params={})
    except MedlabelError as exc:
        logger.error("%s fit failed: %s", event, exc)
    except Exception:
        logger.exception("%s fit failed", event)


def _without_paths(value: Any, model_dir: Path) -> Any:
    """A /health value with MODEL_DIR's location replaced by its name (error messages quote file paths)."""
    return value.replace(str(model_dir), "MODEL_DIR") if isinstance(value, str) else value


def _describe(model: ControlModel) -> dict[str, Any]:
    """A model's /health entry; a model that cannot describe itself must not take /health down."""
    try:
        return model.describe()
    except Exception as exc:  # /health failing would make Label Studio mark the whole backend disconnected
        logger.exception("control %s: describe failed", model.control.name)
        return {"control": model.control.name, "kind": model.kind, "status": "error", "error": str(exc)}


def stored_models(model_dir: Path) -> list[dict[str, Any]]:
    """Every control model with state on disk (trained, or a client's BYOM model with its load status)."""
    found: list[dict[str, Any]] = []
    for state in sorted((model_dir / "projects").glob("*/*/state.json")):
        store = ModelStore(model_dir, int(state.parent.parent.name), state.parent.name)
        info = store.read_json("state.json", {})
        found.append(
            {
                "project": store.project_id,
                "control": store.control_name,
                "kind": info.get("kind"),
                "version": str(info.get("version", 0)),
            }
        )
    found.extend(byom_status(model_dir))
    return found
