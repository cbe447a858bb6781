"""Account operations on SQLite and PostgreSQL: invites, passwords, revocation; the schema has no drift."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from medlabel.accounts import operations
from medlabel.accounts.label_studio import TokenVault, rotate_stored_tokens
from medlabel.accounts.passwords import WeakPasswordError
from medlabel.db import Base
from medlabel.errors import ConfigError
from medlabel.models import Physician, Role
from medlabel.routing.generator import generate_pool, to_csv
from medlabel.routing.pool import import_pool_csv
from tests.fixtures.web import make_settings

TABLES = ("accounts", "invites", "physicians", "projects")


def test_accounts_migration_matches_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in TABLES)] == []


def test_staff_invite_accept_login_and_revoke(db_session: Session, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    issued = operations.create_staff_account(db_session, settings, " Manager@Example.org ", Role.MANAGER)
    token = issued.url.rsplit("/", 1)[1]
    with pytest.raises(WeakPasswordError):
        operations.accept_invite(
            db_session, settings, token, "the-manager-password"
        )  # contains the e-mail name
    account = operations.accept_invite(db_session, settings, token, "seventeen chars ok")
    assert account.email == "manager@example.org" and account.role == "manager"
    with pytest.raises(operations.InviteError):
        operations.accept_invite(db_session, settings, token, "seventeen chars ok")
    assert operations.authenticate(db_session, "manager@example.org", "seventeen chars ok") is not None
    assert operations.authenticate(db_session, "manager@example.org", "seventeen chars no") is None
    version = account.session_version
    operations.revoke(db_session, account.id)
    assert account.session_version == version + 1
    assert operations.authenticate(db_session, "manager@example.org", "seventeen chars ok") is None


def test_a_physician_account_is_one_per_pool_record(db_session: Session, tmp_path: Path) -> None:
    import_pool_csv(db_session, to_csv(generate_pool(3, seed=9)))
    settings = make_settings(tmp_path)
    physician = db_session.get(Physician, min(p.id for p in db_session.query(Physician)))
    assert physician is not None
    first = operations.invite_physician(db_session, settings, physician.id)
    again = operations.invite_physician(db_session, settings, physician.id)
    assert first.account_id == again.account_id and first.url != again.url
    with pytest.raises(operations.AccountError):
        operations.create_staff_account(db_session, settings, physician.email, Role.CLIENT)


def test_stored_tokens_rotate_to_a_new_key_and_the_old_key_can_then_go(
    db_session: Session, tmp_path: Path
) -> None:
    import_pool_csv(db_session, to_csv(generate_pool(2, seed=9)))
    old = make_settings(tmp_path)
    physician = db_session.query(Physician).first()
    assert physician is not None
    physician.ls_refresh_token = TokenVault(old.gateway_keys).encrypt("refresh-secret")
    db_session.commit()
    new = make_settings(tmp_path)
    both = TokenVault(new.gateway_keys + old.gateway_keys)
    assert rotate_stored_tokens(db_session, both) == 1
    assert TokenVault(new.gateway_keys).decrypt(physician.ls_refresh_token) == "refresh-secret"
    with pytest.raises(ConfigError, match="does not decrypt"):
        TokenVault(old.gateway_keys).decrypt(physician.ls_refresh_token)
    with pytest.raises(ConfigError, match="MEDLABEL_GATEWAY_KEYS is not set"):
        TokenVault(dataclasses.replace(new, gateway_keys=()).gateway_keys)
