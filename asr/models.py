"""Database rows for transcription jobs and the transcripts they produce."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from core.ids import new_id


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARKED = "parked"


class TranscriptionJob(Base):
    """One recording to transcribe. ``model`` is empty until a worker binds the job to the
    model it runs; (recording hash, model) is unique, so a job never yields two transcripts."""

    __tablename__ = "transcription_jobs"
    __table_args__ = (UniqueConstraint("recording_sha256", "model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), index=True)
    recording_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    transcript_id: Mapped[str | None] = mapped_column(ForeignKey("transcripts.id"))


class TranscriptRecord(Base):
    """A transcript of one recording's audio (by hash) with one model."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("recording_sha256", "model"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    recording_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    resampling: Mapped[str] = mapped_column(String(8))
    audio_seconds: Mapped[float] = mapped_column(Float)
    decode_seconds: Mapped[float] = mapped_column(Float)
    channels: Mapped[list[str]] = mapped_column(JSON)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    clean_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
