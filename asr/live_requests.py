"""Asking Asterisk for each speaker's live audio: which recogniser takes a call, the AMI action
that sends a speaker's voice there, and the rows that let the listener accept it.

For each speaker, an AMI ``Originate`` of ``AudioSocket/<host>:<port>/<stream id>/c(slin16)``
running ``ChanSpy(<spied channel>,qEou)``: ``q`` no beep, ``E`` end when the spied channel
ends, ``o`` only that channel's own voice, ``u`` the channel named exactly (not a prefix of
other names) and, if it is already gone, ChanSpy ends at once instead of waiting for a
channel by that name. The stream's :class:`~asr.live_models.LiveStream` row (``requested``)
is written before the Originate: the listener accepts only ids it finds there.

A call is admitted when a recogniser has fewer than ``capacity`` calls with streams
``requested`` or ``live``; otherwise it gets no live stream and is transcribed from its
recording, as before. The recognisers are those registered in the database and alive
(``asr.recognisers``: each with its own capacity; the one with the most room is chosen), or,
when none is, the static list with ``asr_live_capacity`` each (the first with room, in the
order listed): this host's listener by default. An explicit ``asr_live_recognisers`` list pins
the recognisers (the registered ones are not consulted: ``registered_max_age`` None). Two nodes
admitting at the same moment may both take a recogniser's last place; the listener then refuses
the second stream (``broken``: that call goes to the batch workers). The operator's voice is
asked for only for a call whose caller stream was admitted and has not broken, on the caller's
recogniser. When Asterisk refuses or fails the Originate, the stream is marked ``broken`` with
the reason, and the call's job goes to the batch workers (:func:`asr.live_finish.try_finish`).

The functions are pure; :class:`LiveRequests` does the database writes and sends the actions
through the ``send_action`` it is given (the AMI connection of the ivr process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from asr import live_finish, recognisers
from asr.channels import CALLER, OPERATOR
from asr.live_models import LiveStream, StreamStatus
from asr.live_reads import streams_of
from core.db import transaction
from core.waiting import async_wait_for

log = logging.getLogger(__name__)

SendAction = Callable[[dict[str, str]], Awaitable[Any]]
Recogniser = tuple[str, int]

SPY_OPTIONS = "qEou"
# An AudioSocket channel answers as soon as its connection is made; this bounds the wait.
ORIGINATE_TIMEOUT_MS = 5000
# How long after its OriginateResponse Asterisk's reply may still be on its way.
RESPONSE_MARGIN_SECONDS = 5.0
OPEN_STATUSES = (StreamStatus.REQUESTED, StreamStatus.LIVE)
NEVER_CONNECTED = "the stream never reached the recogniser before the call ended"
# OriginateResponse "Reason": the last control frame Asterisk saw on the new channel.
ORIGINATE_REASONS = {
    "0": "Asterisk could not create the AudioSocket channel",
    "1": "the AudioSocket channel hung up at once",
    "5": "the AudioSocket channel was busy",
    # What Asterisk 22 answers when the recogniser refuses or cannot be reached.
    "8": "the AudioSocket channel could not connect to the recogniser (refused or unreachable)",
}


# -- pure -----------------------------------------------------------------------------------


def recogniser_name(recogniser: Recogniser) -> str:
    """How a recogniser is named in a stream row: ``host:port``."""
    host, port = recogniser
    return f"{host}:{port}"


def parse_recogniser(name: str) -> Recogniser:
    host, _, port = name.rpartition(":")
    return host, int(port)


def admit(
    recognisers: Sequence[Recogniser], load: Mapping[str, int], capacity: int
) -> Recogniser | None:
    """The first recogniser, in the order listed, with fewer than ``capacity`` calls
    (``load``: calls per recogniser name); ``None`` when all are full (or capacity is 0)."""
    for recogniser in recognisers:
        if load.get(recogniser_name(recogniser), 0) < capacity:
            return recogniser
    return None


def may_stream_operator(streams: Iterable[LiveStream], channel: str) -> LiveStream | None:
    """The call's caller stream, if an operator's leg ``channel`` may be streamed too: the
    caller stream was admitted, has not broken, and ``channel`` is not streamed already."""
    streams = list(streams)
    if any(s.spied_channel == channel for s in streams):
        return None
    caller = next((s for s in streams if s.speaker == CALLER), None)
    if caller is None or caller.status == StreamStatus.BROKEN:
        return None
    return caller


def _dial_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def originate_action(
    stream: LiveStream, host: str, port: int, timeout_ms: int = ORIGINATE_TIMEOUT_MS
) -> dict[str, str]:
    """The AMI action that sends ``stream.spied_channel``'s own voice to ``host:port`` as
    16 kHz signed linear audio, under the stream's id.

    The ``originate`` write class is enough for ChanSpy (Asterisk 22's manager.c asks for
    ``system`` only for AGI, Exec, System, MixMonitor... applications, or for data holding
    CURL, DB, EVAL, FILE, ODBC, REALTIME or SHELL): an endpoint whose name holds one of these
    (an operator called "DB01") would have its Originate refused, and its stream broken."""
    stream_id = str(uuid.UUID(stream.id))  # canonical form; refuses anything else
    return {
        "Action": "Originate",
        "Channel": f"AudioSocket/{_dial_host(host)}:{port}/{stream_id}/c(slin16)",
        "Application": "ChanSpy",
        "Data": f"{stream.spied_channel},{SPY_OPTIONS}",
        "Timeout": str(timeout_ms),
        "Async": "true",
    }


def originate_failure(reply: object) -> str | None:
    """Why an async Originate failed, from panoramisk's reply (the "queued" response then the
    ``OriginateResponse`` event, or a lone error response); ``None`` when it succeeded."""
    if isinstance(reply, Mapping):
        messages: list[Mapping[str, Any]] = [reply]
    elif isinstance(reply, list):
        messages = [m for m in reply if isinstance(m, Mapping)]
    else:
        messages = []
    if not messages:
        return f"unreadable reply to Originate: {reply!r}"
    final = next((m for m in reversed(messages) if m.get("Event") == "OriginateResponse"), None)
    if final is None:
        first = messages[0]
        return f"Originate refused: {first.get('Message') or dict(first)}"
    if final.get("Response") == "Success":
        return None
    code = str(final.get("Reason", "")).strip()
    return ORIGINATE_REASONS.get(code, f"Originate failed (reason {code or 'none'})")


def new_stream(
    call_uniqueid: str,
    speaker: str,
    channel: str,
    recogniser: str,
    offset_seconds: float,
    now: dt.datetime,
) -> LiveStream:
    return LiveStream(
        id=str(uuid.uuid4()),
        call_uniqueid=call_uniqueid,
        speaker=speaker,
        spied_channel=channel,
        recogniser=recogniser,
        offset_seconds=round(max(0.0, offset_seconds), 3),
        status=StreamStatus.REQUESTED,
        reason="",
        requested_at=now,
    )


# -- database --------------------------------------------------------------------------------


def load(session: Session) -> dict[str, int]:
    """Calls with a stream ``requested`` or ``live``, per recogniser."""
    rows = session.execute(
        select(LiveStream.recogniser, func.count(func.distinct(LiveStream.call_uniqueid)))
        .where(LiveStream.status.in_(OPEN_STATUSES))
        .group_by(LiveStream.recogniser)
    ).all()
    return {str(recogniser): int(count) for recogniser, count in rows}


def mark_broken(session: Session, stream_ids: Sequence[str], reason: str, now: dt.datetime) -> int:
    """Mark the streams still ``requested`` broken (one the listener took is its own)."""
    if not stream_ids:
        return 0
    result = session.execute(
        update(LiveStream)
        .where(LiveStream.id.in_(stream_ids), LiveStream.status == StreamStatus.REQUESTED)
        .values(status=StreamStatus.BROKEN, reason=reason[:2000], ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class LiveRequests:
    """The ivr's :class:`ivr.call_tracker.LiveAudio`: one stream per speaker, admitted up to
    ``capacity`` calls per recogniser. Requests for one call run one after the other (the
    operator's waits for the caller's); admission is one at a time across calls."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        static_recognisers: Sequence[Recogniser],
        capacity: int,
        send_action: SendAction,
        clock: Callable[[], dt.datetime],
        *,
        connect_seconds: float = 5.0,
        registered_max_age: dt.timedelta | None = None,
    ) -> None:
        self.sessions = sessions
        self.recognisers = tuple(static_recognisers)
        # Given: registered recognisers with a heartbeat this fresh come before the list.
        self.registered_max_age = registered_max_age
        self.capacity = capacity
        self.send_action = send_action
        self.clock = clock
        self.connect_seconds = connect_seconds
        self.admission = asyncio.Lock()
        self.calls: dict[str, asyncio.Lock] = {}
        self.recording_at: dict[str, dt.datetime] = {}
        self.over: set[str] = set()  # calls ended: requests still queued for them are dropped

    def _lock(self, uniqueid: str) -> asyncio.Lock:
        return self.calls.setdefault(uniqueid, asyncio.Lock())

    # -- LiveAudio ------------------------------------------------------------------------

    async def recording_started(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        async with self._lock(uniqueid):
            if uniqueid in self.over:
                return
            self.recording_at[uniqueid] = at
            async with self.admission:
                stream = await asyncio.to_thread(self._request_caller, uniqueid, channel)
            if stream is None:
                log.info("call %s: no live recogniser free; transcribed after the call", uniqueid)
                return
            await self._originate(stream)

    async def operator_answered(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        async with self._lock(uniqueid):
            if uniqueid in self.over:
                return  # the call ended while an earlier request of it was answered
            stream = await asyncio.to_thread(self._request_operator, uniqueid, channel, at)
            if stream is not None:
                await self._originate(stream)

    async def transferred(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        log.info("call %s: transferred to %s; streaming the new party", uniqueid, channel)
        await self.operator_answered(uniqueid, channel, at)

    async def call_over(self, uniqueid: str) -> None:
        """Once every request of the call is answered, give the listener ``connect_seconds``
        to take streams still ``requested``; any it did not take are marked broken, so the
        call's job goes to the batch workers rather than waiting out its grace."""
        self.over.add(uniqueid)
        async with self._lock(uniqueid):
            self.recording_at.pop(uniqueid, None)

            async def taken() -> bool:
                return not await asyncio.to_thread(self._waiting, uniqueid)

            try:
                await async_wait_for(taken, self.connect_seconds, f"streams of {uniqueid}", 0.1)
            except TimeoutError:
                await asyncio.to_thread(self._break_waiting, uniqueid, NEVER_CONNECTED)
        self.calls.pop(uniqueid, None)
        self.over.discard(uniqueid)

    # -- steps ----------------------------------------------------------------------------

    def _request_caller(self, uniqueid: str, channel: str) -> LiveStream | None:
        if self.capacity <= 0:
            return None
        with transaction(self.sessions) as session:
            if any(s.speaker == CALLER for s in streams_of(session, uniqueid)):
                return None  # asked for already
            chosen = self._choose(session)
            if chosen is None:
                return None
            stream = new_stream(
                uniqueid, CALLER, channel, recogniser_name(chosen), 0.0, self.clock()
            )
            session.add(stream)
            session.flush()
            session.expunge(stream)
            return stream

    def _choose(self, session: Session) -> Recogniser | None:
        """A recogniser with room: among the registered live ones if any is, else from the
        static list; ``None`` when none has room."""
        current = load(session)
        if self.registered_max_age is not None:
            rooms = recognisers.live_rooms(
                recognisers.registered(session), self.clock(), self.registered_max_age
            )
            if rooms:
                room = recognisers.choose(rooms, current)
                return parse_recogniser(room.name) if room is not None else None
        return admit(self.recognisers, current, self.capacity)

    def _request_operator(self, uniqueid: str, channel: str, at: dt.datetime) -> LiveStream | None:
        with transaction(self.sessions) as session:
            caller = may_stream_operator(streams_of(session, uniqueid), channel)
            if caller is None:
                return None
            started = self.recording_at.get(uniqueid)
            offset = (at - started).total_seconds() if started is not None else 0.0
            stream = new_stream(
                uniqueid, OPERATOR, channel, caller.recogniser, offset, self.clock()
            )
            session.add(stream)
            session.flush()
            session.expunge(stream)
            return stream

    async def _originate(self, stream: LiveStream) -> None:
        host, port = parse_recogniser(stream.recogniser)
        action = originate_action(stream, host, port)
        wait = ORIGINATE_TIMEOUT_MS / 1000 + RESPONSE_MARGIN_SECONDS
        try:
            reply = await asyncio.wait_for(self.send_action(action), wait)
        except TimeoutError:
            failure: str | None = f"no OriginateResponse from Asterisk in {wait:.0f} s"
        except Exception as error:  # the AMI connection is down or refused the action
            failure = f"Originate not sent: {error!r}"
        else:
            failure = originate_failure(reply)
        if failure is None:
            log.info(
                "call %s: %s stream %s sent to %s",
                stream.call_uniqueid,
                stream.speaker,
                stream.id,
                stream.recogniser,
            )
            return
        log.warning(
            "call %s: %s stream %s broken: %s",
            stream.call_uniqueid,
            stream.speaker,
            stream.id,
            failure,
        )
        await asyncio.to_thread(self._break, stream.call_uniqueid, [stream.id], failure)

    def _waiting(self, uniqueid: str) -> list[str]:
        with self.sessions() as session:
            return [
                s.id for s in streams_of(session, uniqueid) if s.status == StreamStatus.REQUESTED
            ]

    def _break_waiting(self, uniqueid: str, reason: str) -> None:
        self._break(uniqueid, self._waiting(uniqueid), reason)

    def _break(self, uniqueid: str, stream_ids: Sequence[str], reason: str) -> None:
        now = self.clock()
        with transaction(self.sessions) as session:
            if mark_broken(session, stream_ids, reason, now):
                live_finish.try_finish(session, uniqueid, now)
