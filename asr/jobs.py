"""The transcription queue in the database. Functions take a Session; the caller owns the
transaction, except :func:`claim`, which must open its own (it locks)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from asr.job_policy import RetryPolicy
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from core.db import transaction
from recordings.models import Recording


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    recording_id: str
    recording_sha256: str
    model: str
    attempts: int


def enqueue(session: Session, recording: Recording, now: dt.datetime) -> TranscriptionJob:
    """A job for a new recording, bound to whichever model is in use when it runs."""
    job = TranscriptionJob(
        recording_id=recording.id,
        recording_sha256=recording.sha256,
        model=None,
        status=JobStatus.QUEUED,
        attempts=0,
        available_at=now,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def claim(
    factory: sessionmaker[Session],
    worker: str,
    model: str,
    now: dt.datetime,
    lease: dt.timedelta,
    policy: RetryPolicy,
) -> ClaimedJob | None:
    """Atomically take the next runnable job for ``model``, or None.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers never wait on each other. SQLite: a
    write transaction (``BEGIN IMMEDIATE``) holds the database's write lock while it looks.
    A job whose lease expired is runnable again; if its workers already died on it
    ``max_attempts`` times it is parked instead (a poison recording must not kill them all).
    """
    with transaction(factory) as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        runnable = or_(
            and_(TranscriptionJob.status == JobStatus.QUEUED, TranscriptionJob.available_at <= now),
            and_(
                TranscriptionJob.status == JobStatus.RUNNING,
                TranscriptionJob.lease_expires_at < now,
            ),
        )
        query = (
            select(TranscriptionJob)
            .where(runnable, or_(TranscriptionJob.model.is_(None), TranscriptionJob.model == model))
            .order_by(TranscriptionJob.available_at, TranscriptionJob.id)
            .limit(1)
        )
        if not sqlite:
            query = query.with_for_update(skip_locked=True)
        while (job := session.scalar(query)) is not None:
            if job.status == JobStatus.RUNNING and job.attempts >= policy.max_attempts:
                _park(
                    job,
                    f"abandoned: its worker stopped {job.attempts} times while "
                    f"transcribing it (last: {job.lease_owner})",
                    now,
                )
            elif job.model is None and not _bind(session, job, model, now):
                continue
            else:
                job.status = JobStatus.RUNNING
                job.model = model
                job.attempts += 1
                job.lease_owner = worker
                job.lease_expires_at = now + lease
                session.flush()
                return ClaimedJob(
                    job.id, job.recording_id, job.recording_sha256, model, job.attempts
                )
            session.flush()
        return None


def _bind(session: Session, job: TranscriptionJob, model: str, now: dt.datetime) -> bool:
    """Bind an unbound job to ``model``; False when that audio already has a job for it."""
    try:
        with session.begin_nested():
            job.model = model
            session.flush()
    except IntegrityError:
        job.model = None
        job.status = JobStatus.DONE
        job.finished_at = now
        job.last_error = "the same audio already has a job for this model"
        session.flush()
        return False
    return True


def renew(
    session: Session, job_id: int, worker: str, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """Extend the lease; False when the job is no longer this worker's."""
    job = session.get(TranscriptionJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != worker:
        return False
    job.lease_expires_at = now + lease
    return True


def complete(
    session: Session, job_id: int, record: TranscriptRecord, now: dt.datetime
) -> TranscriptRecord:
    """Store the transcript (unless this audio and model already has one) and close the job.
    Safe to run twice: the second run finds the first transcript and keeps it."""
    existing = find_transcript(session, record.recording_sha256, record.model)
    if existing is None:
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
            existing = record
        except IntegrityError:
            existing = find_transcript(session, record.recording_sha256, record.model)
            if existing is None:
                raise
    job = session.get(TranscriptionJob, job_id, with_for_update=True)
    if job is not None and job.status != JobStatus.DONE:
        job.status = JobStatus.DONE
        job.finished_at = now
        _drop_lease(job)
        job.transcript_id = existing.id
    session.flush()
    return existing


def fail(
    session: Session, job_id: int, worker: str, error: str, now: dt.datetime, policy: RetryPolicy
) -> JobStatus | None:
    """Record a failure: back to the queue after a delay, or parked. None if not ours."""
    job = session.get(TranscriptionJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != worker:
        return None
    status, available_at = policy.after_failure(job.attempts, now)
    job.last_error = error[:2000]
    _drop_lease(job)
    if status is JobStatus.PARKED:
        _park(job, f"failed {job.attempts} times; last error: {error}"[:2000], now)
    else:
        job.status = status
        job.available_at = available_at
    session.flush()
    return status


def release(session: Session, job_id: int, worker: str, now: dt.datetime) -> bool:
    """Give a job back untouched (its worker is shutting down): not counted as an attempt."""
    job = session.get(TranscriptionJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != worker:
        return False
    job.status = JobStatus.QUEUED
    job.attempts = max(0, job.attempts - 1)
    job.available_at = now
    _drop_lease(job)
    session.flush()
    return True


def defer(
    session: Session, job_id: int, worker: str, reason: str, now: dt.datetime, until: dt.datetime
) -> bool:
    """Give a job back until ``until`` without counting the attempt: what it needs (the
    object store holding its recording) cannot be reached now, which says nothing about the
    recording. The reason is kept in ``last_error`` for the status. False if not ours."""
    job = session.get(TranscriptionJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != worker:
        return False
    job.status = JobStatus.QUEUED
    job.attempts = max(0, job.attempts - 1)
    job.available_at = max(until, now)
    job.last_error = reason[:2000]
    _drop_lease(job)
    session.flush()
    return True


def _park(job: TranscriptionJob, reason: str, now: dt.datetime) -> None:
    job.status = JobStatus.PARKED
    job.last_error = reason
    job.finished_at = now
    _drop_lease(job)


def _drop_lease(job: TranscriptionJob) -> None:
    job.lease_owner = None
    job.lease_expires_at = None


def retry_parked(session: Session, now: dt.datetime, job_id: int | None = None) -> int:
    """Put parked jobs (or one) back in the queue with a fresh count; how many."""
    query = select(TranscriptionJob).where(TranscriptionJob.status == JobStatus.PARKED)
    if job_id is not None:
        query = query.where(TranscriptionJob.id == job_id)
    jobs = list(session.scalars(query))
    for job in jobs:
        job.status = JobStatus.QUEUED
        job.attempts = 0
        job.available_at = now
        job.finished_at = None
    session.flush()
    return len(jobs)


def find_transcript(session: Session, sha256: str, model: str) -> TranscriptRecord | None:
    return session.scalar(
        select(TranscriptRecord).where(
            TranscriptRecord.recording_sha256 == sha256, TranscriptRecord.model == model
        )
    )


def transcript_of(session: Session, recording: Recording) -> TranscriptRecord | None:
    """The newest transcript of a recording's audio."""
    return session.scalar(
        select(TranscriptRecord)
        .where(TranscriptRecord.recording_sha256 == recording.sha256)
        .order_by(TranscriptRecord.created_at.desc())
        .limit(1)
    )


def job_of(session: Session, recording: Recording) -> TranscriptionJob | None:
    return session.scalar(
        select(TranscriptionJob)
        .where(TranscriptionJob.recording_id == recording.id)
        .order_by(TranscriptionJob.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class QueueSummary:
    counts: dict[str, int]
    oldest_waiting: dt.datetime | None
    parked: list[TranscriptionJob]


def summary(session: Session) -> QueueSummary:
    counts = {status.value: 0 for status in JobStatus}
    for status, count in session.execute(
        select(TranscriptionJob.status, func.count()).group_by(TranscriptionJob.status)
    ):
        counts[status] = count
    oldest = session.scalar(
        select(func.min(TranscriptionJob.created_at)).where(
            TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
        )
    )
    parked = list(
        session.scalars(
            select(TranscriptionJob)
            .where(TranscriptionJob.status == JobStatus.PARKED)
            .order_by(TranscriptionJob.id)
        )
    )
    return QueueSummary(counts, oldest, parked)
