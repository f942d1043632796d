"""Database rows of the chain of custody: the access log, integrity checks, legal holds,
replay reasons and grants, and case archives."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class RecordingAccess(Base):
    """The access log: every play, download or export of a recording, and every refused
    attempt, one row each. Append-only and hash-chained like the manifest (``id`` order)."""

    __tablename__ = "recording_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str | None] = mapped_column(String(32), index=True)
    case_id: Mapped[str | None] = mapped_column(String(32), index=True)
    accessed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="", server_default="")
    client: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16), default="allowed", server_default="allowed")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    byte_range: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    entry_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


class IntegrityCheck(Base):
    """One run of ``verify``: what it found and the manifest head it saw (an anchor: a
    later run notices the chain was cut or rewritten behind it)."""

    __tablename__ = "integrity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    files_checked: Mapped[int] = mapped_column(Integer)
    problems: Mapped[str] = mapped_column(Text, default="")  # JSON list
    head_seq: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    chains_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    access_head_id: Mapped[int] = mapped_column(Integer, default=0)
    access_head_hash: Mapped[str] = mapped_column(String(64), default="")


class LegalHold(Base):
    """A supervisor's hold (法律保全) on a case's recordings: purge skips them until released."""

    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str] = mapped_column(Text, default="")


class ReplayReason(Base):
    """调听事由: why someone listens to a case's recordings, given before the first play."""

    __tablename__ = "replay_reasons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RecordingGrant(Base):
    """A supervisor lets one unit hear one case's recordings, for a while."""

    __tablename__ = "recording_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CaseArchive(Base):
    """The 立卷归档 bundle of a closed case: one zip in the archive store."""

    __tablename__ = "case_archives"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
