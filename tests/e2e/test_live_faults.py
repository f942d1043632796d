"""Every call gets exactly one final transcript, whatever happens to the live path: real
Asterisk, SIPp callers leaving messages (Korean speech from espeak-ng, the Korean Vosk model),
the real `hotline serve asr-live` and batch workers. The live recogniser killed mid-call, more
calls at once than its capacity, and connections to its port that are not Asterisk's streams."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from asr.audiosocket import Kind, encode
from asr.live_models import LiveStream, StreamStatus
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from core import pids
from core.waiting import wait_for
from hotline import processes
from ivr.models import Call
from phones.sipp import DialResult
from tests.builders import korean_speech
from tests.e2e.conftest import Hotline, start_hotline

GRACE = 3.0  # seconds a call's job waits for its live transcript before the batch takes it
STALL = 2.0  # seconds the listener waits for a connection's next bytes


@pytest.fixture(scope="module")
def faults_hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """One hotline for the module: the Korean model, one call at a time transcribed live."""
    instance = start_hotline(
        tmp_path_factory.mktemp("live-faults"),
        rtp_base=24200,
        asr_live_capacity=1,
        asr_live_grace_seconds=GRACE,
        asr_live_stall_seconds=STALL,
    )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return korean_speech(tmp_path_factory.mktemp("speech") / "speech.wav", repeat=3)


def _listening(hotline: Hotline) -> processes.PartStatus | None:
    part = processes.live_status(hotline.settings)
    return part if part.running and "streams in use" in part.detail else None


def _no_open_streams(hotline: Hotline) -> None:
    def settled() -> bool:
        with hotline.sessions() as session:
            return not session.scalars(
                select(LiveStream.id).where(
                    LiveStream.status.in_((StreamStatus.REQUESTED, StreamStatus.LIVE))
                )
            ).first()

    wait_for(settled, 30, "earlier calls' streams to end")


def _dial_in_background(
    hotline: Hotline, speech: Path, caller: str, results: list[DialResult]
) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: results.append(
            hotline.dial(speech, caller, wait_seconds=hotline.notice_seconds + 0.3)
        )
    )
    thread.start()
    return thread


def _caller_stream(hotline: Hotline, caller: str) -> LiveStream | None:
    """The caller's stream of this caller's latest call, once the listener took it."""
    with hotline.sessions() as session:
        found = session.scalar(
            select(LiveStream)
            .join(Call, Call.asterisk_uniqueid == LiveStream.call_uniqueid)
            .where(Call.caller_number == caller, LiveStream.status == StreamStatus.LIVE)
        )
        if found is not None:
            session.expunge(found)
        return found


def _streams(hotline: Hotline, call: Call) -> list[LiveStream]:
    with hotline.sessions() as session:
        found = list(
            session.scalars(
                select(LiveStream).where(LiveStream.call_uniqueid == call.asterisk_uniqueid)
            )
        )
        session.expunge_all()
        return found


def _transcribed(hotline: Hotline, call: Call) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        found: dict[str, Any] = hotline.api_json(f"/api/calls/{call.id}/transcript")
        return found if found["transcript"] else None

    return wait_for(ready, 90, f"the transcript of call {call.id}", 0.2)


def _korean(transcript: dict[str, Any]) -> bool:
    """An ``ok`` transcript of Korean words (espeak-ng through G.711 is hard for the small
    Korean model: the words differ from call to call, the script does not)."""
    text = str(transcript["text"])
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in text)
    return transcript["status"] == "ok" and hangul >= 10


def _exactly_one_transcript(hotline: Hotline, call: Call) -> tuple[TranscriptRecord, int]:
    """The call's only transcript row and the number of its jobs (each asserted one)."""
    recording = hotline.recording_of(call)
    assert recording is not None
    with hotline.sessions() as session:
        transcripts = session.scalars(
            select(TranscriptRecord).where(TranscriptRecord.recording_sha256 == recording.sha256)
        ).all()
        job_rows = session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording.id)
        ).all()
        assert len(transcripts) == 1, [t.id for t in transcripts]
        assert [(j.status, j.transcript_id) for j in job_rows] == [
            (JobStatus.DONE, transcripts[0].id)
        ]
        session.expunge_all()
        return transcripts[0], len(job_rows)


