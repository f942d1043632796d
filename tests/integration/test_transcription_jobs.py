"""The transcription queue on SQLite and a real PostgreSQL: claims, leases, retries, parking."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.job_policy import RetryPolicy
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from asr.records import to_record
from asr.transcript_data import Segment, Transcript, TranscriptStatus, Word
from core.db import make_engine, make_session_factory, transaction
from core.settings import Resampling
from recordings.models import Recording
from tests.builders import T0, add_recorded_call

LEASE = dt.timedelta(seconds=60)
POLICY = RetryPolicy(max_attempts=3, first_delay=dt.timedelta(seconds=30))


def only_job(sessions: sessionmaker[Session]) -> TranscriptionJob:
    with sessions() as session:
        return session.scalars(select(TranscriptionJob)).one()


def a_transcript(sha256: str, model: str = "m1") -> TranscriptRecord:
    word = Word("二零二六年", 0.5, 1.2, 0.9)
    result = Transcript(
        TranscriptStatus.OK,
        "",
        "vosk",
        model,
        3.0,
        0.6,
        ("caller",),
        (Segment("caller", 0.5, 1.2, "二零二六年", (word,)),),
    )
    return to_record(result, sha256, Resampling.VOSK, T0)


def test_a_new_recording_gets_its_job_in_the_same_transaction(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _call_id, recording_id = add_recorded_call(sessions, tmp_path, "1.1")
    job = only_job(sessions)
    assert job.recording_id == recording_id and job.status == JobStatus.QUEUED
    assert job.model is None, "bound to whichever model runs it"
    with sessions() as session:
        assert job.recording_sha256 == session.get(Recording, recording_id).sha256  # type: ignore[union-attr]


def test_a_failing_enqueue_leaves_no_recording_row(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(jobs, "enqueue", broken)
    with pytest.raises(RuntimeError):
        add_recorded_call(sessions, tmp_path, "1.2")
    with sessions() as session:
        assert session.query(Recording).count() == 0
        assert session.query(TranscriptionJob).count() == 0


def test_claim_binds_the_model_and_a_claimed_job_is_not_claimed_again(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "2.1")
    first = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert first is not None and first.model == "m1" and first.attempts == 1
    assert jobs.claim(sessions, "w2", "m1", T0, LEASE, POLICY) is None
    job = only_job(sessions)
    assert (job.status, job.lease_owner, job.model) == (JobStatus.RUNNING, "w1", "m1")
    assert job.lease_expires_at == T0 + LEASE


def test_an_expired_lease_lets_another_worker_take_the_job(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "3.1")
    first = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert first is not None
    with transaction(sessions) as session:
        assert jobs.renew(session, first.id, "w1", T0 + dt.timedelta(seconds=50), LEASE)
    assert (
        jobs.claim(sessions, "w2", "m1", T0 + dt.timedelta(seconds=100), LEASE, POLICY) is None
    ), "renewed: still w1's"
    later = T0 + dt.timedelta(seconds=111)
    second = jobs.claim(sessions, "w2", "m1", later, LEASE, POLICY)
    assert second is not None and second.id == first.id and second.attempts == 2
    with transaction(sessions) as session:
        assert not jobs.renew(session, first.id, "w1", later, LEASE), "w1 lost it"
        assert jobs.fail(session, first.id, "w1", "late", later, POLICY) is None


def test_running_twice_never_makes_two_transcripts(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "4.1")
    first = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert first is not None
    second = jobs.claim(sessions, "w2", "m1", T0 + 2 * LEASE, LEASE, POLICY)
    assert second is not None and second.id == first.id
    with transaction(sessions) as session:
        kept = jobs.complete(session, second.id, a_transcript(second.recording_sha256), T0)
    with transaction(sessions) as session:
        again = jobs.complete(session, first.id, a_transcript(first.recording_sha256), T0)
    assert again.id == kept.id
    with sessions() as session:
        stored = session.scalars(select(TranscriptRecord)).one()
        assert stored.clean_text == "2026年", "the clean text is kept beside the raw text"
        assert stored.text == "二零二六年"
        assert stored.segments[0]["words"][0]["confidence"] == pytest.approx(0.9)
    job = only_job(sessions)
    assert job.status == JobStatus.DONE and job.transcript_id == kept.id


def test_failures_back_off_then_park_and_retry_brings_the_job_back(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "5.1")
    now = T0
    for attempt in (1, 2):
        claimed = jobs.claim(sessions, "w1", "m1", now, LEASE, POLICY)
        assert claimed is not None and claimed.attempts == attempt
        with transaction(sessions) as session:
            assert (
                jobs.fail(session, claimed.id, "w1", "disk error", now, POLICY) == JobStatus.QUEUED
            )
        wait = POLICY.delay(attempt)
        assert jobs.claim(sessions, "w1", "m1", now + wait / 2, LEASE, POLICY) is None
        now += wait
    claimed = jobs.claim(sessions, "w1", "m1", now, LEASE, POLICY)
    assert claimed is not None and claimed.attempts == 3
    with transaction(sessions) as session:
        assert jobs.fail(session, claimed.id, "w1", "disk error", now, POLICY) == JobStatus.PARKED
    job = only_job(sessions)
    assert job.status == JobStatus.PARKED and "disk error" in (job.last_error or "")
    assert jobs.claim(sessions, "w1", "m1", now + dt.timedelta(days=1), LEASE, POLICY) is None
    with sessions() as session:
        assert [j.id for j in jobs.summary(session).parked] == [job.id]
    with transaction(sessions) as session:
        assert jobs.retry_parked(session, now) == 1
    again = jobs.claim(sessions, "w1", "m1", now, LEASE, POLICY)
    assert again is not None and again.attempts == 1


def test_a_job_its_workers_keep_dying_on_is_parked(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "6.1")
    now = T0
    for _ in range(POLICY.max_attempts):
        assert jobs.claim(sessions, "w", "m1", now, LEASE, POLICY) is not None
        now += LEASE + dt.timedelta(seconds=1)  # the worker died: its lease runs out
    assert jobs.claim(sessions, "w", "m1", now, LEASE, POLICY) is None
    job = only_job(sessions)
    assert job.status == JobStatus.PARKED and "stopped 3 times" in (job.last_error or "")


def test_a_stopping_worker_gives_its_job_back_without_counting_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "7.1")
    claimed = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert claimed is not None
    with transaction(sessions) as session:
        assert jobs.release(session, claimed.id, "w1", T0)
    again = jobs.claim(sessions, "w2", "m1", T0, LEASE, POLICY)
    assert again is not None and again.attempts == 1


def test_a_job_bound_to_one_model_waits_for_that_model(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "8.1")
    claimed = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert claimed is not None
    with transaction(sessions) as session:
        jobs.fail(session, claimed.id, "w1", "oops", T0, POLICY)
    later = T0 + dt.timedelta(hours=2)
    assert jobs.claim(sessions, "w2", "m2", later, LEASE, POLICY) is None
    assert jobs.claim(sessions, "w2", "m1", later, LEASE, POLICY) is not None


def test_the_same_audio_twice_is_transcribed_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "10.1")
    add_recorded_call(sessions, tmp_path, "10.2")  # byte for byte the same recording
    claimed = jobs.claim(sessions, "w1", "m1", T0, LEASE, POLICY)
    assert claimed is not None
    assert jobs.claim(sessions, "w2", "m1", T0, LEASE, POLICY) is None
    with transaction(sessions) as session:
        jobs.complete(session, claimed.id, a_transcript(claimed.recording_sha256), T0)
        recordings = session.scalars(select(Recording)).all()
        assert len(recordings) == 2
        found = {jobs.transcript_of(session, r).id for r in recordings}  # type: ignore[union-attr]
    assert len(found) == 1
    with sessions() as session:
        statuses = sorted(j.status for j in session.scalars(select(TranscriptionJob)))
    assert statuses == [JobStatus.DONE, JobStatus.DONE]


def test_two_workers_racing_for_one_job_one_wins(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_recorded_call(sessions, tmp_path, "9.1")
    engines = [make_engine(db_url) for _ in range(2)]
    factories = [make_session_factory(e) for e in engines]
    start = threading.Barrier(2)
    results: dict[str, jobs.ClaimedJob | None] = {}

    def race(name: str, factory: sessionmaker[Session]) -> None:
        start.wait()
        results[name] = jobs.claim(factory, name, "m1", T0, LEASE, POLICY)

    threads = [threading.Thread(target=race, args=(f"w{i}", f)) for i, f in enumerate(factories)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    winners = [name for name, claimed in results.items() if claimed is not None]
    assert len(results) == 2 and len(winners) == 1
    assert only_job(sessions).lease_owner == winners[0]
