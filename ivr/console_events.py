"""Reading the calls that rang at, or were answered by, an operator's phone
(``ConsoleEvent`` rows, written by ``ivr.call_store.announce`` as AMI reports them), for the
console's live feed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.models import Call, ConsoleEvent


def after(session: Session, phone: str, last_id: int) -> list[ConsoleEvent]:
    """The phone's events after ``last_id``, oldest first."""
    return list(
        session.scalars(
            select(ConsoleEvent)
            .where(ConsoleEvent.phone == phone, ConsoleEvent.id > last_id)
            .order_by(ConsoleEvent.id)
        )
    )


def replay_start(session: Session, phone: str, since: dt.datetime) -> int:
    """The id to read the phone's events after so that those since ``since`` come again;
    with none since then, the last id of all (nothing old comes)."""
    first = session.scalar(
        select(func.min(ConsoleEvent.id)).where(
            ConsoleEvent.phone == phone, ConsoleEvent.at >= since
        )
    )
    if first is not None:
        return int(first) - 1
    last = session.scalar(select(func.max(ConsoleEvent.id)))
    return int(last or 0)


def call_of(session: Session, event: ConsoleEvent) -> Call | None:
    """The call the event is about; None if it is not (yet) stored."""
    return session.scalar(select(Call).where(Call.asterisk_uniqueid == event.call_uniqueid))
