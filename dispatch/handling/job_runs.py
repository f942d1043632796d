"""How often the API process's scheduled jobs ran, and when last: one row per job (the
supervision job, ``SUPERVISION``), kept in the same transaction as the job's own writes, so a
run is counted exactly when its work is committed. Read by ``dispatch.reports.now`` for the
dashboard and ``/metrics`` (``hotline_supervision_runs_total``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

SUPERVISION = "supervision"


class JobRun(Base):
    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_detail: Mapped[str] = mapped_column(Text, default="")


def record(session: Session, name: str, at: dt.datetime, detail: str = "") -> None:
    """Count one run of ``name`` at ``at``; safe when two processes record at once (the
    counter row is updated in place, created by whichever comes first)."""
    values = {"runs": JobRun.runs + 1, "last_at": at, "last_detail": detail}
    updated = session.execute(update(JobRun).where(JobRun.name == name).values(values))
    if cast(CursorResult[Any], updated).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(JobRun(name=name, runs=1, last_at=at, last_detail=detail))
    except IntegrityError:  # the other process created it meanwhile
        session.execute(update(JobRun).where(JobRun.name == name).values(values))


def of(session: Session, name: str) -> JobRun | None:
    return session.scalar(select(JobRun).where(JobRun.name == name))
