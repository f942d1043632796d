"""Benchmark: transcription speed with 1 and 2 worker processes, and memory per worker.

Queues the same set of two-speaker recordings (Korean speech from espeak-ng, for the Korean
stand-in model unless --model says otherwise) in a private SQLite database, runs the real
worker pool (`hotline serve asr`) and prints, for each pool size: real-time factor per worker,
throughput in audio hours per wall-clock hour, and each worker's peak resident memory.

    .venv/bin/python -m bench.asr_throughput [--calls 8] [--seconds 60] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.waiting import wait_for
from hotline import migrate, processes
from tests.builders import KOREAN_MODEL, add_recorded_call, korean_speech, stereo_call


def make_calls(work: Path, count: int, seconds: float) -> list[Path]:
    """``count`` distinct two-speaker recordings of about ``seconds`` each."""
    speech = korean_speech(work / "speech.wav", repeat=max(1, round(seconds / 4.5)))
    calls = []
    for index in range(count):
        path = stereo_call(work / f"call{index}.wav", speech, 0.5 + 0.01 * index)
        calls.append(path)
    return calls


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(workers: int, calls: list[Path], model: Path, work: Path) -> None:
    data = work / f"data-{workers}"
    url = f"sqlite:///{data / 'hotline.db'}"
    data.mkdir()
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    for index, call in enumerate(calls):
        add_recorded_call(sessions, data, f"{workers}.{index}", call, answered_after=0.0)
    settings = Settings(data_dir=data, database_url=url, vosk_model=model, asr_workers=workers)
    env = {**os.environ, **settings.to_env()}
    pool = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve", "asr"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def count(status: JobStatus) -> int:
        with sessions() as session:
            return int(
                session.scalar(select(func.count()).where(TranscriptionJob.status == status)) or 0
            )

    try:
        wait_for(lambda: count(JobStatus.RUNNING) > 0, 120, "the first job to start", 0.02)
        first_claim = time.monotonic()
        memory: dict[str, float] = {}

        def finished() -> bool:
            for state in processes.asr_workers(settings):
                memory[str(state["name"])] = peak_memory_mb(int(str(state["pid"])))
            return count(JobStatus.DONE) == len(calls)

        wait_for(finished, 3600, "every job to finish", 0.1)
        wall = time.monotonic() - first_claim
    finally:
        pool.terminate()
        pool.wait(timeout=60)
    with sessions() as session:
        records = list(session.scalars(select(TranscriptRecord)))
    engine.dispose()
    audio = sum(r.audio_seconds for r in records)
    decode = sum(r.decode_seconds for r in records)
    channel_seconds = sum(r.audio_seconds * len(r.channels) for r in records)
    print(
        f"{workers} worker(s): {len(records)} calls, {audio / 60:.1f} min of calls "
        f"({channel_seconds / 60:.1f} min of speech channels) in {wall:.1f} s"
    )
    print(
        f"  real-time factor per worker: {decode / audio:.3f} per call-second, "
        f"{decode / channel_seconds:.3f} per channel-second"
    )
    print(
        f"  throughput: {audio / wall:.2f} audio hours per hour of calls "
        f"({channel_seconds / wall:.2f} per hour of channels)"
    )
    print(
        "  peak memory: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(memory.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", type=Path, default=KOREAN_MODEL)
    args = parser.parse_args()
    print(f"model {args.model}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="hotline-asr-bench-") as tmp:
        work = Path(tmp)
        calls = make_calls(work, args.calls, args.seconds)
        for workers in args.workers:
            run(workers, calls, args.model, work)


if __name__ == "__main__":
    main()
