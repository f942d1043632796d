"""``hotline recordings …``: verify the store, purge what is past retention."""

from __future__ import annotations

import datetime as dt

import click


@click.group()
def recordings() -> None:
    """The recording store: integrity and retention."""
    import hotline.models_registry  # noqa: F401  (every table mapped before any query)


@recordings.command("verify")
def verify() -> None:
    """Re-hash every stored file and check the manifest's chain; exits 1 on any problem."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from core.db import make_engine, make_session_factory
    from custody import integrity
    from hotline.cli import _settings

    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    try:
        report = integrity.check_and_record(make_session_factory(engine), settings.data_dir,
                                            dt.datetime.now(dt.UTC))
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"the database is unreachable or not set up (run "
                                   f"'hotline setup'): {exc.orig}") from exc
    finally:
        engine.dispose()
    click.echo(f"files checked: {report.files_checked}; manifest head: entry "
               f"{report.head_seq} {report.head_hash}")
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
    from core.db import make_engine, make_session_factory
    from custody import purge as purging
    from hotline.cli import _database, _settings

    settings = _settings()
    years, now = settings.recording_retention_years, dt.datetime.now(dt.UTC)
    with _database(settings) as session:
        found = purging.candidates(session, years, now)
    click.echo(f"past retention ({years} years) and not on hold: {len(found)}")
    for item in found:
        cases = ", ".join(item.case_numbers) or "no case"
        click.echo(f"  {item.recording_id}  stored {item.created_at:%Y-%m-%d}  kept until "
                   f"{item.kept_until:%Y-%m-%d}  {cases}  {item.size_bytes} bytes")
    if not yes:
        if found:
            click.echo("nothing deleted; run again with --yes to delete these")
        return
    engine = make_engine(settings.effective_database_url)
    try:
        deleted = purging.purge(make_session_factory(engine), settings.recordings_dir, years,
                                now, "hotline recordings purge")
    finally:
        engine.dispose()
    click.echo(f"deleted {len(deleted)} recording(s); each deletion is in the manifest")
