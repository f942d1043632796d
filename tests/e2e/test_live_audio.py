"""Asterisk sends each speaker's own voice, live, to the recogniser the ivr named: real
Asterisk, SIPp caller and operator phone, the AMI listener; a test AudioSocket server stands in
for the recogniser (it accepts only ids of ``requested`` streams, as the real listener does)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.audiosocket import HEADER_BYTES, Kind, Message, header, stream_id
from asr.channels import CALLER, OPERATOR
from asr.live_models import LiveStream, StreamStatus
from core.db import transaction
from core.waiting import wait_for
from ivr.models import Call
from phones.sipp import DialResult
from tests.audio_checks import best_correlation, to_8k_mono, tone_ratio
from tests.conftest import SAMPLES, free_port
from tests.e2e.conftest import Hotline, start_hotline

CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s of Mandarin
TONE_HZ = 1000


@dataclass
class Received:
    """One AudioSocket connection as the test server saw it (times: wall clock, seconds)."""

    id: str
    connected_at: float
    kinds: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    pcm: bytearray = field(default_factory=bytearray)
    closed_at: float | None = None

    def samples(self) -> np.ndarray:
        return np.frombuffer(bytes(self.pcm), dtype="<i2").astype(np.float64)


class AudioSocketServer:
    """Stands in for the live recogniser: takes a stream only if its id is a ``requested``
    row (marks it ``live``, then ``done`` when Asterisk closes it) and keeps what came."""

    def __init__(self) -> None:
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listening.getsockname()[1])
        self.sessions: sessionmaker[Session] | None = None
        self.streams: dict[str, Received] = {}
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        accepting = threading.Thread(target=self._accept, daemon=True)
        accepting.start()

    def stop(self) -> None:
        """Stop listening: from now on Asterisk's connections are refused. (A shut-down wakes
        the thread blocked in accept; a bare close would leave the socket listening.)"""
        with contextlib.suppress(OSError):
            self.listening.shutdown(socket.SHUT_RDWR)
        self.listening.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listening.accept()
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        connected = time.time()
        conn.settimeout(120)
        with conn:
            first = _read_message(conn)
            if first is None:
                return
            sid = stream_id(first)
            if not self._take(sid):
                with self.lock:
                    self.refused.append(sid)
                return
            received = Received(sid, connected)
            with self.lock:
                self.streams[sid] = received
            while (message := _read_message(conn)) is not None:
                if message.kind in {Kind.HANGUP, Kind.ERROR}:
                    break
                received.kinds.append(message.kind)
                received.sizes.append(len(message.payload))
                received.arrivals.append(time.time())
                received.pcm.extend(message.payload)
            received.closed_at = time.time()
        self._set(sid, StreamStatus.LIVE, StreamStatus.DONE)

    def _take(self, sid: str) -> bool:
        return self._set(sid, StreamStatus.REQUESTED, StreamStatus.LIVE)

    def _set(self, sid: str, old: StreamStatus, new: StreamStatus) -> bool:
        assert self.sessions is not None
        with transaction(self.sessions) as session:
            result = session.execute(
                update(LiveStream)
                .where(LiveStream.id == sid, LiveStream.status == old)
                .values(status=new)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


def _read_message(conn: socket.socket) -> Message | None:
    head = _read_exactly(conn, HEADER_BYTES)
    if head is None:
        return None
    kind, length = header(head)
    payload = _read_exactly(conn, length) if length else b""
    return None if payload is None else Message(kind, payload)


@pytest.fixture(scope="module")
def server() -> Iterator[AudioSocketServer]:
    instance = AudioSocketServer()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def live_hotline(
    tmp_path_factory: pytest.TempPathFactory, server: AudioSocketServer
) -> Iterator[Hotline]:
    """One hotline for the module, its live recogniser the test server, one call at a time
    transcribed live (capacity 1)."""
    instance = start_hotline(
        tmp_path_factory.mktemp("live-audio"),
        rtp_base=38600,
        asr_live_recognisers=f"127.0.0.1:{server.port}",
        asr_live_port=free_port(),
        asr_live_capacity=1,
    )
    server.sessions = instance.sessions
    try:
        yield instance
    finally:
        instance.close()


def _streams(hotline: Hotline, call: Call) -> list[LiveStream]:
    with hotline.sessions() as session:
        return list(
            session.scalars(
                select(LiveStream)
                .where(LiveStream.call_uniqueid == call.asterisk_uniqueid)
                .order_by(LiveStream.requested_at)
            )
        )


def _seconds(moment: dt.datetime | None) -> float:
    assert moment is not None
    return moment.timestamp()


def _tone(path: Path, seconds: int) -> Path:
    rate = 8000
    t = np.arange(rate * seconds) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


def _no_open_streams(hotline: Hotline) -> None:
    def settled() -> bool:
        with hotline.sessions() as session:
            return not session.scalars(
                select(LiveStream.id).where(
                    LiveStream.status.in_((StreamStatus.REQUESTED, StreamStatus.LIVE))
                )
            ).first()

    wait_for(settled, 30, "earlier calls' streams to end")


def test_each_speaker_is_streamed_live_with_the_id_of_its_row(
    live_hotline: Hotline, server: AudioSocketServer, tmp_path: Path
) -> None:
    hotline = live_hotline
    caller = "13912345601"
    results: list[DialResult] = []
    with hotline.operator_phone("8001", _tone(tmp_path / "operator.wav", 30)):
        dialling = threading.Thread(
            target=lambda: results.append(
                hotline.dial(
                    CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=3
                )
            )
        )
        dialling.start()
        dialling.join(timeout=90)
    assert results and results[0].sipp_exit == 0, results
    call = hotline.wait_call(caller)
    assert call.outcome == "answered" and call.operator == "8001"

    streams = {s.speaker: s for s in _streams(hotline, call)}
    assert set(streams) == {CALLER, OPERATOR}
    assert streams[CALLER].spied_channel == call.channel
    assert streams[OPERATOR].spied_channel.startswith("PJSIP/8001-")
    wait_for(
        lambda: all(
            (r := server.streams.get(s.id)) is not None and r.closed_at is not None
            for s in streams.values()
        ),
        10,
        "both streams to close",
    )
    heard = {speaker: server.streams[s.id] for speaker, s in streams.items()}
    assert not server.refused

    # The caller's stream begins with the recording; the operator's once the operator answered.
    assert abs(heard[CALLER].connected_at - _seconds(call.recording_started_at)) < 1.0
    assert heard[OPERATOR].connected_at >= _seconds(call.answered_at) - 0.05
    assert heard[OPERATOR].connected_at - _seconds(call.answered_at) < 1.0
    assert (
        abs(
            streams[OPERATOR].offset_seconds
            - (_seconds(call.answered_at) - _seconds(call.recording_started_at))
        )
        < 0.01
    )

    # 16 kHz signed linear, 20 ms a frame.
    for received in heard.values():
        assert received.kinds and set(received.kinds) == {Kind.SLIN16}
        assert set(received.sizes) == {640}

    # Each stream holds its own speaker's voice only: the caller's clip, the operator's tone.
    caller_audio = heard[CALLER].samples()
    operator_audio = heard[OPERATOR].samples()
    clip_8k = to_8k_mono(CLIP, tmp_path / "clip-8k.wav")
    assert len(caller_audio) / 16000 > 0.8 * len(clip_8k) / 8000
    assert best_correlation(caller_audio[::2], clip_8k) > 0.6
    assert tone_ratio(caller_audio, 16000, TONE_HZ) < 0.05
    assert tone_ratio(operator_audio, 16000, TONE_HZ) > 0.5
    # The clip's speech came while the caller spoke: within the clip's time after the recording.
    speaking = [
        at
        for at, frame in zip(
            heard[CALLER].arrivals, np.split(caller_audio, len(heard[CALLER].arrivals)), strict=True
        )
        if np.sqrt(np.mean(frame**2)) > 300
    ]
    assert speaking
    start = _seconds(call.recording_started_at)
    assert start - 0.5 < speaking[0] < start + 2.0
    assert speaking[-1] < start + 0.5 + len(clip_8k) / 8000 + 1.5

    # Both end with the call.
    for received in heard.values():
        assert received.closed_at is not None
        assert abs(received.closed_at - _seconds(call.ended_at)) < 1.0


def test_beyond_capacity_a_call_gets_no_live_stream(
    live_hotline: Hotline, server: AudioSocketServer
) -> None:
    hotline = live_hotline
    _no_open_streams(hotline)
    callers = ["13912345611", "13912345612"]
    results: list[DialResult] = []
    dialling = [
        threading.Thread(
            target=lambda number=number: results.append(
                hotline.dial(CLIP, number, wait_seconds=hotline.notice_seconds + 0.3)
            )
        )
        for number in callers
    ]
    for thread in dialling:
        thread.start()
    for thread in dialling:
        thread.join(timeout=90)
    assert len(results) == 2 and all(r.sipp_exit == 0 for r in results), results
    calls = [hotline.wait_call(number) for number in callers]
    # Both calls were up at once, recording.
    assert max(_seconds(c.recording_started_at) for c in calls) < min(
        _seconds(c.ended_at) for c in calls
    )
    streamed = [c for c in calls if _streams(hotline, c)]
    assert len(streamed) == 1
    (only,) = _streams(hotline, streamed[0])
    assert only.speaker == CALLER
    wait_for(lambda: only.id in server.streams, 10, "the admitted call's stream")
    for call in calls:
        assert hotline.recording_of(call) is not None


def test_an_unreachable_recogniser_breaks_the_stream_and_the_call_goes_on(
    live_hotline: Hotline, server: AudioSocketServer
) -> None:
    hotline = live_hotline
    _no_open_streams(hotline)
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5)
    caller = "13912345621"
    result = hotline.dial(CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3)
    assert result.sipp_exit == 0, result.output
    call = hotline.wait_call(caller)
    assert call.outcome == "message_left" and call.failure_reason is None
    (stream,) = _streams(hotline, call)
    assert stream.speaker == CALLER
    assert stream.status == StreamStatus.BROKEN
    assert "could not connect to the recogniser" in stream.reason
    recording = hotline.recording_of(call)
    assert recording is not None
    with hotline.sessions() as session:
        job = jobs.job_of(session, recording)
        assert job is not None
        # The batch workers may take it at once: no grace held for a broken stream.
        assert job.available_at <= dt.datetime.now(dt.UTC)
