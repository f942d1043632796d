"""Database rows for calls and the callback list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.ids import new_id
from ivr import fields


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    asterisk_uniqueid: Mapped[str] = mapped_column(String(fields.UNIQUEID), unique=True)
    linkedid: Mapped[str] = mapped_column(String(fields.UNIQUEID), default="")
    channel: Mapped[str] = mapped_column(String(fields.CHANNEL), default="")
    caller_number: Mapped[str] = mapped_column(String(fields.NUMBER), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(fields.NAME), default="")
    dialled_number: Mapped[str] = mapped_column(String(fields.NUMBER), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    notice_finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recording_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    message_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32), index=True)
    operator: Mapped[str | None] = mapped_column(String(fields.OPERATOR))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    spool_path: Mapped[str | None] = mapped_column(Text)
    recording_problem: Mapped[str | None] = mapped_column(Text)
    # The node (Asterisk + ivr) that took the call: Settings.node_name, "" on the single machine.
    node: Mapped[str] = mapped_column(String(16), default="", server_default="", index=True)
    # Issue 18, H7: on a node's row for another node's waiting caller (overflow), the first
    # node's call it is a leg of (that row's asterisk_uniqueid); None for a citizen's own call.
    overflow_of: Mapped[str | None] = mapped_column(String(fields.UNIQUEID), index=True)


class CallbackRequest(Base):
    """漏接回拨: an abandoned or missed call waiting for an operator to call back."""

    __tablename__ = "callback_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")


class ConsoleEvent(Base):
    """A hotline call ringing at, or answered by, an operator's phone, as AMI reported it;
    the console pushes it to the operator whose phone it is."""

    __tablename__ = "console_events"
    __table_args__ = (UniqueConstraint("call_uniqueid", "phone", "kind"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    phone: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    call_uniqueid: Mapped[str] = mapped_column(String(64))
