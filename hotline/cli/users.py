"""``hotline user``: console accounts."""

from __future__ import annotations

import datetime as dt
import secrets
import sys

import click

from accounts import service
from accounts.models import Role
from hotline.cli import context


@click.group()
def user() -> None:
    """Console accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--name", "display_name", default="", help="Name shown in the console")
@click.option(
    "--phone",
    default="",
    help="The operator's phone (SIP endpoint, e.g. 8001): its calls appear in the "
    "console as they ring",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (else one is generated and printed)",
)
def user_add(username: str, role: str, display_name: str, phone: str, password_stdin: bool) -> None:
    """Create a console user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    with context.database(context.settings(), write=True) as session:
        try:
            service.create_user(
                session,
                username,
                password,
                Role(role),
                display_name,
                dt.datetime.now(dt.UTC),
                phone=phone,
            )
        except service.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username} ({role}) created")
    if not password_stdin:
        click.echo(f"password: {password}")


@user.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift the lock repeated failed log-ins put on an account, at once."""
    with context.database(context.settings(), write=True) as session:
        if not service.unlock(session, username):
            raise click.ClickException(f"no user {username!r}")
    click.echo(f"user {username} unlocked")
