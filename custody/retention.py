"""How long recordings are kept and what holds them. Pure."""

from __future__ import annotations

import datetime as dt

from dispatch.cases.lifecycle import Status

MIN_YEARS = 5  # recordings are evidence: kept at least five years

# A case in any other status is still being handled, reviewed or investigated: its
# recordings are held whatever their age.
FINISHED = frozenset(
    {Status.CLOSED, Status.ARCHIVED, Status.REJECTED, Status.MERGED, Status.WITHDRAWN}
)


def check_years(years: int) -> int:
    if years < MIN_YEARS:
        raise ValueError(
            f"recording_retention_years must be at least {MIN_YEARS} "
            f"(recordings are evidence and are kept {MIN_YEARS} years); got {years}"
        )
    return years


def kept_until(created_at: dt.datetime, years: int) -> dt.datetime:
    """The same day ``years`` later (29 February → 28 February)."""
    try:
        return created_at.replace(year=created_at.year + years)
    except ValueError:
        return created_at.replace(year=created_at.year + years, day=28)


def held(case_statuses: list[str], active_holds: int) -> bool:
    """On hold: a legal hold placed on one of its cases, or a case not yet finished."""
    return active_holds > 0 or any(Status(s) not in FINISHED for s in case_statuses)


def due(created_at: dt.datetime, years: int, now: dt.datetime) -> bool:
    return kept_until(created_at, years) <= now
