"""One final transcript per call from its live streams (asr.live_finish), on SQLite and
PostgreSQL: assembled when every stream is done and the recording stored, released to the batch
workers when a stream broke, never stored twice."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.job_policy import RetryPolicy
from asr.live_finish import Finish, enqueue_live_aware, try_finish
from asr.live_models import LiveStream, LiveUtterance, StreamStatus
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from core.db import transaction
from dispatch.cases.recording_links import link_recording
from ivr import call_store
from ivr.call_state import CallState
from ivr.models import Call
from recordings import ingest, store
from tests.builders import T0, tone_wav

GRACE = 30.0
MODEL = "vosk-model-small-ko-0.22"
HANG_UP = T0 + dt.timedelta(seconds=20)


def add_call(sessions: sessionmaker[Session], uid: str, answered: bool = True) -> None:
    state = CallState(
        uid,
        caller_number="13800138000",
        started_at=T0,
        notice_finished_at=T0,
        recording_started_at=T0,
        answered_at=T0 + dt.timedelta(seconds=2) if answered else None,
        message_started_at=None if answered else T0,
        ended_at=HANG_UP,
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)


def add_stream(
    sessions: sessionmaker[Session],
    uid: str,
    speaker: str,
    status: StreamStatus,
    said: list[tuple[float, float, str]] = (),  # type: ignore[assignment]
) -> str:
    stream_id = str(uuid.uuid4())
    with transaction(sessions) as session:
        session.add(
            LiveStream(
                id=stream_id,
                call_uniqueid=uid,
                speaker=speaker,
                spied_channel=f"PJSIP/{speaker}-0001",
                recogniser="127.0.0.1:9092",
                offset_seconds=0.0,
                status=status,
                model=f"vosk:{MODEL}",
                requested_at=T0,
            )
        )
        session.flush()
        for start, end, text in said:
            session.add(
                LiveUtterance(
                    stream_id=stream_id,
                    call_uniqueid=uid,
                    speaker=speaker,
                    final=True,
                    start=start,
                    end=end,
                    text=text,
                    words=[{"text": text, "start": start, "end": end, "confidence": 0.9}],
                    at=T0,
                )
            )
        session.add(
            LiveUtterance(
                stream_id=stream_id,
                call_uniqueid=uid,
                speaker=speaker,
                final=False,
                start=19.0,
                end=19.0,
                text="부분",
                words=[],
                at=T0,
            )
        )
    return stream_id


def store_recording(sessions: sessionmaker[Session], data_dir: Path, uid: str) -> str:
    """The ivr's ingest at hang-up, with the live-aware job hook."""
    spool = tone_wav(data_dir / "spool" / f"{uid}.wav", seconds=20)
    on_stored = functools.partial(enqueue_live_aware, grace_seconds=GRACE)
    with transaction(sessions) as session:
        call = session.scalar(select(Call).where(Call.asterisk_uniqueid == uid))
        assert call is not None
        stored = store.ingest(spool, data_dir / "recordings", T0, interleaved=False)
        ingest.attach(session, call, stored, HANG_UP, link_case=link_recording, on_stored=on_stored)
        return stored.id


def job(sessions: sessionmaker[Session], recording_id: str) -> TranscriptionJob:
    with sessions() as session:
        found = session.scalar(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
        )
        assert found is not None
        session.expunge(found)
        return found


def transcripts(sessions: sessionmaker[Session]) -> list[TranscriptRecord]:
    with sessions() as session:
        found = list(session.scalars(select(TranscriptRecord)))
        session.expunge_all()
        return found


def finish(sessions: sessionmaker[Session], uid: str, now: dt.datetime) -> Finish:
    with transaction(sessions) as session:
        return try_finish(session, uid, now)


def set_status(sessions: sessionmaker[Session], stream_id: str, status: StreamStatus) -> None:
    with transaction(sessions) as session:
        stream = session.get(LiveStream, stream_id)
        assert stream is not None
        stream.status = status


def test_streams_done_then_recording_stored_gives_the_transcript(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "1.1")
    add_stream(
        sessions,
        "1.1",
        "caller",
        StreamStatus.DONE,
        [(1.0, 2.5, "안녕하세요"), (6.0, 8.0, "서울에 살고 있습니다")],
    )
    add_stream(sessions, "1.1", "operator", StreamStatus.DONE, [(3.0, 4.0, "네 말씀하세요")])
    recording_id = store_recording(sessions, tmp_path, "1.1")

    closed = job(sessions, recording_id)
    assert closed.status == JobStatus.DONE
    [record] = transcripts(sessions)
    assert closed.transcript_id == record.id
    assert (record.engine, record.model, record.status) == ("vosk", MODEL, "ok")
    assert record.channels == ["caller", "operator"]
    assert [(s["channel"], s["start"], s["text"]) for s in record.segments] == [
        ("caller", 1.0, "안녕하세요"),
        ("operator", 3.0, "네 말씀하세요"),
        ("caller", 6.0, "서울에 살고 있습니다"),
    ]
    assert record.segments[0]["words"] == [
        {"text": "안녕하세요", "start": 1.0, "end": 2.5, "confidence": 0.9}
    ]
    assert record.text == "안녕하세요 네 말씀하세요 서울에 살고 있습니다"
    assert record.audio_seconds == 20.0
    with sessions() as session:  # the partials are gone, the finals stay
        assert (
            session.scalar(
                select(func.count())
                .select_from(LiveUtterance)
                .where(LiveUtterance.final.is_(False))
            )
            == 0
        )
        assert session.scalar(select(func.count()).select_from(LiveUtterance)) == 3


