"""`medlabel accounts`: invite, list and revoke platform accounts; rotate the gateway keys."""

from __future__ import annotations

import click

from medlabel.settings import get_settings


@click.group()
def accounts() -> None:
    """Platform accounts: invite physicians and staff, list, revoke; rotate the gateway keys."""


@accounts.command("invite")
@click.option(
    "--physician", "physician_ids", type=int, multiple=True, help="Pool id of a physician (repeatable)."
)
@click.option("--email", help="E-mail of a staff or client account.")
@click.option(
    "--role", type=click.Choice(["admin", "manager", "client"]), help="Role of the --email account."
)
def invite_command(physician_ids: tuple[int, ...], email: str | None, role: str | None) -> None:
    """Print a one-time link that lets the person set a password (a new link voids the previous one)."""
    from medlabel.accounts import operations
    from medlabel.db import platform_session
    from medlabel.models import Role

    if bool(physician_ids) == bool(email):
        raise click.UsageError("give --physician ID (repeatable) or --email E --role R")
    if email and not role:
        raise click.UsageError("--email needs --role")
    settings = get_settings()
    with platform_session(settings) as session:
        issued = [operations.invite_physician(session, settings, pid) for pid in physician_ids]
        if email and role:
            issued.append(operations.create_staff_account(session, settings, email, Role(role)))
    for invite in issued:
        click.echo(f"{invite.email}\t{invite.url}\tvalid until {invite.expires_at:%Y-%m-%d %H:%M} UTC")


@accounts.command("list")
def list_command() -> None:
    """Every account: id, role, e-mail, physician id, state, last login."""
    from sqlalchemy import select

    from medlabel.db import platform_session
    from medlabel.models import Account

    with platform_session(get_settings()) as session:
        rows = list(session.scalars(select(Account).order_by(Account.id)))
    click.echo(f"{'ID':>5}  {'ROLE':<10} {'PHYSICIAN':>9}  {'STATE':<9} {'LAST LOGIN':<17} E-MAIL")
    for account in rows:
        state = "revoked" if not account.active else ("active" if account.password_hash else "invited")
        last = f"{account.last_login_at:%Y-%m-%d %H:%M}" if account.last_login_at else "-"
        physician = str(account.physician_id) if account.physician_id else "-"
        click.echo(
            f"{account.id:>5}  {account.role:<10} {physician:>9}  {state:<9} {last:<17} {account.email}"
        )


@accounts.command("revoke")
@click.argument("account_id", type=int)
def revoke_command(account_id: int) -> None:
    """Lock an account out at once: its open sessions end at their next request."""
    from medlabel.accounts import operations
    from medlabel.db import platform_session

    with platform_session(get_settings()) as session:
        account = operations.revoke(session, account_id)
    click.echo(f"account {account.id} ({account.email}) revoked")


@accounts.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt stored Label Studio tokens under the first of MEDLABEL_GATEWAY_KEYS.

    Rotation: put a new key first in MEDLABEL_GATEWAY_KEYS (keep the old one after it), restart, run this,
    then drop the old key.
    """
    from medlabel.accounts.label_studio import TokenVault, rotate_stored_tokens
    from medlabel.db import platform_session

    settings = get_settings()
    with platform_session(settings) as session:
        count = rotate_stored_tokens(session, TokenVault(settings.gateway_keys))
    click.echo(f"{count} Label Studio tokens re-encrypted under the first gateway key")
