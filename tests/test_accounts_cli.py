"""`medlabel accounts` and `medlabel gateway show-models` through the real CLI on a real SQLite DB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from medlabel import cli
from medlabel.accounts import cli as accounts_cli
from medlabel.db import platform_session
from medlabel.gateway import cli as gateway_cli
from medlabel.models import Account, ProjectRecord
from medlabel.routing.generator import generate_pool, to_csv
from medlabel.routing.pool import import_pool_csv
from medlabel.settings import Settings
from tests.fixtures.web import make_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    configured = make_settings(tmp_path, public_url="https://label.example.org")
    for module in (cli, accounts_cli, gateway_cli):
        monkeypatch.setattr(module, "get_settings", lambda: configured)
    with platform_session(configured) as session:
        import_pool_csv(session, to_csv(generate_pool(4, seed=3)))
        session.add(
            ProjectRecord(
                ls_project_id=5,
                title="p",
                template_id="t",
                template_version=1,
                language="en",
                label_codes={},
                reads=1,
            )
        )
        session.commit()
    return configured


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args))


def test_invite_list_and_revoke(settings: Settings) -> None:
    invited = run("accounts", "invite", "--physician", "1", "--physician", "2")
    assert invited.exit_code == 0, invited.output
    links = [line.split("\t")[1] for line in invited.stdout.splitlines() if "\t" in line]
    assert len(links) == 2 and all(link.startswith("https://label.example.org/invite/") for link in links)
    staff = run("accounts", "invite", "--email", "PM@example.org", "--role", "manager")
    assert staff.exit_code == 0 and "pm@example.org\thttps://" in staff.stdout
    assert run("accounts", "invite").exit_code == 2  # nobody named
    assert run("accounts", "invite", "--physician", "99").exit_code == 2
    listed = run("accounts", "list").output
    assert listed.count("invited") == 3 and "manager" in listed
    with platform_session(settings) as session:
        account_id = session.scalar(select(Account.id).where(Account.physician_id == 1))
    assert run("accounts", "revoke", str(account_id)).exit_code == 0
    assert "revoked" in run("accounts", "list").output


def test_show_models_sets_what_physicians_see(settings: Settings) -> None:
    assert "every model shown" in run("gateway", "show-models", "--project", "5").output
    assert (
        "shown: ['chexpert@']"
        in run("gateway", "show-models", "--project", "5", "--model", "chexpert@").output
    )
    assert "shown: none" in run("gateway", "show-models", "--project", "5", "--model", "").output
    assert "every model shown" in run("gateway", "show-models", "--project", "5", "--all").output
    assert run("gateway", "show-models", "--project", "6").exit_code == 2  # unknown project
