"""Platform database: declarative base with a naming convention, engine and session factory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from medlabel.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...
def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; everything stored is UTC."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (embedded default, foreign keys on) or PostgreSQL (production)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL: the web process, its post-answer routing and workers read while one writes; NORMAL sync
            # commits without an fsync (a commit survives a crash of the process, not of the machine), which
            # halves routing a new task on a busy disk. Production runs PostgreSQL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # pysqlite defers BEGIN and commits around SAVEPOINTs, which breaks nested transactions (and the
            # tests' rolled-back outer transaction); SQLAlchemy's documented fix: emit BEGIN ourselves.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:  # type: ignore[type-arg]
    return sessionmaker(bind=engine, expire_on_commit=False)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to `revision` with Alembic (the only way the schema changes)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def platform_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured platform DB, migrated to head first (cheap when already there)."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()
