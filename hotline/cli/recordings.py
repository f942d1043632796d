"""``hotline recordings``: verify the store, purge what is past retention."""

from __future__ import annotations

import datetime as dt

import click

from custody import integrity
from custody import purge as purging
from hotline.cli import context


@click.group()
def recordings() -> None:
    """The recording store: integrity and retention."""


@recordings.command("verify")
def verify() -> None:
    """Re-hash every stored file and check the manifest's chain; exits 1 on any problem."""
    settings = context.settings()
    with context.session_factory(settings) as sessions, context.database_errors():
        report = integrity.check_and_record(sessions, settings.data_dir, dt.datetime.now(dt.UTC))
    click.echo(
        f"files checked: {report.files_checked}; manifest head: entry "
        f"{report.head_seq} {report.head_hash}"
    )
    for problem in report.problems:
        click.echo(problem.line())
    if not report.ok:
        click.echo(f"{len(report.problems)} problem(s) found", err=True)
        raise SystemExit(1)
    click.echo("ok: every file matches the manifest and the chains are whole")


@recordings.command("purge")
@click.option("--yes", is_flag=True, help="Delete them (without it, only list)")
def purge(yes: bool) -> None:
    """List recordings past retention and not on hold; delete them with --yes."""
    settings = context.settings()
    years, now = settings.recording_retention_years, dt.datetime.now(dt.UTC)
    with context.database(settings) as session:
        found = purging.candidates(session, years, now)
    click.echo(f"past retention ({years} years) and not on hold: {len(found)}")
    for item in found:
        cases = ", ".join(item.case_numbers) or "no case"
        click.echo(
            f"  {item.recording_id}  stored {item.created_at:%Y-%m-%d}  kept until "
            f"{item.kept_until:%Y-%m-%d}  {cases}  {item.size_bytes} bytes"
        )
    if not yes:
        if found:
            click.echo("nothing deleted; run again with --yes to delete these")
        return
    with context.session_factory(settings) as sessions:
        deleted = purging.purge(
            sessions, settings.recordings_dir, years, now, "hotline recordings purge"
        )
    click.echo(f"deleted {len(deleted)} recording(s); each deletion is in the manifest")
