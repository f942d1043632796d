"""The rows 热点诉求 reads (``hot_topics.Appeal``): the cases received in a period, the period
before it (环比) and the same period a year earlier (同比), with the text columns the
indicators' ``CaseRow`` leaves out (title, address, the subject as typed). One
query per period, in bulk, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from dispatch.indicators.hot_topics import Appeal
from dispatch.indicators.periods import Period, previous, year_earlier


def appeals_in(session: Session, period: Period) -> list[Appeal]:
    """Every case received in the period (merged ones too), by time received."""
    query = (
        select(
            Case.id,
            Case.number,
            Case.received_at,
            Case.category,
            Case.complainant_phone,
            Case.complainant_address,
            Case.subject_unit,
            Case.subject_window,
            Case.complained_unit_id,
            Case.title,
        )
        .where(Case.received_at >= period.start, Case.received_at < period.end)
        .order_by(Case.received_at, Case.id)
    )
    return [
        Appeal(
            id=r[0],
            number=r[1],
            received_at=r[2],
            category=r[3] or "",
            phone=r[4] or "",
            address=r[5] or "",
            subject_unit=r[6] or "",
            subject_window=r[7] or "",
            complained_unit_id=r[8],
            title=r[9] or "",
        )
        for r in session.execute(query)
    ]


def appeals_around(session: Session, period: Period) -> list[Appeal]:
    """The appeals of the period, of the period before and of the same period a year
    earlier (what ``hot_topics.hot_topics`` compares; for a year, the year before is both)."""
    wanted = [year_earlier(period)]
    if previous(period) != wanted[0]:
        wanted.append(previous(period))
    wanted.append(period)
    return [appeal for each in wanted for appeal in appeals_in(session, each)]
