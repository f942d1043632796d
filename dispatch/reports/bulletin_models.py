"""The bulletins (通报) as stored: the report's tables as JSON, exactly as they were when
the bulletin was made, with its kind, period, when and by whom. The .xlsx and the PDF are
rendered from this JSON when downloaded, so no file on disk can disagree with the row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.ids import new_id


class Bulletin(Base):
    """One 通报: a day's, an ISO week's, a month's (made by the schedule or on demand), or a
    quarter's, a year's or a custom run of days (on demand). One per kind and period: the
    unique key lets two API processes race for the same one and only one row win."""

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("kind", "first_day", "last_day"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))  # dispatch.indicators.periods.PeriodKind
    first_day: Mapped[dt.date] = mapped_column(Date, index=True)
    last_day: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    report: Mapped[str] = mapped_column(Text)  # dispatch.reports.tables.to_json, as JSON text
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # the figures' moment
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    made_by: Mapped[str] = mapped_column(String(64))  # a user name, or system:bulletins
