"""回访 as one step for both doors (the case page's form and the JSON API): when the
citizen was told, read in the hotline's time zone if the form gave no zone; never later
than now (as a registration's time)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Feedback
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.feedback import visits
from dispatch.feedback.scale import Level
from dispatch.feedback.visits import Method

# A browser's clock a little ahead of the server's is not a time to come.
CLOCK_SKEW = dt.timedelta(minutes=5)


def told_time(told_at: dt.datetime | None, zone: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """``told_at`` as an aware time: without a zone it is local time; none given is now.
    A time still to come is refused (Invalid at ``told_at``): a citizen cannot have been
    told later than the record says it was written."""
    if told_at is None:
        return now
    told = told_at if told_at.tzinfo is not None else told_at.replace(tzinfo=zone)
    if told > now + CLOCK_SKEW:
        raise Invalid(
            {"told_at": FieldError("回访时间不能晚于当前时间", "must not be in the future")}
        )
    return told


def give(
    session: Session,
    case: Case,
    method: Method,
    told_at: dt.datetime | None,
    zone: ZoneInfo,
    note: str,
    level: Level | None,
    actor: str,
    now: dt.datetime,
) -> Feedback:
    return visits.give_feedback(
        session, case, method, told_time(told_at, zone, now), note, level, actor, now
    )
