"""The platform web service: Flask app factory (gunicorn runs `medlabel.app:create_app()`)."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from medlabel.errors import MedlabelError
from medlabel.logs import configure_logging
from medlabel.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; nothing happens at import time."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__, template_folder="web/pages")
    app.extensions["medlabel_settings"] = settings

    from medlabel.web.catalog import bp as catalog_bp

    app.register_blueprint(catalog_bp)

    from medlabel.web.worklist import bp as worklist_bp

    app.register_blueprint(worklist_bp)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="UP")

    @app.errorhandler(MedlabelError)
    def medlabel_error(exc: MedlabelError) -> ResponseReturnValue:
        return jsonify(error=exc.code, detail=str(exc)), exc.http_status

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> ResponseReturnValue:
        return jsonify(error="not_found", detail="no such page"), 404

    return app
