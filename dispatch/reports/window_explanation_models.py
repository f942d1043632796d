"""The written explanations (书面说明) owed under seed 003's 红旗窗口 rule, as received: a
window complained about three times or more in a year, the complaints found true, must
explain the causes in writing to the centre and propose rectification. The centre records
each one's receipt here, once per window and year, with who recorded it and when."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class WindowExplanation(Base):
    """The receipt of one window's written explanation for one year. The unique key refuses
    a second receipt for the same window and year, whichever process records it."""

    __tablename__ = "window_explanations"
    __table_args__ = (UniqueConstraint("unit_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))  # the window
    year: Mapped[int] = mapped_column(Integer, index=True)  # the year complained about
    received_on: Mapped[dt.date] = mapped_column(Date)  # local date the letter arrived
    submitted_by: Mapped[str] = mapped_column(String(64))  # who wrote it (窗口负责人)
    rectification: Mapped[str] = mapped_column(Text)  # the rectification proposed
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))  # the supervisor's user name
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
