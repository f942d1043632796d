"""Response schemas of the JSON API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class RecordingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sha256: str
    size_bytes: int
    duration_seconds: float
    sample_rate: int
    channels: int
    status: str


class CallPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    asterisk_uniqueid: str
    caller_number: str
    caller_name: str
    dialled_number: str
    started_at: dt.datetime
    notice_finished_at: dt.datetime | None
    recording_started_at: dt.datetime | None
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    message_started_at: dt.datetime | None
    ended_at: dt.datetime | None
    outcome: str | None
    operator: str | None
    hangup_cause: int | None
    failure_reason: str | None
    recording_problem: str | None
    recording: RecordingPublic | None

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
