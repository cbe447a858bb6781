"""The platform DB inside a request: one engine per app (migrated once), one Session per request on `g`."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from medlabel.db import make_engine, make_sessionmaker, upgrade
from medlabel.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    app.extensions["medlabel_sessionmaker"] = make_sessionmaker(engine)
    app.extensions["medlabel_engine"] = engine

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def db_session() -> Session:
    """This request's session; closed when the request ends."""
    if "db_session" not in g:
        maker: sessionmaker[Session] = current_app.extensions["medlabel_sessionmaker"]
        g.db_session = maker()
    session: Session = g.db_session
    return session


def settings() -> Settings:
    configured: Settings = current_app.extensions["medlabel_settings"]
    return configured