def test_recording_stored_first_waits_with_grace_then_last_stream_finishes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "2.1", answered=False)
    stream_id = add_stream(sessions, "2.1", "caller", StreamStatus.LIVE, [(0.5, 2.0, "여보세요")])
    recording_id = store_recording(sessions, tmp_path, "2.1")

    waiting = job(sessions, recording_id)
    assert waiting.status == JobStatus.QUEUED
    assert waiting.available_at == HANG_UP + dt.timedelta(seconds=GRACE)
    assert transcripts(sessions) == []
    policy = RetryPolicy(3, dt.timedelta(seconds=5))
    soon = HANG_UP + dt.timedelta(seconds=1)
    assert jobs.claim(sessions, "batch-1", MODEL, soon, dt.timedelta(minutes=1), policy) is None

    set_status(sessions, stream_id, StreamStatus.DONE)
    assert finish(sessions, "2.1", soon) is Finish.FINISHED
    [record] = transcripts(sessions)
    assert record.channels == ["caller"]
    assert record.text == "여보세요"
    assert job(sessions, recording_id).status == JobStatus.DONE
    assert finish(sessions, "2.1", soon) is Finish.TAKEN
    assert len(transcripts(sessions)) == 1


def test_a_broken_stream_hands_the_job_to_the_batch_workers_now(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "3.1")
    add_stream(sessions, "3.1", "caller", StreamStatus.DONE, [(1.0, 2.0, "안녕하세요")])
    operator = add_stream(sessions, "3.1", "operator", StreamStatus.LIVE)
    recording_id = store_recording(sessions, tmp_path, "3.1")
    assert job(sessions, recording_id).available_at > HANG_UP

    set_status(sessions, operator, StreamStatus.BROKEN)
    later = HANG_UP + dt.timedelta(seconds=2)
    assert finish(sessions, "3.1", later) is Finish.RELEASED
    released = job(sessions, recording_id)
    assert (released.status, released.available_at) == (JobStatus.QUEUED, later)
    assert transcripts(sessions) == []
    policy = RetryPolicy(3, dt.timedelta(seconds=5))
    claimed = jobs.claim(sessions, "batch-1", MODEL, later, dt.timedelta(minutes=1), policy)
    assert claimed is not None and claimed.recording_id == recording_id


def test_a_call_broken_before_its_recording_is_stored_is_not_held(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "4.1", answered=False)
    add_stream(sessions, "4.1", "caller", StreamStatus.BROKEN)
    recording_id = store_recording(sessions, tmp_path, "4.1")
    assert job(sessions, recording_id).available_at == HANG_UP


def test_finishing_from_two_sessions_stores_one_transcript(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "5.1", answered=False)
    stream_id = add_stream(sessions, "5.1", "caller", StreamStatus.LIVE, [(1.0, 2.0, "하나")])
    store_recording(sessions, tmp_path, "5.1")
    set_status(sessions, stream_id, StreamStatus.DONE)
    now = HANG_UP + dt.timedelta(seconds=1)
    late = sessions()
    try:
        # The second finisher read the job and the streams before the first one finished:
        # its session still holds them as queued and live-done (a stale view).
        with late.begin():
            stale = late.scalar(select(TranscriptionJob))
            assert stale is not None and stale.status == JobStatus.QUEUED
            assert late.get(LiveStream, stream_id) is not None
        assert finish(sessions, "5.1", now) is Finish.FINISHED
        with late.begin():
            if late.get_bind().dialect.name == "sqlite":
                late.execute(text("BEGIN IMMEDIATE"))
            assert stale.status == JobStatus.QUEUED  # still the stale view
            assert try_finish(late, "5.1", now) is Finish.TAKEN
    finally:
        late.close()
    assert len(transcripts(sessions)) == 1


def test_a_call_without_streams_is_left_to_the_batch_workers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, "6.1")
    recording_id = store_recording(sessions, tmp_path, "6.1")
    assert job(sessions, recording_id).available_at == HANG_UP
    assert finish(sessions, "6.1", HANG_UP) is Finish.NO_STREAMS
