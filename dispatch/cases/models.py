"""Database rows for registered cases, their history, evidence, the knowledge base, the
case-number counters, and the operators' work on calls (callback attempts, dismissed
calls). The calls themselves and the live console events are in ``ivr.models``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime
from core.ids import new_id


class Case(Base):
    """A registered case (登记). ``status`` follows ``dispatch.cases.lifecycle``."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    registered_by: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    case_type: Mapped[str] = mapped_column(String(16))
    complainant_name: Mapped[str] = mapped_column(String(64), default="")
    complainant_phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    complainant_address: Mapped[str] = mapped_column(String(256), default="")
    complainant_org: Mapped[str] = mapped_column(String(128), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    subject_unit: Mapped[str] = mapped_column(String(128), default="")
    subject_window: Mapped[str] = mapped_column(String(128), default="")
    subject_person: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text, default="")
    verified_with_caller: Mapped[bool] = mapped_column(Boolean, default=False)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    recording_id: Mapped[str | None] = mapped_column(ForeignKey("recordings.id"))
    transcript_id: Mapped[str | None] = mapped_column(ForeignKey("transcripts.id"))
    transcript_text: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(16), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    refer_to: Mapped[str] = mapped_column(String(128), default="")
    reply_text: Mapped[str] = mapped_column(Text, default="")
    knowledge_entry_id: Mapped[str | None] = mapped_column(ForeignKey("knowledge_entries.id"))
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    # Dispatch and handling (see dispatch.handling.steps).
    category: Mapped[str] = mapped_column(String(64), default="", server_default="")
    complex_case: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    identity_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    complained_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    satisfaction: Mapped[str] = mapped_column(String(24), default="", server_default="")
    satisfaction_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reopen_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    history: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.created_at"
    )


class CaseEvent(Base):
    """One entry of a case's history: who did what, when, from which status to which."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(24), default="")
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="history")


class CaseNumberCounter(Base):
    """The last sequence number handed out for one prefix (e.g. ``TS20261121``)."""

    __tablename__ = "case_number_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Attachment(Base):
    """Evidence (证据材料) kept in the attachment store under a random name."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    reply_id: Mapped[str | None] = mapped_column(ForeignKey("unit_replies.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="attachments")


class KnowledgeEntry(Base):
    """An answer operators can give on the spot (即办)."""

    __tablename__ = "knowledge_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    question: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(300), default="")
    owner_unit: Mapped[str] = mapped_column(String(128), default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CallbackAttempt(Base):
    """One try at calling back an abandoned or missed caller, with its outcome."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))


class CallDismissal(Base):
    """A call an operator judged needs no case (silent, wrong number…), with the reason."""

    __tablename__ = "call_dismissals"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
