"""The platform database migrates and round-trips on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medlabel.models import ProjectRecord


def _record(ls_id: int) -> ProjectRecord:
    return ProjectRecord(
        ls_project_id=ls_id,
        title="t",
        template_id="chest_xray_chexpert",
        template_version=1,
        language="ko",
        label_codes={"findings": {"기흉": "pneumothorax"}},
        reads=3,
    )


def test_migrations_create_the_schema(db_session: Session) -> None:
    tables = inspect(db_session.connection()).get_table_names()
    assert "projects" in tables and "alembic_version" in tables


def test_project_record_round_trips_unicode_json(db_session: Session) -> None:
    db_session.add(_record(900001))
    db_session.commit()
    loaded = db_session.scalars(select(ProjectRecord).where(ProjectRecord.ls_project_id == 900001)).one()
    assert loaded.label_codes == {"findings": {"기흉": "pneumothorax"}}
    assert loaded.created_at is not None


def test_ls_project_id_is_unique(db_session: Session) -> None:
    db_session.add(_record(900002))
    db_session.commit()
    db_session.add(_record(900002))
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()
