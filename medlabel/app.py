"""The platform web service: Flask app factory (gunicorn runs `medlabel.app:create_app()`).

One origin serves the platform's pages and, through the gateway, Label Studio's labeling page: the
physician's browser holds one session cookie (ours), never a Label Studio one.
"""

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
    # No static folder: /static/ is Label Studio's, reached through the gateway.
    app = Flask(__name__, template_folder="web/pages", static_folder=None)
    app.extensions["medlabel_settings"] = settings

    from medlabel.web import db, extensions

    db.init_app(app, settings)
    extensions.init_app(app, settings)

    from medlabel.accounts.blueprint import bp as accounts_bp
    from medlabel.web.catalog import bp as catalog_bp
    from medlabel.web.worklist import bp as worklist_bp
    from sync.webhooks import bp as sync_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(worklist_bp)
    app.register_blueprint(sync_bp)  # before the gateway's catch-all
    extensions.csrf.exempt(sync_bp)  # Label Studio authenticates by the shared secret header

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="UP")

    @app.errorhandler(MedlabelError)
    def medlabel_error(exc: MedlabelError) -> ResponseReturnValue:
        return jsonify(error=exc.code, detail=str(exc)), exc.http_status

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> ResponseReturnValue:
        return jsonify(error="not_found", detail="no such page"), 404

    from medlabel.gateway import blueprint as gateway

    gateway.init_app(app, settings)
    app.register_blueprint(gateway.bp)  # last: the catch-all for Label Studio's paths
    extensions.csrf.exempt(
        gateway.bp
    )  # writes are checked by Origin; Label Studio's editor sends no form token
    extensions.limit_password_endpoints(app, settings)
    return app
