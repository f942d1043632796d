"""``hotline serve asr-live`` as a real process: SIGKILLed while a stream is live, the call's
job waits its grace; the restarted listener breaks the stream and hands the job to the batch
workers at once. ``hotline status`` names the part, its engine, model, address and streams."""

from __future__ import annotations

import datetime as dt
import functools
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.audiosocket import Kind, encode
from asr.job_policy import RetryPolicy
from asr.live_finish import enqueue_live_aware
from asr.live_models import LiveStream, StreamStatus
from asr.models import JobStatus, TranscriptionJob
from core import pids
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from core.waiting import wait_for
from dispatch.cases.recording_links import link_recording
from hotline import migrate, processes
from ivr import call_store
from ivr.call_state import CallState
from ivr.models import Call
from recordings import ingest, store
from tests.builders import KOREAN_MODEL, tone_wav
from tests.conftest import free_port

GRACE = 60.0


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate.upgrade(url)
    (tmp_path / "log").mkdir()
    (tmp_path / "run").mkdir()
    configured = Settings(
        data_dir=tmp_path,
        database_url=url,
        vosk_model=KOREAN_MODEL,
        asr_live_port=free_port(),
        asr_live_stall_seconds=0.5,
        asr_live_grace_seconds=GRACE,
    )
    try:
        yield configured
    finally:
        processes.stop_service(configured, "asr-live")


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def listening(settings: Settings) -> processes.PartStatus | None:
    part = processes.live_status(settings)
    return part if part.running and "streams in use" in part.detail else None


def start(settings: Settings) -> int:
    pid = processes.start_service(settings, "asr-live")
    wait_for(lambda: listening(settings), 60, "the live listener to listen", 0.05)
    return pid


def stream_row(sessions: sessionmaker[Session], stream_id: str) -> LiveStream:
    with sessions() as session:
        found = session.get(LiveStream, stream_id)
        assert found is not None
        session.expunge(found)
        return found


def the_job(sessions: sessionmaker[Session]) -> TranscriptionJob:
    with sessions() as session:
        found: TranscriptionJob | None = session.scalar(select(TranscriptionJob))
        assert found is not None
        session.expunge(found)
        return found


def test_a_killed_listener_leaves_the_call_to_the_batch_workers(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    pid = start(settings)
    address = f"{settings.asr_live_host}:{settings.asr_live_port}"
    status = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "status"],
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    [line] = [x for x in status.stdout.splitlines() if x.startswith("asr-live")]
    assert " up " in line and f"vosk {KOREAN_MODEL.parent.name} on {address}" in line, line
    # Two streams (caller and operator) for each call the listener may take.
    most = 2 * settings.asr_live_capacity
    assert f"0 of {most} streams in use" in line, line

    now = dt.datetime.now(dt.UTC)
    stream_id = str(uuid.uuid4())
    with transaction(sessions) as session:
        call_store.save_state(
            session,
            CallState(
                "900.1",
                caller_number="13800138000",
                started_at=now,
                notice_finished_at=now,
                recording_started_at=now,
            ),
        )
        session.add(
            LiveStream(
                id=stream_id,
                call_uniqueid="900.1",
                speaker="caller",
                spied_channel="PJSIP/caller-00000001",
                recogniser=address,
                offset_seconds=0.0,
                status=StreamStatus.REQUESTED,
                requested_at=now,
            )
        )
    sock = socket.create_connection((settings.asr_live_host, settings.asr_live_port), timeout=10)
    sock.sendall(encode(Kind.ID, uuid.UUID(stream_id).bytes))
    sock.sendall(encode(Kind.SLIN16, b"\0" * 640) * 10)
    wait_for(lambda: stream_row(sessions, stream_id).status == StreamStatus.LIVE, 10, "live")
    wait_for(
        lambda: f"1 of {most}" in processes.live_status(settings).detail, 10, "1 stream in use"
    )

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pids.alive(pid), 10, "the listener to die")
    sock.close()

    # Hang-up: the ivr stores the recording; the stream still reads live, so the job waits.
    hung_up = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        call = session.scalar(select(Call).where(Call.asterisk_uniqueid == "900.1"))
        assert call is not None
        call.ended_at = hung_up
        spool = tone_wav(tmp_path / "spool" / "900.1.wav", seconds=3)
        stored = store.ingest(spool, tmp_path / "recordings", now, interleaved=False)
        ingest.attach(
            session,
            call,
            stored,
            hung_up,
            link_case=link_recording,
            on_stored=functools.partial(enqueue_live_aware, grace_seconds=GRACE),
        )
    assert the_job(sessions).available_at == hung_up + dt.timedelta(seconds=GRACE)
    policy = RetryPolicy(3, dt.timedelta(seconds=5))
    lease = dt.timedelta(minutes=1)
    assert jobs.claim(sessions, "batch-1", "m", dt.datetime.now(dt.UTC), lease, policy) is None

    restarted = start(settings)
    assert restarted != pid
    broken = stream_row(sessions, stream_id)
    assert (broken.status, broken.reason) == (StreamStatus.BROKEN, "recogniser restarted")
    released = the_job(sessions)
    assert released.status == JobStatus.QUEUED
    assert released.available_at < hung_up + dt.timedelta(seconds=GRACE)
    claimed = jobs.claim(sessions, "batch-1", "m", dt.datetime.now(dt.UTC), lease, policy)
    assert claimed is not None and claimed.recording_id == stored.id


def test_without_a_model_the_listener_says_why_and_does_not_listen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate.upgrade(url)
    for folder in ("log", "run"):
        (tmp_path / folder).mkdir()
    settings = Settings(data_dir=tmp_path, database_url=url, asr_live_port=free_port())
    try:
        processes.start_service(settings, "asr-live")

        def reported() -> processes.PartStatus | None:
            part = processes.live_status(settings)
            return part if part.running and "not listening" in part.detail else None

        part = wait_for(reported, 60, "the listener to say it does not listen", 0.05)
        assert "no model installed" in part.detail
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((settings.asr_live_host, settings.asr_live_port), timeout=5)
    finally:
        processes.stop_service(settings, "asr-live")
    assert processes.live_status(settings).detail == "stopped"
