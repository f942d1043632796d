"""Benchmark: how many live calls at once this machine's recogniser sustains.

Runs a private hotline (real Asterisk, ivr, live stream listener, API, transcription pool)
with Whisper base and a live capacity above anything dialled, and operators' phones that
answer and speak Mandarin. For N = 1, 2, ... calls at once (each ``--seconds`` of Mandarin
from the sample clips, caller and operator both speaking) it prints:

- CPU of the asr-live process (utime + stime from /proc/<pid>/stat, every thread) per live
  call, in CPU seconds per second of call (1.0 = one core busy the whole call);
- how far behind the recognisers fall: the end of an utterance (the call's recording start +
  the utterance's ``end``) to its LiveUtterance row's ``at``: median, p95, max;
- hang-up to final transcript (the database's timestamps): median, p95, max, and how many
  transcripts were made live.

The recommended default capacity is the largest N such that every N up to it had all its
calls made live with a hang-up to final p95 within 2 s (0: not even one call).

    .venv/bin/python -m bench.live_capacity [--max 4] [--repeat 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.live_models import LiveUtterance
from bench.calls import (
    free_tcp_port,
    how_transcribed,
    load_average,
    percentile,
    transcribed_call,
    whisper_model,
)
from bench.transcript_latency import dial, mandarin_speech
from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import Settings
from core.waiting import wait_for
from hotline import processes, provision
from ivr import prompts
from phones.sipp import OperatorPhone, free_udp_port

TARGET_SECONDS = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime (+ those of waited-for children) of a process, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(fields[index]) for index in (11, 12, 13, 14)) / CLOCK_TICKS


@dataclass
class CallFigures:
    hang_up_to_final: float
    made: str
    lags: list[float]


def figures_of(sessions: sessionmaker[Session], caller: str, since: dt.datetime) -> CallFigures:

    def ready() -> CallFigures | None:
        with sessions() as session:
            found = transcribed_call(session, caller, since)
            if found is None:
                return None
            call = found.call
            lags = []
            if call.recording_started_at is not None:
                for utterance in session.scalars(
                    select(LiveUtterance).where(
                        LiveUtterance.call_uniqueid == call.asterisk_uniqueid,
                        LiveUtterance.final.is_(True),
                    )
                ):
                    spoken = call.recording_started_at + dt.timedelta(seconds=utterance.end)
                    lags.append((utterance.at - spoken).total_seconds())
            return CallFigures(
                found.hang_up_to_transcript,
                how_transcribed(session, call, found.transcript),
                lags,
            )

    return wait_for(ready, 900, f"the transcript of {caller}'s call", 0.1)


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"median {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
        f"max {max(values):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=4, help="most calls at once")
    parser.add_argument("--repeat", type=int, default=2, help="rounds per N")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each call")
    parser.add_argument("--rtp-base", type=int, default=38000, help="RTP ports from here (1000)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="hotline-live-capacity-"))
    model = whisper_model()
    settings = Settings(
        data_dir=data,
        sip_port=free_udp_port(),
        ami_port=free_tcp_port(),
        agi_port=free_tcp_port(),
        api_port=free_tcp_port(),
        asr_live_port=free_tcp_port(),
        asr_live_capacity=max(8, 2 * args.max),
        rtp_port_start=args.rtp_base,
        rtp_port_end=args.rtp_base + 999,
        vosk_model=model,
        operators=[f"{8001 + index}" for index in range(args.max)],
        queue_ring_seconds=10,
    )
    print(f"start: {load_average()}", flush=True)
    os.environ.update(settings.to_env())
    install = provision.prepare(settings)
    processes.up(settings, install, timeout=90)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    wait = prompts.duration_seconds(prompts.prompt_path(settings.sounds_dir, "notice")) + 0.3
    secrets = load_secrets(data)
    work = data / "audio"
    work.mkdir()
    phones: list[OperatorPhone] = []
    recommended = 0
    try:
        pid = processes.service_pid(settings, "asr-live")
        if pid is None:
            raise RuntimeError("the asr-live process is not running")
        operator_audio = mandarin_speech(work, args.seconds + 60, "operator", 5)
        callers_audio = [
            mandarin_speech(work, args.seconds, f"caller{index}", 2 * index)
            for index in range(args.max)
        ]
        for name in settings.operators:
            phone = OperatorPhone(
                name=name,
                password=secrets.operator_password(name),
                sip_host="127.0.0.1",
                sip_port=settings.sip_port,
                audio=operator_audio,
            )
            phone.start()
            phones.append(phone)
        print(
            f"hotline {install.version}; model {model}; asr-live pid {pid}; capacity "
            f"{settings.asr_live_capacity}; {args.seconds:.0f}-second calls, caller and "
            f"operator speaking; {args.repeat} rounds per N",
            flush=True,
        )
        for count in range(1, args.max + 1):
            results: list[CallFigures] = []
            cpu_per_call: list[float] = []
            for round_index in range(args.repeat):
                since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
                stamp = dt.datetime.now(dt.UTC).strftime("%H%M%S")
                callers = [f"188{stamp}{round_index}{index}" for index in range(count)]
                before = cpu_seconds(pid)
                with concurrent.futures.ThreadPoolExecutor(count) as pool:
                    list(
                        pool.map(
                            lambda caller, audio: dial(settings, audio, caller, wait),
                            callers,
                            callers_audio,
                        )
                    )
                round_results = [figures_of(sessions, caller, since) for caller in callers]
                spent = cpu_seconds(pid) - before
                results.extend(round_results)
                cpu_per_call.append(spent / count / args.seconds)
            finals = [r.hang_up_to_final for r in results]
            lags = [lag for r in results for lag in r.lags]
            live = sum(1 for r in results if r.made == "live")
            print(
                f"N={count}: CPU per live call {statistics.mean(cpu_per_call):.2f} CPU-s per "
                f"call second (rounds: {', '.join(f'{c:.2f}' for c in cpu_per_call)}); "
                f"utterance end -> row {spread(lags)} ({len(lags)} utterances); hang-up -> "
                f"final {spread(finals)}; made live {live}/{len(results)}; {load_average()}",
                flush=True,
            )
            if live == len(results) and percentile(finals, 0.95) <= TARGET_SECONDS:
                recommended = count if recommended == count - 1 else recommended
            else:
                print(f"N={count} misses the {TARGET_SECONDS:.0f} s target", flush=True)
        print(
            f"recommended asr_live_capacity for this {os.cpu_count()}-core machine: "
            f"{recommended} (largest N up to which every call was live and hang-up -> final p95 <= "
            f"{TARGET_SECONDS:.0f} s)",
            flush=True,
        )
    finally:
        for phone in phones:
            phone.stop()
        processes.down(settings, install)
        engine.dispose()
        print(f"end: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
