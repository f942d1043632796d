"""The live stream listener on a free port, with test code speaking Asterisk's AudioSocket
protocol: requested streams of Korean speech recognised by the real Vosk Korean model
(asr.vosk_stream) and stored as utterances with recording times; unknown ids, garbage, stalls
and cut frames closed without disturbing a stream that runs meanwhile; a failing recogniser
breaks only its stream."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.audiosocket import Kind, ProtocolError, encode
from asr.live_listener import LiveListener
from asr.live_models import LiveStream, LiveUtterance, StreamStatus
from asr.live_session import FrameUse, PartialThrottle, StreamClock, check_frame
from asr.models import TranscriptRecord
from asr.streaming import Heard, RecogniserFactory, StreamRecogniser
from asr.vosk_stream import VoskStreamFactory
from core.db import transaction
from core.waiting import wait_for
from dispatch.cases.recording_links import link_recording
from ivr import call_store
from ivr.call_state import CallState
from ivr.models import Call
from recordings import ingest, store
from tests.builders import KOREAN_MODEL, korean_speech, tone_wav
from tests.conftest import free_port

STALL = 0.5
FRAME = 640
RECORDING_LEAD = 2.0  # the recording began this long before the stream was accepted


# --- recognisers ------------------------------------------------------------------------


class Exploding:
    engine = "fake"
    model = "exploding"

    def accept(self, pcm: bytes, at: float) -> list[Heard]:  # noqa: ARG002 - always fails
        raise RuntimeError("the model ran out of memory")

    def tick(self, now: float) -> list[Heard]:  # noqa: ARG002 - nothing to close
        return []

    def finish(self) -> list[Heard]:
        return []


@dataclass
class ExplodingFactory:
    engine: str = "fake"
    model: str = "exploding"
    made: list[Exploding] = field(default_factory=list)

    def new_stream(self) -> StreamRecogniser:
        self.made.append(Exploding())
        return self.made[-1]


class Quiet:
    """Hears nothing, and counts the ticks it was given."""

    engine = "fake"
    model = "quiet"

    def __init__(self) -> None:
        self.ticks = 0

    def accept(self, pcm: bytes, at: float) -> list[Heard]:  # noqa: ARG002 - hears nothing
        return []

    def tick(self, now: float) -> list[Heard]:  # noqa: ARG002 - only counted
        self.ticks += 1
        return []

    def finish(self) -> list[Heard]:
        return []


@dataclass
class QuietFactory:
    engine: str = "fake"
    model: str = "quiet"
    made: list[Quiet] = field(default_factory=list)

    def new_stream(self) -> StreamRecogniser:
        self.made.append(Quiet())
        return self.made[-1]


@pytest.fixture(scope="module")
def vosk_factory() -> VoskStreamFactory:
    return VoskStreamFactory(KOREAN_MODEL)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = korean_speech(tmp_path_factory.mktemp("speech") / "ko.wav", repeat=2, rate=16000)
    with wave.open(str(path)) as handle:
        assert (handle.getframerate(), handle.getnchannels()) == (16000, 1)
        return bytes(handle.readframes(handle.getnframes()))


# --- the listener, its database rows, and an AudioSocket client ---------------------------


@contextmanager
def running(
    sessions: sessionmaker[Session], recognisers: RecogniserFactory, capacity: int = 2
) -> Iterator[tuple[LiveListener, int]]:
    port = free_port()
    listener = LiveListener(
        sessions,
        recognisers,
        address=f"127.0.0.1:{port}",
        capacity=capacity,
        stall_seconds=STALL,
        grace_seconds=30.0,
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(listener.start("127.0.0.1", port))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(listener.close())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "the listener did not start"
    try:
        yield listener, port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        assert not thread.is_alive()


def request(sessions: sessionmaker[Session], uid: str, speaker: str, port: int) -> str:
    """What the ivr does: the call's row (recording begun) and a requested stream."""
    now = dt.datetime.now(dt.UTC)
    stream_id = str(uuid.uuid4())
    with transaction(sessions) as session:
        if call_store.known_uniqueids(session, [uid]) == set():
            started = now - dt.timedelta(seconds=RECORDING_LEAD)
            call_store.save_state(
                session,
                CallState(
                    uid,
                    caller_number="13800138000",
                    started_at=started,
                    notice_finished_at=started,
                    recording_started_at=started,
                ),
            )
        session.add(
            LiveStream(
                id=stream_id,
                call_uniqueid=uid,
                speaker=speaker,
                spied_channel="PJSIP/caller-00000001",
                recogniser=f"127.0.0.1:{port}",
                offset_seconds=0.0,
                status=StreamStatus.REQUESTED,
                requested_at=now,
            )
        )
    return stream_id


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def send_id(sock: socket.socket, stream_id: str) -> None:
    sock.sendall(encode(Kind.ID, uuid.UUID(stream_id).bytes))


