"""``hotline recordings``: verify the store, purge what is past retention, and the uploads
to the object store (``offload``)."""

from __future__ import annotations

import datetime as dt

import click

from core.clock import utc_now
from core.settings import Settings
from custody import integrity
from custody import purge as purging
from hotline.cli import context
from recordings import objects, offload


@click.group()
def recordings() -> None:
    """The recording store: integrity and retention."""


@recordings.command("verify")
def verify() -> None:
    """Re-hash every stored file and check the manifest's chain; exits 1 on any problem."""
    settings = context.settings()
    remote = _remote(settings)
    with context.session_factory(settings) as sessions, context.database_errors():
        try:
            report = integrity.check_and_record(
                sessions, settings.data_dir, dt.datetime.now(dt.UTC), remote
            )
        except objects.StoreDenied as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"files checked: {report.files_checked}; manifest head: entry "
        f"{report.head_seq} {report.head_hash}"
    )
    if remote is not None:
        click.echo(
            f"object store {remote.name}: {report.objects_checked} object(s) re-hashed; "
            f"{report.pending_elsewhere} file(s) waiting for upload on another data folder"
        )
    for problem in report.problems:
        click.echo(problem.line())
    if not report.ok:
        click.echo(f"{len(report.problems)} problem(s) found", err=True)
        raise SystemExit(1)
    if report.store_error:
        click.echo(
            f"warning: the object store could not be reached ({report.store_error}): "
            f"{report.objects_unchecked} uploaded file(s) not re-hashed",
            err=True,
        )
        click.echo("no problem in what could be checked; the chains are whole")
        return
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
            sessions,
            settings.recordings_dir,
            years,
            now,
            "hotline recordings purge",
            _remote(settings),
        )
    click.echo(f"deleted {len(deleted)} recording(s); each deletion is in the manifest")


@recordings.command("offload")
@click.option("--run", "run_now", is_flag=True, help="Upload this data folder's due files now")
@click.option(
    "--backfill",
    is_flag=True,
    help="Queue the files stored here before the object store was set",
)
def offload_command(run_now: bool, backfill: bool) -> None:
    """Uploads to the object store: rows by data folder and state."""
    settings = context.settings()
    remote = _remote(settings)
    if remote is None:
        click.echo("no object store set (object_store_url): files stay on the local disk")
        return
    with context.session_factory(settings) as sessions, context.database_errors():
        if backfill:
            added = offload.backfill(sessions, settings.data_dir, utc_now())
            click.echo(f"queued {added} file(s) stored here before the object store was set")
        if run_now:
            uploader = offload.offloader_for(settings, sessions, utc_now)
            assert uploader is not None
            done = uploader.run_once()
            while done.busy and not done.waiting:
                done = uploader.run_once()
            for error in done.errors:
                click.echo(f"object store: {error}", err=True)
        with sessions() as session:
            found = offload.counts(session)
    here = offload.origin_of(settings.data_dir)
    click.echo(f"object store: {remote.name}; this data folder: {here}")
    for (origin, state), rows in sorted(found.items()):
        click.echo(f"  {origin:<60} {state:<8} {rows}")
    if not found:
        click.echo("  no uploads yet")


def _remote(settings: Settings) -> objects.ObjectStore | None:
    """The object store the settings name, or a clear error when its credentials are not
    usable."""
    try:
        return objects.s3_store(settings)
    except (FileNotFoundError, PermissionError, ValueError) as exc:
        raise click.ClickException(f"object store: {exc}") from exc
