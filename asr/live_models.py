"""Database rows of live transcription: the streams Asterisk was asked to send, and the
utterances their recognisers heard.

A :class:`LiveStream` is written (``requested``) by the ivr service before it asks Asterisk
for the stream; its id is the AudioSocket id, so the listener accepts only streams it finds
here. The listener marks it ``live`` when Asterisk connects and ``done`` (every utterance
stored) or ``broken`` (the recogniser or the connection failed) when it ends. Times in
utterances are seconds from the start of the call's recording, as in a transcript.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class StreamStatus(StrEnum):
    REQUESTED = "requested"
    LIVE = "live"
    DONE = "done"
    BROKEN = "broken"


class LiveStream(Base):
    """One speaker's audio of one call, streamed to a recogniser."""

    __tablename__ = "live_streams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the AudioSocket UUID
    call_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    speaker: Mapped[str] = mapped_column(String(16))  # asr.channels.CALLER / OPERATOR
    spied_channel: Mapped[str] = mapped_column(String(128))
    recogniser: Mapped[str] = mapped_column(String(128))  # host:port it was sent to
    offset_seconds: Mapped[float] = mapped_column(Float)  # stream start - recording start
    status: Mapped[str] = mapped_column(String(16), default=StreamStatus.REQUESTED, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LiveUtterance(Base):
    """What one speaker said between two pauses (``final``), or the engine's running guess
    at what they are saying (a partial, replaced by the next row of the stream)."""

    __tablename__ = "live_utterances"
    # Ids are never reused (SQLite would hand a deleted partial's id to the next row, and
    # readers follow the rows "after an id").
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream_id: Mapped[str] = mapped_column(ForeignKey("live_streams.id"), index=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    speaker: Mapped[str] = mapped_column(String(16))
    final: Mapped[bool] = mapped_column(Boolean)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
