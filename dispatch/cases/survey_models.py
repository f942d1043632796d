"""Database rows for the automatic satisfaction call-back (满意度自动回访): one row per
attempt to call a citizen, with what came of it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.ids import new_id


class SatisfactionCall(Base):
    """One attempt at calling a citizen back to ask for their satisfaction.

    ``status``: ``pending`` (waiting for ``due_at``), ``dialling`` (claimed by a dialer, the
    call is being placed or is under way), ``answered`` (a key was pressed: ``digit``),
    ``no_answer`` (this attempt failed; a later attempt is another row), ``gave_up`` (the
    last attempt failed: the citizen is left to a human call-back). ``outcome`` says why.
    """

    __tablename__ = "satisfaction_calls"
    __table_args__ = (Index("ix_satisfaction_calls_status_due_at", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    case_number: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    digit: Mapped[str] = mapped_column(String(1), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