def send_audio(sock: socket.socket, pcm: bytes) -> None:
    for at in range(0, len(pcm) - FRAME + 1, FRAME):
        sock.sendall(encode(Kind.SLIN16, pcm[at : at + FRAME]))


def closed_by_listener(sock: socket.socket) -> bool:
    """True when the listener closed the connection (EOF or reset) within the timeout."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def stream(sessions: sessionmaker[Session], stream_id: str) -> LiveStream:
    with sessions() as session:
        found = session.get(LiveStream, stream_id)
        assert found is not None
        session.expunge(found)
        return found


def ended(sessions: sessionmaker[Session], stream_id: str) -> LiveStream | None:
    found = stream(sessions, stream_id)
    return found if found.status in (StreamStatus.DONE, StreamStatus.BROKEN) else None


def utterances(sessions: sessionmaker[Session], stream_id: str) -> list[LiveUtterance]:
    with sessions() as session:
        found = list(
            session.scalars(
                select(LiveUtterance)
                .where(LiveUtterance.stream_id == stream_id)
                .order_by(LiveUtterance.id)
            )
        )
        session.expunge_all()
        return found


# --- tests -------------------------------------------------------------------------------


def test_speech_becomes_utterances_while_bad_connections_are_closed(
    sessions: sessionmaker[Session], vosk_factory: VoskStreamFactory, speech: bytes
) -> None:
    with running(sessions, vosk_factory) as (listener, port):
        good_id = request(sessions, "100.1", "caller", port)
        good = connect(port)
        send_id(good, good_id)
        half = len(speech) // 2 // FRAME * FRAME
        send_audio(good, speech[:half])
        wait_for(lambda: stream(sessions, good_id).status == StreamStatus.LIVE, 10, "live")

        # An id nobody asked for: closed, nothing written.
        unknown = connect(port)
        send_id(unknown, str(uuid.uuid4()))
        assert closed_by_listener(unknown)

        # Garbage first: not an id.
        garbage = connect(port)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_listener(garbage)

        # Nothing at all: closed once the stall time has passed.
        silent = connect(port)
        opened = time.monotonic()
        assert closed_by_listener(silent)
        assert STALL * 0.9 <= time.monotonic() - opened < STALL + 5

        # A frame cut in the middle: closed after the stall time, the stream broken.
        cut_id = request(sessions, "101.1", "caller", port)
        cut = connect(port)
        send_id(cut, cut_id)
        send_audio(cut, speech[: FRAME * 5])
        cut.sendall(encode(Kind.SLIN16, speech[:FRAME])[: FRAME // 2])
        assert closed_by_listener(cut)
        broken = wait_for(lambda: ended(sessions, cut_id), 10, "the cut stream to end")
        assert broken.status == StreamStatus.BROKEN and "stalled" in broken.reason

        # Audio that is not slin16 breaks its stream too.
        slin8_id = request(sessions, "102.1", "caller", port)
        slin8 = connect(port)
        send_id(slin8, slin8_id)
        slin8.sendall(encode(Kind.SLIN8, speech[:320]))
        assert closed_by_listener(slin8)
        assert "not slin16" in wait_for(lambda: ended(sessions, slin8_id), 10, "end").reason

        # The good stream carried on all along: the rest of its audio, then hang-up.
        send_audio(good, speech[half:])
        good.sendall(encode(Kind.HANGUP))
        done = wait_for(lambda: ended(sessions, good_id), 30, "the good stream to end")
        for sock in (good, unknown, garbage, silent, cut, slin8):
            sock.close()
        assert listener.active == set()

    assert done.status == StreamStatus.DONE, done.reason
    assert done.model == f"vosk:{vosk_factory.model}"
    assert abs(done.offset_seconds - RECORDING_LEAD) < 1.0
    finals = [u for u in utterances(sessions, good_id) if u.final]
    assert finals, "no final utterance stored"
    assert all(u.speaker == "caller" and u.call_uniqueid == "100.1" for u in finals)
    assert "니다" in " ".join(u.text for u in finals)
    audio_seconds = len(speech) / 32000
    for u in finals:  # times are from the recording's start: the stream's offset added
        assert done.offset_seconds <= u.start <= u.end <= done.offset_seconds + audio_seconds + 1
        assert u.words and u.words[0]["start"] >= done.offset_seconds
    assert [u for u in utterances(sessions, good_id) if not u.final] == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LiveStream)) == 3
        assert (
            session.scalar(
                select(func.count())
                .select_from(LiveUtterance)
                .where(LiveUtterance.call_uniqueid.in_(["101.1", "102.1"]))
            )
            == 0
        )


def test_a_stream_is_taken_once_and_a_failing_recogniser_breaks_only_its_stream(
    sessions: sessionmaker[Session],
) -> None:
    factory = ExplodingFactory()
    with running(sessions, factory) as (_listener, port):
        stream_id = request(sessions, "200.1", "caller", port)
        first = connect(port)
        send_id(first, stream_id)
        wait_for(lambda: stream(sessions, stream_id).status == StreamStatus.LIVE, 10, "live")
        again = connect(port)  # the same id a second time: refused
        send_id(again, stream_id)
        assert closed_by_listener(again)
        first.sendall(encode(Kind.SLIN16, b"\0" * FRAME) * 3)
        assert closed_by_listener(first)
        broken = wait_for(lambda: ended(sessions, stream_id), 10, "the stream to end")
        first.close()
        again.close()
    assert broken.status == StreamStatus.BROKEN
    assert "ran out of memory" in broken.reason
    assert len(factory.made) == 1


def test_the_listener_refuses_beyond_twice_its_capacity(
    sessions: sessionmaker[Session],
) -> None:
    with running(sessions, ExplodingFactory(), capacity=1) as (listener, port):
        ids = [request(sessions, "300.1", speaker, port) for speaker in ("caller", "operator")]
        socks = [connect(port) for _ in ids]
        for sock, stream_id in zip(socks, ids, strict=True):
            send_id(sock, stream_id)
        wait_for(lambda: len(listener.active) == 2, 10, "two live streams")
        extra_id = request(sessions, "301.1", "caller", port)
        extra = connect(port)
        send_id(extra, extra_id)
        assert closed_by_listener(extra)
        refused = stream(sessions, extra_id)
        for sock in [*socks, extra]:
            sock.close()
    assert (refused.status, refused.reason) == (StreamStatus.BROKEN, "the recogniser is full")


def test_a_restarted_listener_breaks_what_it_left(sessions: sessionmaker[Session]) -> None:
    port = free_port()
    left = request(sessions, "400.1", "caller", port)
    with transaction(sessions) as session:
        row = session.get(LiveStream, left)
        assert row is not None
        row.status = StreamStatus.LIVE
    other = request(sessions, "401.1", "caller", port + 1)  # another recogniser's
    listener = LiveListener(
        sessions,
        ExplodingFactory(),
        address=f"127.0.0.1:{port}",
        capacity=1,
        stall_seconds=STALL,
        grace_seconds=30.0,
    )
    assert listener.recover() == 1
    assert (stream(sessions, left).status, stream(sessions, left).reason) == (
        StreamStatus.BROKEN,
        "recogniser restarted",
    )
    assert stream(sessions, other).status == StreamStatus.REQUESTED


def test_a_silent_stream_stays_until_its_call_is_over(sessions: sessionmaker[Session]) -> None:
    factory = QuietFactory()
    with running(sessions, factory) as (_listener, port):
        stream_id = request(sessions, "500.1", "operator", port)
        sock = connect(port)
        send_id(sock, stream_id)
        # No frames at all (a silent direction): ticks, not a stall.
        wait_for(lambda: factory.made and factory.made[0].ticks >= 5, 10, "ticks")
        assert stream(sessions, stream_id).status == StreamStatus.LIVE
        with transaction(sessions) as session:
            call = session.scalar(select(Call).where(Call.asterisk_uniqueid == "500.1"))
            assert call is not None
            call.ended_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
        assert closed_by_listener(sock)
        over = wait_for(lambda: ended(sessions, stream_id), 10, "the stream to end")
        sock.close()
    assert (over.status, over.reason) == (StreamStatus.DONE, "the call is over")


def test_the_transcript_follows_a_recording_stored_after_the_streams_ended(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with running(sessions, QuietFactory()) as (_listener, port):
        stream_id = request(sessions, "600.1", "caller", port)
        sock = connect(port)
        send_id(sock, stream_id)
        sock.sendall(encode(Kind.SLIN16, b"\0" * FRAME) * 5 + encode(Kind.HANGUP))
        assert closed_by_listener(sock)
        sock.close()
        assert wait_for(lambda: ended(sessions, stream_id), 10, "end").status == StreamStatus.DONE
        # The recording is stored a moment later, by a plain enqueue: only the listener's
        # retries can finish the call.
        now = dt.datetime.now(dt.UTC)
        with transaction(sessions) as session:
            call = session.scalar(select(Call).where(Call.asterisk_uniqueid == "600.1"))
            assert call is not None
            call.ended_at = now
            spool = tone_wav(tmp_path / "spool" / "600.1.wav", seconds=2)
            stored = store.ingest(spool, tmp_path / "recordings", now, interleaved=False)
            ingest.attach(
                session, call, stored, now, link_case=link_recording, on_stored=jobs.enqueue
            )

        def transcribed() -> TranscriptRecord | None:
            with sessions() as session:
                return session.scalar(select(TranscriptRecord))

        record = wait_for(transcribed, 10, "the live transcript", 0.05)
    assert (record.engine, record.model, record.status) == ("fake", "quiet", "silent")
    assert record.audio_seconds == 2.0


# --- the pure parts of a connection (asr.live_session) ------------------------------------


@pytest.mark.parametrize(
    ("kind", "length", "use"),
    [
        (Kind.SLIN16, 640, FrameUse.AUDIO),
        (Kind.HANGUP, 0, FrameUse.END),
        (Kind.ERROR, 1, FrameUse.ERROR),
        (Kind.DTMF, 1, FrameUse.IGNORE),
    ],
)
def test_frames_a_stream_may_carry(kind: int, length: int, use: FrameUse) -> None:
    assert check_frame(kind, length) is use


@pytest.mark.parametrize(
    ("kind", "length", "why"),
    [
        (Kind.SLIN16, 641, "slin16 frame of 641"),
        (Kind.SLIN16, 0, "slin16 frame of 0"),
        (Kind.SLIN16, 40000, "slin16 frame of 40000"),
        (Kind.SLIN8, 320, "not slin16"),
        (Kind.SLIN48, 1920, "not slin16"),
        (Kind.ID, 16, "second id"),
        (0x47, 0x4554, "kind 0x47"),
    ],
)
def test_frames_that_end_a_stream(kind: int, length: int, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        check_frame(kind, length)


def test_frames_in_a_burst_are_laid_end_to_end_and_a_gap_is_kept() -> None:
    clock = StreamClock()
    # Three 20 ms frames read at once 60 ms in: one after the other, not all at 0.04.
    assert [round(clock.place(0.06, FRAME), 3) for _ in range(3)] == [0.04, 0.06, 0.08]
    # A silent second, then a frame: placed at its arrival, not right after the last one.
    assert round(clock.place(1.5, FRAME), 3) == 1.48


def test_partials_are_throttled_and_only_stored_when_they_change() -> None:
    throttle = PartialThrottle(per_second=4)
    assert throttle.allow("안녕", 0.0)
    assert not throttle.allow("안녕하", 0.1)  # too soon
    assert not throttle.allow("안녕", 0.5)  # unchanged
    assert throttle.allow("안녕하세요", 0.5)
    assert not throttle.allow("  ", 2.0)
