"""Benchmark: time from hang-up to transcript ready, for 30-second and 5-minute calls.

Runs a private hotline (real Asterisk, ivr, live stream listener, API and the transcription
pool with its default size). Two operators' phones answer and speak for the whole call;
callers dial with SIPp and speak for the whole call too (the worst case: both speakers are
mid-sentence at the hang-up). Prints the median, 95th percentile and maximum of
(transcript stored - call ended), from the database's own timestamps, and how each transcript
was made: ``live`` (assembled from the call's live streams) or ``batch`` (from the recording
by the job queue).

    .venv/bin/python -m bench.transcript_latency [--short 4] [--long 2]
        [--model korean|whisper] [--mode live|batch] [--at-once 1|2] [--capacity N]

``--model korean``: the Korean stand-in Vosk model and espeak-ng Korean speech (the figures
of before live transcription: p95 10.8 s for 30-second calls, 48.8 s for 5-minute calls, batch).
``--model whisper``: Whisper base (from its PyPI wheels, cached) and Mandarin speech: the
sample clips joined with pauses. ``--mode batch`` turns live transcription off
(asr_live_capacity 0: every call from the recording, as before; two calls at a time);
``live`` keeps the default live capacity and dials as many calls at once as it admits (so
none falls back to the recording); ``--capacity`` and ``--at-once`` change both.
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

from asr.service import pool_size
from bench.calls import (
    free_tcp_port,
    how_transcribed,
    load_average,
    percentile,
    stages,
    transcribed_call,
    whisper_model,
)
from bench.stream_rtf import MANIFEST, read_manifest
from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import Settings
from core.waiting import wait_for
from hotline import processes, provision
from ivr import prompts
from ivr.call_state import Outcome
from phones.sipp import OperatorPhone, free_udp_port, place_call, wav_duration
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


def mandarin_speech(work: Path, seconds: float, name: str, shift: int) -> Path:
    """The sample clips (from the ``shift``-th on), each followed by a pause, repeated and cut
    to ``seconds``."""
    clips = [path for path, _ in read_manifest(MANIFEST)]
    clips = clips[shift % len(clips) :] + clips[: shift % len(clips)]
    padded = []
    for index, clip in enumerate(clips):
        out = work / f"{name}-part{index:02d}.wav"
        subprocess.run(
            ["sox", str(clip), "-r", "16000", "-c", "1", "-b", "16", str(out), "pad", "0", "0.8"],
            check=True,
        )
        padded.append(str(out))
    total = sum(wav_duration(Path(p)) for p in padded)
    out = work / f"{name}-{seconds:.0f}s.wav"
    repeat = str(int(seconds // total) + 1)
    subprocess.run(
        ["sox", *padded, str(out), "repeat", repeat, "trim", "0", str(seconds)], check=True
    )
    return out


def dial(settings: Settings, audio: Path, caller: str, wait: float) -> None:
    """Place one call (SIPp on free ports); returns when it is over."""
    result = place_call(
        audio=audio,
        number=settings.hotline_number,
        sip_host="127.0.0.1",
        sip_port=settings.sip_port,
        caller=caller,
        wait_seconds=wait,
    )
    if result.sipp_exit != 0:
        raise RuntimeError(f"SIPp failed: {result.output[-300:]}")


def latency(engine: Engine, caller: str, since: dt.datetime) -> tuple[float, str, str]:
    """Seconds from the end of the caller's call to its stored transcript, how it was made,
    and where the seconds went."""
    sessions = make_session_factory(engine)

    def transcribed() -> tuple[float, str, str] | None:
        with sessions() as session:
            found = transcribed_call(session, caller, since)
            if found is None:
                return None
            call, recording, transcript = found.call, found.recording, found.transcript
            if call.outcome != Outcome.ANSWERED:
                # An operator must have taken it: a message has no operator stream to wait for.
                raise RuntimeError(f"{caller}'s call was not answered ({call.outcome})")
            made = how_transcribed(session, call, transcript)
            seconds = found.hang_up_to_transcript
            return seconds, made, stages(session, call, recording, transcript.created_at)

    return wait_for(transcribed, 3600, f"the transcript of {caller}'s call", 0.1)


def batch(
    settings: Settings,
    engine: Engine,
    audio: Path,
    count: int,
    wait: float,
    prefix: str,
    at_once: int,
) -> list[tuple[float, str, str]]:
    """``count`` calls, ``at_once`` at a time (one per operator), back to back; then their
    latencies (from the database's timestamps, so reading them later changes nothing)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    callers = [f"{prefix}{index:04d}" for index in range(count)]
    with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
        for first in range(0, count, at_once):
            group = callers[first : first + at_once]
            list(pool.map(lambda caller: dial(settings, audio, caller, wait), group))
    return [latency(engine, caller, since) for caller in callers]


def report(label: str, results: list[tuple[float, str, str]]) -> None:
    latencies = [seconds for seconds, _, _ in results]
    made: dict[str, int] = {}
    for _, how, _ in results:
        made[how] = made.get(how, 0) + 1
    print(
        f"{label}: {len(latencies)} calls; hang-up to transcript median "
        f"{statistics.median(latencies):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
        f"max {max(latencies):.2f} s; made: "
        + ", ".join(f"{how} x{count}" for how, count in sorted(made.items()))
        + f"; each: {', '.join(f'{seconds:.2f}' for seconds in latencies)}; {load_average()}",
        flush=True,
    )
    for seconds, _, where in results:
        print(f"  {seconds:.2f} s after hang-up: {where}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", type=int, default=4, help="How many 30-second calls")
    parser.add_argument("--long", type=int, default=2, help="How many 5-minute calls")
    parser.add_argument("--model", choices=("korean", "whisper"), default="whisper")
    parser.add_argument("--mode", choices=("live", "batch"), default="live")
    parser.add_argument(
        "--at-once",
        type=int,
        choices=(1, 2),
        help="Calls at a time (default: 2 in batch mode, as before live transcription; in live "
        "mode as many as the live capacity admits, so that none falls back to batch)",
    )
    parser.add_argument(
        "--capacity", type=int, help="Live calls per recogniser (default: the setting's default)"
    )
    parser.add_argument("--rtp-base", type=int, default=37000, help="RTP ports from here (1000)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="hotline-latency-"))
    model = KOREAN_MODEL if args.model == "korean" else whisper_model()
    capacity = 0 if args.mode == "batch" else (args.capacity or Settings().asr_live_capacity)
    at_once = args.at_once or (2 if args.mode == "batch" else min(2, max(1, capacity)))
    settings = Settings(
        data_dir=data,
        sip_port=free_udp_port(),
        ami_port=free_tcp_port(),
        agi_port=free_tcp_port(),
        api_port=free_tcp_port(),
        asr_live_port=free_tcp_port(),
        asr_live_capacity=capacity,
        rtp_port_start=args.rtp_base,
        rtp_port_end=args.rtp_base + 999,
        vosk_model=model,
        queue_ring_seconds=10,
    )
    print(f"start: {load_average()}", flush=True)
    os.environ.update(settings.to_env())
    install = provision.prepare(settings)
    processes.up(settings, install, timeout=90)
    engine = make_engine(settings.effective_database_url)
    wait = prompts.duration_seconds(prompts.prompt_path(settings.sounds_dir, "notice")) + 0.3
    secrets = load_secrets(data)
    work = data / "audio"
    work.mkdir()

    def speech(seconds: float, name: str, shift: int) -> Path:
        if args.model == "korean":
            return speech_of_length(work, seconds, name)
        return mandarin_speech(work, seconds, name, shift)

    try:
        operator_audio = speech(300, "operator", 5)
        phones = [
            OperatorPhone(
                name=name,
                password=secrets.operator_password(name),
                sip_host="127.0.0.1",
                sip_port=settings.sip_port,
                audio=operator_audio,
                expires=24 * 3600,  # registered for the whole run (the default is 10 minutes)
            )
            for name in settings.operators[:2]
        ]
        for phone in phones:
            phone.start()
        print(
            f"hotline {install.version}; model {model}; mode {args.mode} (asr_live_capacity "
            f"{settings.asr_live_capacity}); {pool_size(settings)} transcription workers on "
            f"{os.cpu_count()} cores; {at_once} call(s) at a time",
            flush=True,
        )
        try:
            for seconds, count, prefix in ((30, args.short, "1861"), (300, args.long, "1862")):
                if count:
                    audio = speech(seconds, "caller", 0)
                    report(
                        f"{seconds:.0f}-second calls",
                        batch(settings, engine, audio, count, wait, prefix, at_once),
                    )
        finally:
            for phone in phones:
                phone.stop()
    finally:
        processes.down(settings, install)
        engine.dispose()
        print(f"end: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
