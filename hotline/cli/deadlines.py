"""``hotline deadline``: working-day arithmetic on the official calendar."""

from __future__ import annotations

import datetime as dt
import json

import click

from dispatch.deadlines.working_calendar import CalendarFileError, WorkingCalendar, load_calendar
from hotline.cli import context


@click.command()
@click.argument("start", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option(
    "--working-days",
    type=click.IntRange(min=0),
    default=None,
    help="Working days to add (official calendar, 调休 included)",
)
@click.option(
    "--calendar-days", type=click.IntRange(min=0), default=None, help="Calendar days to add instead"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def deadline(
    start: dt.datetime, working_days: int | None, calendar_days: int | None, as_json: bool
) -> None:
    """Print the date N working days after DATE (YYYY-MM-DD); the first counted day is the first
    working day after DATE. Years the package lacks come from <data_dir>/calendar/holidays.toml."""
    if (working_days is None) == (calendar_days is None):
        raise click.UsageError("give exactly one of --working-days and --calendar-days")
    path = context.settings().calendar_file
    if working_days is None:
        result = WorkingCalendar.add_calendar_days(start.date(), calendar_days or 0)
    else:
        try:
            calendar = load_calendar(path, warn_unknown_years=False)
        except CalendarFileError as exc:
            raise click.ClickException(str(exc)) from exc
        result = calendar.add_working_days(start.date(), working_days)
    for year in result.unknown_years:
        click.echo(
            f"WARNING: provisional: no official holiday schedule for {year} (counted "
            f"weekends only); add it to {path}",
            err=True,
        )
    click.echo(json.dumps(result.as_dict()) if as_json else result.date.isoformat())