def test_a_recogniser_killed_mid_call_leaves_the_call_to_the_batch_workers(
    faults_hotline: Hotline, speech: Path
) -> None:
    hotline = faults_hotline
    settings = hotline.settings
    caller = "13912348801"
    pid = processes.service_pid(settings, "asr-live")
    assert pid is not None and _listening(hotline)
    results: list[DialResult] = []
    dialling = _dial_in_background(hotline, speech, caller, results)
    try:
        live = wait_for(lambda: _caller_stream(hotline, caller), 30, "the caller's stream")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pids.alive(pid), 10, "the recogniser to die")
        killed_at = dt.datetime.now(dt.UTC)
    finally:
        dialling.join(timeout=90)
    assert results and results[0].sipp_exit == 0, results
    call = hotline.wait_call(caller)
    assert call.outcome == "message_left"
    # The recogniser died while the call was up.
    assert call.ended_at is not None and call.ended_at > killed_at

    # The batch worker transcribes the recording once the grace is over.
    transcript = _transcribed(hotline, call)["transcript"]
    assert _korean(transcript)
    assert transcript["decode_seconds"] > 0.0  # decoded from the recording, not the live rows
    record, _jobs = _exactly_one_transcript(hotline, call)
    assert record.id == transcript["id"]

    # Restarted, the recogniser breaks the stream it lost; the call keeps its one transcript.
    processes.up(settings, hotline.install, timeout=90)
    restarted = processes.service_pid(settings, "asr-live")
    assert restarted is not None and restarted != pid
    wait_for(lambda: _listening(hotline), 60, "the restarted recogniser to listen")
    (stream,) = _streams(hotline, call)
    assert stream.id == live.id
    assert (stream.status, stream.reason) == (StreamStatus.BROKEN, "recogniser restarted")
    again, _jobs = _exactly_one_transcript(hotline, call)
    assert again.id == record.id


def test_calls_beyond_the_live_capacity_are_transcribed_from_their_recordings(
    faults_hotline: Hotline, speech: Path
) -> None:
    hotline = faults_hotline
    wait_for(lambda: _listening(hotline), 60, "the recogniser to listen")
    _no_open_streams(hotline)
    callers = ["13912348811", "13912348812", "13912348813"]
    results: list[DialResult] = []
    dialling = [_dial_in_background(hotline, speech, number, results) for number in callers]
    for thread in dialling:
        thread.join(timeout=120)
    assert len(results) == 3 and all(r.sipp_exit == 0 for r in results), results
    calls = [hotline.wait_call(number) for number in callers]
    # All three were up at once.
    up_from = max(c.recording_started_at.timestamp() for c in calls if c.recording_started_at)
    assert all(c.ended_at is not None and up_from < c.ended_at.timestamp() for c in calls)

    streamed = [c for c in calls if _streams(hotline, c)]
    assert len(streamed) <= 1
    for call in calls:
        transcript = _transcribed(hotline, call)["transcript"]
        assert _korean(transcript), transcript
        _exactly_one_transcript(hotline, call)
        if call not in streamed:
            assert transcript["decode_seconds"] > 0.0


def _closed_by_listener(sock: socket.socket, timeout: float) -> bool:
    """True when the listener closes the connection (end of file or reset) within
    ``timeout``, without sending anything."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_connections_that_are_not_requested_streams_are_refused_and_the_live_call_goes_on(
    faults_hotline: Hotline, speech: Path
) -> None:
    hotline = faults_hotline
    settings = hotline.settings
    wait_for(lambda: _listening(hotline), 60, "the recogniser to listen")
    _no_open_streams(hotline)
    caller = "13912348821"
    address = (settings.asr_live_host, settings.asr_live_port)
    unknown = str(uuid.uuid4())
    results: list[DialResult] = []
    dialling = _dial_in_background(hotline, speech, caller, results)
    try:
        live = wait_for(lambda: _caller_stream(hotline, caller), 30, "the caller's stream")
        with socket.create_connection(address, timeout=5) as stranger:
            stranger.sendall(encode(Kind.ID, uuid.UUID(unknown).bytes))
            stranger.sendall(encode(Kind.SLIN16, b"\1\0" * 320) * 5)
            assert _closed_by_listener(stranger, 10), "a stream nobody requested was kept"
        with socket.create_connection(address, timeout=5) as garbage:
            garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(600))
            assert _closed_by_listener(garbage, 10), "garbage bytes were kept"
        with socket.create_connection(address, timeout=5) as stalled:
            opened = time.monotonic()
            assert _closed_by_listener(stalled, STALL + 10), "a silent connection was kept"
            assert time.monotonic() - opened >= STALL - 0.5
        # Asterisk's stream was still live while all this happened.
        assert _caller_stream(hotline, caller) is not None
    finally:
        dialling.join(timeout=90)
    assert results and results[0].sipp_exit == 0, results
    call = hotline.wait_call(caller)

    # The call's live transcript is as if nothing happened: made from its stream, which ended
    # with the call, and nothing stored for the stranger's id.
    transcript = _transcribed(hotline, call)["transcript"]
    assert _korean(transcript), transcript
    assert transcript["decode_seconds"] == 0.0
    (stream,) = _streams(hotline, call)
    assert stream.id == live.id and stream.status == StreamStatus.DONE, (
        stream.status,
        stream.reason,
    )
    _exactly_one_transcript(hotline, call)
    with hotline.sessions() as session:
        assert session.get(LiveStream, unknown) is None
