"""Database rows for dispatching and handling a case: units and their handlers, the
dispatch catalogue, routing labels, assignments to units, stage deadlines, extensions,
supervision records, unit replies and feedback to the citizen."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime
from core.ids import new_id


class Unit(Base):
    """A unit cases are sent to: a department, a service window, an office, or the centre
    itself (自办)."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class UnitMember(Base):
    """A unit handler's account belongs to exactly one unit."""

    __tablename__ = "unit_members"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)


class CatalogueEntry(Base):
    """The dispatch catalogue (派单目录): which unit answers for a category."""

    __tablename__ = "dispatch_catalogue"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()


class RoutingLabel(Base):
    """The category an operator or supervisor confirmed for a case, beside what the model
    suggested: training data for the next ``hotline route train``."""

    __tablename__ = "routing_labels"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(64))
    suggested: Mapped[str] = mapped_column(String(64), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    confirmed_by: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Assignment(Base):
    """A case sent to a unit: one 主办 (lead) and any 协办 (assisting) units per dispatch."""

    __tablename__ = "assignments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | assist
    mode: Mapped[str] = mapped_column(String(16))  # self | transfer | assign
    instructions: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    dispatched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    dispatched_by: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    signed_by: Mapped[str] = mapped_column(String(64), default="")
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str] = mapped_column(Text, default="")
    recalled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recall_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    unit: Mapped[Unit] = relationship()


class CaseDeadline(Base):
    """One stage's clock: dispatch, return window, handling, feedback. ``provisional`` when
    the due date crossed a year with no official holiday schedule."""

    __tablename__ = "case_deadlines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    started_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    met_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[Unit | None] = relationship()


class Extension(Base):
    """延期: asked by the unit before the deadline, decided by a supervisor."""

    __tablename__ = "extensions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    old_due_on: Mapped[dt.date] = mapped_column(Date)
    new_due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    notice_text: Mapped[str] = mapped_column(Text, default="")


class SupervisionRecord(Base):
    """督办: a reminder, a yellow card or a red card for one stage deadline. The supervision
    job's own (``issued_by`` empty) come at most once each (the unique index makes the job
    safe to run twice); a supervisor's 催办 names who issued it and why, as often as needed."""

    __tablename__ = "supervision_records"
    __table_args__ = (
        Index(
            "uq_supervision_records_automatic",
            "deadline_id",
            "kind",
            unique=True,
            sqlite_where=text("issued_by = ''"),
            postgresql_where=text("issued_by = ''"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(12))  # reminder | yellow | red
    due_on: Mapped[dt.date] = mapped_column(Date)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class UnitReply(Base):
    """The unit's answer: facts found, finding, measures; reviewed by the centre."""

    __tablename__ = "unit_replies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    facts: Mapped[str] = mapped_column(Text)
    finding: Mapped[str] = mapped_column(String(16))  # true | partly_true | untrue
    measures: Mapped[str] = mapped_column(Text)
    responsible_handling: Mapped[str] = mapped_column(Text, default="")
    review: Mapped[str] = mapped_column(String(12), default="")  # "" | passed | returned
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str] = mapped_column(Text, default="")


class Feedback(Base):
    """What the citizen was told, how and when, and their satisfaction."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))  # phone | in_person | online | auto_call
    note: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[str] = mapped_column(String(24), default="")
