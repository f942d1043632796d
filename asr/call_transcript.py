"""A call's transcript and the state of its job, for the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from asr import jobs
from asr.models import TranscriptionJob, TranscriptRecord
from ivr import call_store
from recordings import lookup
from recordings.models import Recording


@dataclass(frozen=True)
class CallTranscriptView:
    call_id: str
    recording_id: str | None
    job: TranscriptionJob | None
    transcript: TranscriptRecord | None


def for_call(session: Session, call_id: str) -> CallTranscriptView | None:
    """None when there is no such call; otherwise whatever exists so far."""
    call = call_store.get_call(session, call_id)
    if call is None:
        return None
    recording = lookup.of_call(session, call.id)
    if recording is None:
        return CallTranscriptView(call.id, None, None, None)
    return CallTranscriptView(
        call.id,
        recording.id,
        jobs.job_of(session, recording),
        jobs.transcript_of(session, recording),
    )


@dataclass(frozen=True)
class TranscriptSummary:
    state: str  # a transcript status (ok, silent, …) or a job status (queued, running, parked)
    text: str


def summaries(session: Session, recordings: list[Recording]) -> dict[str, TranscriptSummary]:
    """For a page of calls: each recording's clean text, or where its job stands."""
    shas = {r.sha256 for r in recordings}
    records: dict[str, TranscriptRecord] = {}
    for record in session.scalars(
        select(TranscriptRecord)
        .where(TranscriptRecord.recording_sha256.in_(shas))
        .order_by(TranscriptRecord.created_at)
    ):
        records[record.recording_sha256] = record  # the newest wins
    waiting = {
        job.recording_id: job
        for job in session.scalars(
            select(TranscriptionJob)
            .where(TranscriptionJob.recording_id.in_([r.id for r in recordings]))
            .order_by(TranscriptionJob.id)
        )
    }
    found: dict[str, TranscriptSummary] = {}
    for recording in recordings:
        latest = records.get(recording.sha256)
        job = waiting.get(recording.id)
        if latest is not None:
            found[recording.id] = TranscriptSummary(latest.status, latest.clean_text)
        elif job is not None:
            found[recording.id] = TranscriptSummary(job.status, job.last_error or "")
    return found
