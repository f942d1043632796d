"""Transcription workers anywhere (Issue 18): a worker whose data folder is empty, sharing only
the database and the bucket (a real SeaweedFS), transcribes a recording that is only in the
bucket; other bytes under the recording's key are never transcribed; a store out of reach
makes the job wait, not fail."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.engine import VoskEngine
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from asr.worker import Worker
from core.db import make_engine, make_session_factory
from core.waiting import wait_for
from hotline import migrate
from recordings import lookup
from recordings.models import Recording
from recordings.storage import Storage
from recordings.store import sha256_file
from tests.builders import KOREAN_MODEL, T0, add_recorded_call, stereo_call
from tests.conftest import free_port, new_postgres_database
from tests.integration.test_asr_worker import speech, start_worker, vosk_engine
from tests.integration.test_remote_readers import bucket_only
from tests.object_store_server import ObjectStoreServer

__all__ = ["speech", "vosk_engine"]  # the worker tests' module fixtures, used here


def recorded_in_bucket_only(
    sessions: sessionmaker[Session], node: Path, store: ObjectStoreServer, audio: Path, uid: str
) -> Recording:
    """A node's recorded call whose file then went to the bucket (and left the node)."""
    _call, recording_id = add_recorded_call(sessions, node, uid, audio)
    with sessions() as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
    bucket_only(Storage(node, store.store()), lookup.key_of(recording), recording.sha256)
    return recording


def job_of(sessions: sessionmaker[Session], recording_id: str) -> TranscriptionJob:
    with sessions() as session:
        return session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
        ).one()


def transcripts(sessions: sessionmaker[Session]) -> list[TranscriptRecord]:
    with sessions() as session:
        return list(session.scalars(select(TranscriptRecord)))


def scratch_left(name: str) -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).glob(f"hotline-asr-{name}-*")]


def test_a_worker_on_a_host_without_the_nodes_disks_transcribes_from_the_object_store(
    postgres_server: str, object_store: ObjectStoreServer, tmp_path: Path, speech: Path
) -> None:
    url = new_postgres_database(postgres_server)
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    call = stereo_call(tmp_path / "call.wav", speech, 0.0)
    recording = recorded_in_bucket_only(sessions, tmp_path / "node-a", object_store, call, "r.1")
    elsewhere = tmp_path / "another-host"  # the worker's own data folder: empty
    elsewhere.mkdir()
    settings = object_store.settings(
        data_dir=elsewhere, database_url=url, vosk_model=KOREAN_MODEL, asr_poll_seconds=0.2
    )
    worker = start_worker(settings, "remote-1")
    try:
        wait_for(
            lambda: job_of(sessions, recording.id).status == JobStatus.DONE,
            120,
            "the worker elsewhere to transcribe the recording from the bucket",
            0.2,
        )
        (transcript,) = transcripts(sessions)
        assert transcript.status == "ok" and "니다" in transcript.text
        assert transcript.recording_sha256 == recording.sha256
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        engine.dispose()
    assert not list(elsewhere.rglob("*.wav")), "the worker kept no copy of the recording"
    assert scratch_left("remote-1") == [], "its scratch folder is gone"


def test_other_bytes_are_never_transcribed_and_a_store_out_of_reach_only_defers_the_job(
    object_store: ObjectStoreServer, tmp_path: Path, speech: Path, vosk_engine: VoskEngine
) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    recording = recorded_in_bucket_only(sessions, tmp_path / "node", object_store, speech, "r.2")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def worker(at: dt.datetime, **fields: object) -> Worker:
        settings = object_store.settings(
            data_dir=elsewhere,
            database_url=url,
            vosk_model=KOREAN_MODEL,
            asr_retry_seconds=0,
            asr_max_attempts=2,
            object_store_retry_seconds=30,
            **fields,
        )
        made = Worker(settings, sessions, "w-remote", clock=lambda: at)
        made.engine = vosk_engine
        return made

    try:
        dead = f"http://127.0.2.1:{free_port()}"
        assert worker(T0, object_store_url=dead).run_once()
        job = job_of(sessions, recording.id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0), "waiting, not an attempt"
        assert (job.last_error or "").startswith("object store unavailable")
        assert job.available_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(seconds=30)
        assert not worker(T0 + dt.timedelta(seconds=10)).run_once(), "not before its time"

        store = object_store.store()  # other bytes under the recording's key
        key = lookup.key_of(recording)
        original = tmp_path / "original.wav"
        original.write_bytes(b"".join(store.read(key)))
        other = stereo_call(tmp_path / "other.wav", speech, 0.0)
        store.put_file(key, other, sha256_file(other))
        later = T0 + dt.timedelta(seconds=31)
        assert worker(later).run_once()
        job = job_of(sessions, recording.id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 1), "a failed attempt"
        assert "do not match its SHA-256" in (job.last_error or "")
        assert transcripts(sessions) == [], "other bytes are never transcribed"

        store.put_file(key, original, recording.sha256)  # the bytes put right
        assert worker(later).run_once()
        assert job_of(sessions, recording.id).status == JobStatus.DONE
        (transcript,) = transcripts(sessions)
        assert transcript.recording_sha256 == recording.sha256 and transcript.status == "ok"
        assert not list(elsewhere.rglob("*.wav")) and scratch_left("w-remote") == []
    finally:
        engine.dispose()
