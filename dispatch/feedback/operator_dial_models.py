"""Database rows for the callbacks an operator dials from the console (漏接回拨 through the
operator's own phone): one row per request, with where the call went and how it ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.ids import new_id


class OperatorDial(Base):
    """An operator asked the hotline to ring their phone and, once they answer, the citizen
    of a callback request.

    ``status``: ``pending`` (written by the console), ``calling_operator`` (claimed by the
    ivr service's dialer, the operator's phone rings), ``calling_citizen`` (the operator
    answered; the citizen's number is dialled through the outbound trunk), then one of
    ``answered``, ``no_answer``, ``busy`` (the citizen's), or ``failed`` (``failed_leg``
    says whose: ``operator`` — their phone was not answered, busy, unregistered, or they
    hung up first —, ``citizen`` — the number could not be reached —, or ``system``).
    ``reason`` is the technical cause, in English. ``attempt_id``: the callback attempt
    recorded for the citizen's outcome (answered, no answer, busy).
    """

    __tablename__ = "operator_dials"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    callback_request_id: Mapped[str] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    operator: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), index=True)
    failed_leg: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    operator_answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("callback_attempts.id"))
