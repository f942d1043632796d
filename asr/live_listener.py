"""The live stream listener: Asterisk's AudioSocket connections in, utterances out.

Asterisk connects once per speaker of a call (``AudioSocket/<host>:<port>/<id>/c(slin16)``
running ``ChanSpy``). The listener reads the stream's id and takes the stream only if the ivr
asked for it (a ``requested`` row, claimed atomically); then each frame is handed to the
stream's recogniser, which runs in a thread of its own, so the event loop keeps reading every
socket while models decode. Partial text (throttled) and final utterances are stored as they
come, with times in seconds from the recording's start. At the end of a stream the rest is
stored and the stream is ``done``; a recogniser failure, a protocol error or a stall makes it
``broken``. Either way the call's final transcript is attempted at once
(:func:`asr.live_finish.try_finish`) and again, briefly, until the recording is stored.

One connection's failure never touches another: each has its own task, thread and recogniser.

Given ``heartbeat_seconds``, the listener registers itself in the database under its
``address`` with its capacity (``asr.recognisers``) and refreshes the row that often, so that
nodes on any host find it and know its room; a clean stop takes the row away.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from asr import audiosocket, recognisers
from asr.audiosocket import Kind, ProtocolError
from asr.live_finish import Finish, try_finish
from asr.live_models import LiveStream, LiveUtterance, StreamStatus
from asr.live_session import (
    BYTES_PER_SECOND,
    FrameUse,
    PartialThrottle,
    StreamClock,
    check_frame,
    shift,
)
from asr.streaming import Heard, Partial, RecogniserFactory, StreamRecogniser, Utterance
from core.clock import utc_now
from core.db import transaction
from core.privacy import write_private
from ivr.models import Call

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

POLL_SECONDS = 0.2  # an idle stream ticks its recogniser this often
CALL_CHECK_SECONDS = 1.0  # and asks this often whether its call is over
CALL_OVER_SECONDS = 3.0  # a stream of a call over for this long is closed
FINISH_POLL_SECONDS = 0.1  # how often an ended call's transcript is retried
PARTIALS_PER_SECOND = 4.0


class StreamBroken(Exception):
    """The stream cannot go on; the message is the reason stored on it."""


@dataclass(frozen=True)
class Claimed:
    stream_id: str
    call_uniqueid: str
    speaker: str
    offset: float


@dataclass(frozen=True)
class _Audio:
    pcm: bytes
    at: float


@dataclass(frozen=True)
class _Tick:
    now: float


class _Finish:
    pass


class _Stop:
    pass


_Item = _Audio | _Tick | _Finish | _Stop


class StreamWorker:
    """The thread that feeds one stream's recogniser, in order, and stores what it hears.
    Audio that queued up while the recogniser was busy is fed in one piece."""

    def __init__(
        self, claimed: Claimed, recogniser: StreamRecogniser, store: UtteranceStore
    ) -> None:
        self.claimed = claimed
        self.recogniser = recogniser
        self.store = store
        self.error: str | None = None
        self.finished = threading.Event()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._held: _Item | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"live-{claimed.stream_id[:8]}", daemon=True
        )
        self._thread.start()

    def feed(self, pcm: bytes, at: float) -> None:
        self._queue.put(_Audio(pcm, at))

    def tick(self, now: float) -> None:
        self._queue.put(_Tick(now))

    def finish(self) -> None:
        self._queue.put(_Finish())

    def stop(self) -> None:
        self._queue.put(_Stop())

    def _run(self) -> None:
        try:
            while True:
                item = self._next()
                if isinstance(item, _Stop):
                    return
                if isinstance(item, _Finish):
                    self.store.save(self.claimed, self.recogniser.finish())
                    return
                if isinstance(item, _Tick):
                    heard = self.recogniser.tick(item.now)
                else:
                    heard = self.recogniser.accept(*self._gather(item))
                if heard:
                    self.store.save(self.claimed, heard)
        except Exception as exc:  # the recogniser or the database failed: the stream breaks
            log.exception("stream %s: the recogniser failed", self.claimed.stream_id)
            self.error = f"recogniser failed: {type(exc).__name__}: {exc}"[:500]
        finally:
            self.finished.set()

    def _next(self) -> _Item:
        if self._held is not None:
            item, self._held = self._held, None
            return item
        return self._queue.get()

    def _gather(self, first: _Audio) -> tuple[bytes, float]:
        """``first`` and the audio queued right behind it, as long as it is contiguous."""
        parts, end = [first.pcm], first.at + len(first.pcm) / BYTES_PER_SECOND
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if not (isinstance(item, _Audio) and abs(item.at - end) < 0.001):
                self._held = item  # handled next, in order
                break
            parts.append(item.pcm)
            end = item.at + len(item.pcm) / BYTES_PER_SECOND
        return b"".join(parts), first.at


class UtteranceStore:
    """Writes what a stream's recogniser heard (called from the stream's thread)."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self.factory = factory
        self.clock = clock
        self._throttles: dict[str, PartialThrottle] = {}
        self._lock = threading.Lock()

    def _throttle(self, stream_id: str) -> PartialThrottle:
        with self._lock:
            return self._throttles.setdefault(stream_id, PartialThrottle(PARTIALS_PER_SECOND))

    def forget(self, stream_id: str) -> None:
        with self._lock:
            self._throttles.pop(stream_id, None)

    def save(self, claimed: Claimed, heard: list[Heard]) -> None:
        throttle = self._throttle(claimed.stream_id)
        rows: list[LiveUtterance] = []
        clear_partials = False
        now = self.clock()
        for item in heard:
            if isinstance(item, Utterance):
                throttle.reset()
                clear_partials = True
                if not item.text.strip():
                    continue
                start, end, words = shift(item, claimed.offset)
                rows.append(self._row(claimed, True, start, end, item.text, words, now))
            elif isinstance(item, Partial) and throttle.allow(item.text, time.monotonic()):
                clear_partials = True
                start = round(item.start + claimed.offset, 3)
                rows.append(self._row(claimed, False, start, start, item.text, [], now))
        if not rows and not clear_partials:
            return
        with transaction(self.factory) as session:
            if clear_partials:
                session.execute(
                    delete(LiveUtterance).where(
                        LiveUtterance.stream_id == claimed.stream_id,
                        LiveUtterance.final.is_(False),
                    )
                )
            session.add_all(rows)

    @staticmethod
    def _row(
        claimed: Claimed,
        final: bool,
        start: float,
        end: float,
        text: str,
        words: list[dict[str, object]],
        now: dt.datetime,
    ) -> LiveUtterance:
        return LiveUtterance(
            stream_id=claimed.stream_id,
            call_uniqueid=claimed.call_uniqueid,
            speaker=claimed.speaker,
            final=final,
            start=start,
            end=end,
            text=text,
            words=words,
            at=now,
        )


