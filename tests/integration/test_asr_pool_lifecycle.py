"""The transcription pool and its workers as real processes: workers die with their pool, and
starting a pool (``hotline up``) or ``hotline down`` stops any worker an earlier pool left."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr import strays
from asr.models import JobStatus, TranscriptionJob
from asr.worker import Worker
from core import pids
from core.db import make_engine, make_session_factory
from core.settings import PROJECT_ROOT, Settings
from core.waiting import wait_for
from hotline import migrate, processes
from tests.builders import KOREAN_MODEL, T0, add_recorded_call, korean_speech, stereo_call


def workers_running(settings: Settings) -> list[int]:
    """Every live ``serve asr-worker`` process of this data folder, whoever started it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if (
            "serve asr-worker" in " ".join(pids.command_line(pid))
            and pids.alive(pid)
            and pids.environment(pid).get("HOTLINE_DATA_DIR") == str(settings.data_dir)
        ):
            found.append(pid)
    return sorted(found)


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
        asr_workers=2,
        asr_lease_seconds=600,
    )
    try:
        yield configured
    finally:
        processes.stop_service(configured, "asr")
        for pid in workers_running(configured):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def two_workers_up(settings: Settings) -> list[int] | None:
    running = workers_running(settings)
    states = processes.asr_workers(settings)
    return running if len(running) == 2 and len(states) == 2 else None


def test_workers_die_with_a_killed_pool_and_give_their_job_back(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    speech = korean_speech(tmp_path / "long.wav", repeat=8)
    add_recorded_call(
        sessions,
        tmp_path,
        "9.1",
        stereo_call(tmp_path / "call.wav", speech, 0.5),
        answered_after=0.0,
    )
    pool = processes.start_service(settings, "asr")
    first = wait_for(lambda: two_workers_up(settings), 60, "the pool's two workers")

    def job() -> TranscriptionJob:
        with sessions() as session:
            return session.scalars(select(TranscriptionJob)).one()

    wait_for(lambda: job().status == JobStatus.RUNNING, 60, "a worker to take the job", 0.05)
    os.kill(pool, signal.SIGKILL)

    wait_for(lambda: not workers_running(settings), 20, "the workers to die with their pool")
    assert job().status == JobStatus.QUEUED, "the busy worker gave its job back"
    assert strays.workers(settings) == {}
    assert "stopped" in {p.name: p.detail for p in processes.status(settings, None)}["asr"]

    processes.start_service(settings, "asr")  # what 'hotline up' does for the pool
    second = wait_for(lambda: two_workers_up(settings), 60, "the new pool's two workers")
    assert not set(first) & set(second)
    wait_for(lambda: job().status == JobStatus.DONE, 180, "the job to be done by the new pool")

    processes.down(settings, None)
    assert workers_running(settings) == []


def start_stray_worker(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    """A worker no pool owns (as a pool killed before this fix left them): its own session,
    so it is in no pool's process group."""
    env = {**os.environ, **settings.to_env()}
    with open(settings.log_dir / f"stray-{name}.log", "ab") as log:
        return subprocess.Popen(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "serve", "asr-worker", name],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def test_up_stops_workers_an_earlier_pool_left_and_status_names_them(
    settings: Settings,
) -> None:
    left = [start_stray_worker(settings, "asr-1"), start_stray_worker(settings, "asr-2")]
    try:
        wait_for(
            lambda: len(strays.workers(settings)) == 2, 60, "the stray workers to write their state"
        )
        (asr,) = [p for p in processes.status(settings, None) if p.name == "asr"]
        assert not asr.running
        assert "2 workers left running without a pool" in asr.detail

        processes.start_service(settings, "asr")
        for stray in left:
            stray.wait(timeout=60)
        running = wait_for(lambda: two_workers_up(settings), 60, "the pool's own two workers")
        assert not {stray.pid for stray in left} & set(running)
    finally:
        for stray in left:
            if stray.poll() is None:
                stray.kill()
                stray.wait()


def test_down_stops_workers_left_without_a_pool(settings: Settings) -> None:
    stray = start_stray_worker(settings, "asr-1")
    try:
        wait_for(lambda: strays.workers(settings), 60, "the stray worker's state")
        processes.down(settings, None)
        assert stray.wait(timeout=30) == 0, "stopped cleanly (SIGTERM)"
        assert workers_running(settings) == []
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


def test_a_worker_told_to_stop_while_claiming_gives_the_job_back(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """SIGTERM (the pool died) can arrive while a worker claims a job, before it counts as busy:
    the job goes back to the queue instead of being done by a worker that is stopping."""
    add_recorded_call(sessions, tmp_path, "9.2", korean_speech(tmp_path / "ko.wav"))
    stop = threading.Event()
    readings = []

    def clock() -> dt.datetime:
        # The first reading dates the worker's state file; the next one is the claim's: the
        # stop arrives then.
        readings.append(T0)
        if len(readings) > 1:
            stop.set()
        return T0

    Worker(settings, sessions, "stopping", clock=clock).run(stop)
    with sessions() as session:
        job = session.scalars(select(TranscriptionJob)).one()
    assert (job.status, job.lease_owner) == (JobStatus.QUEUED, None)
