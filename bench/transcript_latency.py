"""Benchmark: time from hang-up to transcript ready, for 30-second and 5-minute calls.

Runs a private hotline (real Asterisk, ivr, API and the transcription pool with its default
size) with the Korean stand-in model. Two operators' phones answer and speak; callers dial
two at a time with SIPp and speak Korean for the whole call. Prints the median and 95th
percentile of (transcript stored - call ended), from the database's own timestamps.

    .venv/bin/python -m bench.transcript_latency [--short 6] [--long 4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from asr import jobs
from asr.service import pool_size
from bench.calls import free_tcp_port, percentile
from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import Settings
from core.waiting import wait_for
from hotline import processes, provision
from ivr import call_store, prompts
from phones.sipp import OperatorPhone, free_udp_port, place_call
from recordings import lookup
from tests.builders import KOREAN_MODEL, korean_speech


def speech_of_length(work: Path, seconds: float, name: str) -> Path:
    sentence = korean_speech(work / f"{name}-sentence.wav")
    out = work / f"{name}-{seconds:.0f}s.wav"
    subprocess.run(
        [
            "sox",
            str(sentence),
            str(out),
            "pad",
            "0",
            "0.7",
            "repeat",
            str(int(seconds // 2) + 1),
            "trim",
            "0",
            str(seconds),
        ],
        check=True,
    )
    return out


def dial(settings: Settings, audio: Path, caller: str, wait: float, slot: int) -> None:
    """Place one call; returns when it is over."""
    result = place_call(
        audio=audio,
        number=settings.hotline_number,
        sip_host="127.0.0.1",
        sip_port=settings.sip_port,
        caller=caller,
        wait_seconds=wait,
        signal_port=50000 + slot,
        media_port=46000 + 4 * slot,
    )
    if result.sipp_exit != 0:
        raise RuntimeError(f"SIPp failed: {result.output[-300:]}")


def latency(engine: Engine, caller: str, since: dt.datetime) -> float:
    """Seconds from the end of the caller's call to its stored transcript."""
    sessions = make_session_factory(engine)

    def transcribed() -> float | None:
        with sessions() as session:
            call = call_store.latest_call_from(session, caller, since)
            recording = lookup.of_call(session, call.id) if call is not None else None
            if call is None or recording is None or call.ended_at is None:
                return None
            transcript = jobs.transcript_of(session, recording)
            if transcript is None:
                return None
            return (transcript.created_at - call.ended_at).total_seconds()

    return wait_for(transcribed, 3600, f"the transcript of {caller}'s call", 0.1)


def batch(
    settings: Settings, engine: Engine, audio: Path, count: int, wait: float, prefix: str
) -> list[float]:
    """``count`` calls, two at a time (one per operator), back to back; then their
    latencies (from the database's timestamps, so reading them later changes nothing)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    callers = [f"{prefix}{index:04d}" for index in range(count)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for pair in range(0, count, 2):
            two = callers[pair : pair + 2]
            list(
                pool.map(
                    lambda caller, slot: dial(settings, audio, caller, wait, slot),
                    two,
                    range(len(two)),
                )
            )
    return [latency(engine, caller, since) for caller in callers]


def report(label: str, latencies: list[float]) -> None:
    print(
        f"{label}: {len(latencies)} calls; hang-up to transcript median "
        f"{statistics.median(latencies):.1f} s, p95 {percentile(latencies, 0.95):.1f} s, "
        f"max {max(latencies):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", type=int, default=6, help="How many 30-second calls")
    parser.add_argument("--long", type=int, default=4, help="How many 5-minute calls")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="hotline-latency-"))
    settings = Settings(
        data_dir=data,
        sip_port=free_udp_port(),
        ami_port=free_tcp_port(),
        agi_port=free_tcp_port(),
        api_port=free_tcp_port(),
        rtp_port_start=40000,
        rtp_port_end=44999,
        vosk_model=KOREAN_MODEL,
        queue_ring_seconds=10,
    )
    os.environ.update(settings.to_env())
    install = provision.prepare(settings)
    processes.up(settings, install, timeout=90)
    engine = make_engine(settings.effective_database_url)
    wait = prompts.duration_seconds(prompts.prompt_path(settings.sounds_dir, "notice")) + 0.3
    secrets = load_secrets(data)
    work = data / "audio"
    work.mkdir()
    try:
        operator_audio = speech_of_length(work, 300, "operator")
        phones = [
            OperatorPhone(
                name=name,
                password=secrets.operator_password(name),
                sip_host="127.0.0.1",
                sip_port=settings.sip_port,
                audio=operator_audio,
            )
            for name in settings.operators[:2]
        ]
        for phone in phones:
            phone.start()
        print(
            f"hotline {install.version}; model {KOREAN_MODEL}; {pool_size(settings)} "
            f"transcription workers on {os.cpu_count()} cores; two calls at a time"
        )
        try:
            for seconds, count, prefix in ((30, args.short, "1861"), (300, args.long, "1862")):
                if count:
                    audio = speech_of_length(work, seconds, "caller")
                    report(
                        f"{seconds:.0f}-second calls",
                        batch(settings, engine, audio, count, wait, prefix),
                    )
        finally:
            for phone in phones:
                phone.stop()
    finally:
        processes.down(settings, install)
        engine.dispose()


if __name__ == "__main__":
    main()