class LiveListener:
    """The AudioSocket server of one recogniser (``address`` is how the ivr names it)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        recognisers: RecogniserFactory,
        *,
        address: str,
        also_known_as: tuple[str, ...] = (),
        capacity: int,
        stall_seconds: float,
        grace_seconds: float,
        state_path: Path | None = None,
        clock: Clock = utc_now,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.factory = factory
        self.recognisers = recognisers
        self.address = address
        self.capacity = capacity
        self.heartbeat_seconds = heartbeat_seconds
        self._heartbeat: asyncio.Task[None] | None = None
        self._started_at = clock()
        self.addresses = (address, *also_known_as)
        self.max_streams = 2 * capacity
        self.stall_seconds = stall_seconds
        self.grace_seconds = grace_seconds
        self.state_path = state_path
        self.clock = clock
        self.store = UtteranceStore(factory, clock)
        self.active: set[str] = set()
        self._claiming = 0
        self._pending: dict[str, float] = {}  # call uniqueid -> monotonic deadline
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._finisher: asyncio.Task[None] | None = None

    @property
    def model_label(self) -> str:
        return f"{self.recognisers.engine}:{self.recognisers.model}"

    # --- life cycle -------------------------------------------------------------------

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Break what an earlier run of this recogniser left, then listen."""
        released = await asyncio.to_thread(self.recover)
        if released:
            log.warning("marked %d streams broken: the recogniser restarted", released)
        self._server = await asyncio.start_server(self._accept, host, port)
        self._finisher = asyncio.create_task(self._finish_pending())
        if self.heartbeat_seconds is not None:
            await asyncio.to_thread(self.register)
            self._heartbeat = asyncio.create_task(self._beat(self.heartbeat_seconds))
        self._write_state()
        log.info(
            "listening for live streams on %s:%d (%s, up to %d streams)",
            host,
            port,
            self.model_label,
            self.max_streams,
        )
        return self._server

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            try:
                await asyncio.to_thread(self._withdraw)
            except SQLAlchemyError as error:
                log.warning("could not take this recogniser's row away: %s", error)
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._finisher is not None:
            self._finisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._finisher
        if self._server is not None:
            await self._server.wait_closed()
        stopped = await asyncio.to_thread(self.recover, "recogniser stopped")
        if stopped:
            log.warning("marked %d streams broken: the recogniser stopped", stopped)

    def register(self) -> None:
        """Write (or refresh) this recogniser's row: its address, capacity and heartbeat."""
        with transaction(self.factory) as session:
            recognisers.heartbeat(
                session, self.address, self.capacity, self.clock(), self._started_at
            )

    def _withdraw(self) -> None:
        with transaction(self.factory) as session:
            recognisers.withdraw(session, self.address)

    async def _beat(self, interval: float) -> None:
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.register)
            except SQLAlchemyError as error:
                if not failing:
                    log.warning("recogniser heartbeat not written: %s", error)
                failing = True
            else:
                failing = False

    def recover(self, reason: str = "recogniser restarted") -> int:
        """Streams addressed to this recogniser that a previous run left ``requested`` or
        ``live`` are broken (``reason``); their calls' jobs go to the batch workers."""
        now = self.clock()
        with transaction(self.factory) as session:
            left = list(
                session.scalars(
                    select(LiveStream).where(
                        LiveStream.recogniser.in_(self.addresses),
                        LiveStream.status.in_([StreamStatus.REQUESTED, StreamStatus.LIVE]),
                    )
                )
            )
            for stream in left:
                stream.status = StreamStatus.BROKEN
                stream.reason = reason
                stream.ended_at = now
            session.flush()
            for call_uniqueid in {s.call_uniqueid for s in left}:
                try_finish(session, call_uniqueid, now)
        return len(left)

    def _write_state(self) -> None:
        if self.state_path is None:
            return
        state = {
            "pid": os.getpid(),
            "listening": True,
            "engine": self.recognisers.engine,
            "model": self.recognisers.model,
            "address": self.address,
            "streams": len(self.active),
            "max_streams": self.max_streams,
        }
        write_private(self.state_path, json.dumps(state))

    # --- one connection ---------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._connection(reader)
        except Exception:
            log.exception("live stream connection failed")
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader) -> None:
        try:
            stream_id = await self._read_id(reader)
        except (ProtocolError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.warning("closed a stream connection before its id: %s", _why(exc))
            return
        loop = asyncio.get_running_loop()
        started, accepted_at = loop.time(), self.clock()
        full = len(self.active) + self._claiming >= self.max_streams
        self._claiming += 0 if full else 1  # a place is held while the claim runs
        try:
            claimed = await asyncio.to_thread(self._claim, stream_id, accepted_at, full)
        finally:
            self._claiming -= 0 if full else 1
        if claimed is None:
            log.warning("refused stream %s: not requested (or already taken)", stream_id)
            return
        if full:
            log.warning("refused stream %s: %d streams already", stream_id, len(self.active))
            await self._after_stream(claimed.call_uniqueid)
            return
        self.active.add(stream_id)
        self._write_state()
        log.info(
            "stream %s (%s of call %s) live", stream_id, claimed.speaker, claimed.call_uniqueid
        )
        try:
            status, reason = await self._run_stream(reader, claimed, started)
        finally:
            self._release(stream_id)
            self.store.forget(stream_id)
        await asyncio.to_thread(self._end, claimed, status, reason)
        log.info("stream %s %s%s", stream_id, status, f": {reason}" if reason else "")
        await self._after_stream(claimed.call_uniqueid)

    def _release(self, stream_id: str) -> None:
        if stream_id in self.active:
            self.active.discard(stream_id)
            self._write_state()

    async def _read_id(self, reader: asyncio.StreamReader) -> str:
        async with asyncio.timeout(self.stall_seconds):
            kind, length = audiosocket.header(await reader.readexactly(audiosocket.HEADER_BYTES))
            if kind != Kind.ID or length != 16:
                raise ProtocolError(f"first message of kind 0x{kind:02x}, {length} bytes")
            payload = await reader.readexactly(length)
        return audiosocket.stream_id(audiosocket.Message(kind, payload))

    def _claim(self, stream_id: str, now: dt.datetime, refuse: bool) -> Claimed | None:
        """Take a requested stream (``live``; ``broken`` when the listener is full)."""
        with transaction(self.factory) as session:
            taken = session.execute(
                update(LiveStream)
                .where(LiveStream.id == stream_id, LiveStream.status == StreamStatus.REQUESTED)
                .values(
                    status=StreamStatus.BROKEN if refuse else StreamStatus.LIVE,
                    reason="the recogniser is full" if refuse else "",
                    started_at=now,
                    ended_at=now if refuse else None,
                    model=self.model_label,
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            stream = session.get(LiveStream, stream_id)
            assert stream is not None
            call = session.scalar(
                select(Call).where(Call.asterisk_uniqueid == stream.call_uniqueid)
            )
            offset = 0.0
            if call is not None and call.recording_started_at is not None:
                offset = max(0.0, (now - call.recording_started_at).total_seconds())
            stream.offset_seconds = offset
            return Claimed(stream.id, stream.call_uniqueid, stream.speaker, offset)

    async def _run_stream(
        self, reader: asyncio.StreamReader, claimed: Claimed, started: float
    ) -> tuple[StreamStatus, str]:
        try:
            recogniser = await asyncio.to_thread(self.recognisers.new_stream)
        except Exception as exc:
            log.exception("stream %s: no recogniser", claimed.stream_id)
            return StreamStatus.BROKEN, f"recogniser failed to start: {exc}"[:500]
        worker = StreamWorker(claimed, recogniser, self.store)
        try:
            ending = await self._pump(reader, claimed, worker, started)
        except StreamBroken as exc:
            worker.stop()
            return StreamStatus.BROKEN, str(exc)
        except (ProtocolError, TimeoutError, asyncio.IncompleteReadError, OSError) as exc:
            worker.stop()
            return StreamStatus.BROKEN, _why(exc)
        except asyncio.CancelledError:
            worker.stop()
            raise
        # The connection is over: its place is free for the next stream (after a transfer,
        # the new operator's stream arrives while this one's last audio is still decoded).
        self._release(claimed.stream_id)
        worker.finish()
        await asyncio.to_thread(worker.finished.wait)
        if worker.error is not None:
            return StreamStatus.BROKEN, worker.error
        return StreamStatus.DONE, ending

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        claimed: Claimed,
        worker: StreamWorker,
        started: float,
    ) -> str:
        """Read frames until the stream ends; the reason it ended ('' for the socket's end)."""
        loop = asyncio.get_running_loop()
        clock = StreamClock()
        checked = loop.time()
        while True:
            if worker.error is not None:
                raise StreamBroken(worker.error)
            if loop.time() - checked >= CALL_CHECK_SECONDS:
                checked = loop.time()
                if await asyncio.to_thread(self._call_over, claimed.call_uniqueid):
                    return "the call is over"
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    first = await reader.readexactly(1)
            except TimeoutError:
                worker.tick(loop.time() - started)
                continue
            except asyncio.IncompleteReadError:
                return ""  # the socket closed between messages: the stream's end
            async with asyncio.timeout(self.stall_seconds):
                kind, length = audiosocket.header(first + await reader.readexactly(2))
                use = check_frame(kind, length)
                payload = await reader.readexactly(length) if length else b""
            if use is FrameUse.AUDIO:
                worker.feed(payload, clock.place(loop.time() - started, len(payload)))
            elif use is FrameUse.END:
                return "hung up"
            elif use is FrameUse.ERROR:
                raise StreamBroken(f"Asterisk reported an error ({payload.hex()[:16]})")

    def _call_over(self, call_uniqueid: str) -> bool:
        with self.factory() as session:
            ended = session.scalar(
                select(Call.ended_at).where(Call.asterisk_uniqueid == call_uniqueid)
            )
        return ended is not None and (self.clock() - ended).total_seconds() > CALL_OVER_SECONDS

    def _end(self, claimed: Claimed, status: StreamStatus, reason: str) -> None:
        with transaction(self.factory) as session:
            session.execute(
                update(LiveStream)
                .where(LiveStream.id == claimed.stream_id, LiveStream.status == StreamStatus.LIVE)
                .values(status=status, reason=reason[:2000], ended_at=self.clock())
                .execution_options(synchronize_session=False)
            )

    # --- the call's final transcript --------------------------------------------------

    async def _after_stream(self, call_uniqueid: str) -> None:
        """Try the call's transcript now; if the recording is not stored yet, retry every
        ``FINISH_POLL_SECONDS`` until it is (or the grace ends)."""
        try:
            outcome = await asyncio.to_thread(self._try_finish, call_uniqueid)
        except Exception:
            log.exception("call %s: the live transcript failed", call_uniqueid)
            outcome = Finish.WAITING
        if outcome is Finish.FINISHED:
            log.info("call %s: live transcript stored", call_uniqueid)
        elif outcome is Finish.WAITING:
            self._pending[call_uniqueid] = time.monotonic() + self.grace_seconds

    async def _finish_pending(self) -> None:
        while True:
            await asyncio.sleep(FINISH_POLL_SECONDS)
            for call_uniqueid, deadline in list(self._pending.items()):
                try:
                    outcome = await asyncio.to_thread(self._try_finish, call_uniqueid)
                except Exception:  # retried until the deadline
                    log.exception("call %s: the live transcript failed", call_uniqueid)
                    outcome = Finish.WAITING
                if outcome is not Finish.WAITING or time.monotonic() > deadline:
                    self._pending.pop(call_uniqueid, None)
                if outcome is Finish.FINISHED:
                    log.info("call %s: live transcript stored", call_uniqueid)

    def _try_finish(self, call_uniqueid: str) -> Finish:
        with transaction(self.factory) as session:
            return try_finish(session, call_uniqueid, self.clock())


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "stalled: nothing complete arrived in time"
    if isinstance(exc, asyncio.IncompleteReadError):
        return f"cut in the middle of a message ({len(exc.partial)} of {exc.expected} bytes)"
    return str(exc) or type(exc).__name__


def state_file(run_dir: Path) -> Path:
    """Where the listener says what it is doing, for ``hotline status``."""
    return run_dir / "asr-live.json"


def write_idle_state(path: Path, reason: str) -> None:
    """The listener is not listening (no model, or live transcription off): say why."""
    write_private(path, json.dumps({"pid": os.getpid(), "listening": False, "reason": reason}))


def read_state(path: Path) -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


async def run_until_stopped(listener: LiveListener, host: str, port: int) -> None:
    """Listen until SIGTERM or SIGINT; then close every stream (their jobs go to the batch)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await listener.start(host, port)
    try:
        await stop.wait()
    finally:
        log.info("stopping the live stream listener")
        await listener.close()


async def idle_until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
