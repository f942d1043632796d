"""One final transcript per call, from its live streams when they all ended well.

A call's recording is stored after hang-up and gets a transcription job like any other
(:func:`enqueue_live_aware`); when the call has live streams that did not break, the job waits
``grace`` seconds before a batch worker may take it. Meanwhile :func:`try_finish` — called when
the recording is stored and whenever a stream of the call ends — builds the transcript from the
streams' final utterances as soon as every stream is ``done`` and the recording is stored, and
closes the job with it. A broken stream hands the job to the batch workers at once. The job is
taken with a conditional update (``queued`` → ``running``), so a worker and the live side never
both transcribe a call, and two callers of :func:`try_finish` never store two transcripts.

The listener stores each stream's recogniser as ``engine:model`` in ``LiveStream.model``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from asr import jobs
from asr.channels import CALLER, OPERATOR
from asr.live_models import LiveStream, LiveUtterance, StreamStatus
from asr.models import JobStatus, TranscriptionJob
from asr.records import to_record
from asr.transcript_data import Segment, Transcript, TranscriptStatus, Word
from core.settings import Resampling
from ivr.models import Call
from recordings import lookup
from recordings.models import Recording

LIVE_OWNER = "live"
LIVE_LEASE = dt.timedelta(minutes=5)


class Finish(StrEnum):
    NO_STREAMS = "no_streams"  # the call was not transcribed live
    WAITING = "waiting"  # a stream is still running, or the recording is not stored yet
    RELEASED = "released"  # a stream broke: the batch workers take the job now
    FINISHED = "finished"  # the live transcript is stored and the job is done
    TAKEN = "taken"  # the job is already running, done or parked elsewhere


def engine_model(stream_model: str | None) -> tuple[str, str]:
    """(engine, model) from a stream's ``engine:model``."""
    engine, _, model = (stream_model or "").partition(":")
    return (engine, model) if model else ("vosk", engine)


def enqueue_live_aware(
    session: Session, recording: Recording, now: dt.datetime, *, grace_seconds: float
) -> TranscriptionJob:
    """:func:`asr.jobs.enqueue`, but a call with live streams that did not break keeps its
    job ``grace_seconds`` from the batch workers, and is finished at once if it can be."""
    job = jobs.enqueue(session, recording, now)
    call = session.get(Call, recording.call_id)
    if call is None:
        return job
    streams = _streams(session, call.asterisk_uniqueid)
    if streams and all(s.status != StreamStatus.BROKEN for s in streams):
        job.available_at = now + dt.timedelta(seconds=grace_seconds)
        session.flush()
        try_finish(session, call.asterisk_uniqueid, now)
    return job


def try_finish(session: Session, call_uniqueid: str, now: dt.datetime) -> Finish:
    """Store the call's live transcript if every stream is done and the recording stored;
    release the job to the batch workers if a stream broke. In the caller's transaction."""
    streams = _streams(session, call_uniqueid)
    if not streams:
        return Finish.NO_STREAMS
    call = session.scalar(select(Call).where(Call.asterisk_uniqueid == call_uniqueid))
    recording = lookup.of_call(session, call.id) if call is not None else None
    if recording is None:
        return Finish.WAITING
    job = jobs.job_of(session, recording)
    if job is None or job.status != JobStatus.QUEUED:
        return Finish.TAKEN
    if any(s.status == StreamStatus.BROKEN for s in streams):
        session.execute(
            update(TranscriptionJob)
            .where(
                TranscriptionJob.id == job.id,
                TranscriptionJob.status == JobStatus.QUEUED,
                TranscriptionJob.available_at > now,
            )
            .values(available_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return Finish.RELEASED
    if any(s.status != StreamStatus.DONE for s in streams):
        return Finish.WAITING
    taken = session.execute(
        update(TranscriptionJob)
        .where(TranscriptionJob.id == job.id, TranscriptionJob.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, lease_owner=LIVE_OWNER, lease_expires_at=now + LIVE_LEASE)
        .execution_options(synchronize_session="fetch")
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return Finish.TAKEN
    finals = list(
        session.scalars(
            select(LiveUtterance)
            .where(LiveUtterance.call_uniqueid == call_uniqueid, LiveUtterance.final.is_(True))
            .order_by(LiveUtterance.start, LiveUtterance.id)
        )
    )
    transcript = assemble(streams, finals, recording.duration_seconds)
    record = to_record(transcript, recording.sha256, Resampling.VOSK, now)
    jobs.complete(session, job.id, record, now)
    session.execute(
        delete(LiveUtterance).where(
            LiveUtterance.call_uniqueid == call_uniqueid, LiveUtterance.final.is_(False)
        )
    )
    session.flush()
    return Finish.FINISHED


def assemble(
    streams: list[LiveStream], finals: list[LiveUtterance], audio_seconds: float
) -> Transcript:
    """The call's transcript from its streams' final utterances, in the batch engines'
    format: channel ``caller``, and ``operator`` when an operator's stream was sent. Pure."""
    engine, model = engine_model(next((s.model for s in streams if s.model), None))
    speakers = {s.speaker for s in streams}
    channels = (CALLER, OPERATOR) if OPERATOR in speakers else (CALLER,)
    segments = tuple(
        Segment(
            channel=u.speaker,
            start=round(u.start, 3),
            end=round(u.end, 3),
            text=u.text,
            words=tuple(
                Word(str(w["text"]), float(w["start"]), float(w["end"]), float(w["confidence"]))
                for w in u.words
            ),
        )
        for u in sorted(finals, key=lambda u: (u.start, u.speaker, u.id))
        if u.text.strip() and u.speaker in channels
    )
    status = TranscriptStatus.OK if segments else TranscriptStatus.SILENT
    return Transcript(
        status=status,
        reason="" if segments else "no speech heard in the live streams",
        engine=engine,
        model=model,
        audio_seconds=audio_seconds,
        decode_seconds=0.0,
        channels=channels,
        segments=segments,
    )


def _streams(session: Session, call_uniqueid: str) -> list[LiveStream]:
    return list(
        session.scalars(
            select(LiveStream)
            .where(LiveStream.call_uniqueid == call_uniqueid)
            .order_by(LiveStream.requested_at, LiveStream.id)
        )
    )
