"""The dialer of callbacks through the operator's phone (漏接回拨), inside the ivr service.

Every second it claims the dials operators asked for in the console
(``dispatch.feedback.operator_dial``) and asks Asterisk over AMI to ring the operator first::

    Action: Originate
    Channel: PJSIP/<operator's phone>
    Context: hotline-operator-dial / Exten: <citizen's number> / Priority: 1
    Timeout: <queue ring seconds × 1000>
    CallerID: "Callback <number>" <number>
    ChannelId: <dial id>            (the operator's channel's uniqueid)
    Async: true

The ``OriginateResponse`` says whether the operator answered (else why not: no answer, busy,
unregistered — the channel's hang-up cause says more). Once answered, the dial plan dials the
citizen through the outbound trunk (``PJSIP/<number>@citizens-out``); then AMI tells the rest,
on the operator's channel:

- ``BridgeEnter``: the citizen answered, the two are talking;
- ``UserEvent: HotlineOperatorDial`` with ``DialStatus``/``Cause``: the citizen's leg ended
  unanswered (no answer, busy, unreachable);
- ``Hangup``: the call is over (or the operator gave up while the citizen's phone rang).

The AMI callbacks only turn those messages into small frozen events and queue them; one task
applies them in order, in worker threads, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.settings import Settings
from dispatch.feedback import operator_dial
from dispatch.feedback.callback_dialer import originate_outcome
from dispatch.feedback.dial_loop import DialLoop
from dispatch.feedback.operator_dial import DueDial
from ivr.ami_adapter import event_time
from ivr.ami_listener import AmiListener
from ivr.asterisk_config import CONTEXT_OPERATOR_DIAL, EVENT_OPERATOR_DIAL

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # an operator is waiting in front of the console
RESPONSE_MARGIN_SECONDS = 30.0  # how long after the ring time an OriginateResponse may come
STALE_MARGIN = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class CitizenAnswered:
    dial_id: str
    at: dt.datetime


@dataclass(frozen=True)
class CitizenNotAnswered:
    dial_id: str
    at: dt.datetime
    dial_status: str
    cause: int | None


@dataclass(frozen=True)
class OperatorHungUp:
    dial_id: str
    at: dt.datetime
    cause: int | None


DialEvent = CitizenAnswered | CitizenNotAnswered | OperatorHungUp


def _cause(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def dial_event(message: Mapping[str, str], watched: Container[str]) -> DialEvent | None:
    """The event an AMI message is for a dial being placed (its operator channel's uniqueid
    is the dial's id), or None."""
    dial_id = message.get("Uniqueid", "")
    if not dial_id or dial_id not in watched:
        return None
    match message.get("Event"):
        case "BridgeEnter":
            return CitizenAnswered(dial_id, event_time(message))
        case "UserEvent" if message.get("UserEvent") == EVENT_OPERATOR_DIAL:
            return CitizenNotAnswered(
                dial_id,
                event_time(message),
                (message.get("DialStatus") or "").strip(),
                _cause(message.get("Cause")),
            )
        case "Hangup":
            return OperatorHungUp(dial_id, event_time(message), _cause(message.get("Cause")))
        case _:
            return None


def apply(session: Session, event: DialEvent) -> bool:
    """Record what an event says; False when it changed nothing (reported already)."""
    match event:
        case CitizenAnswered():
            return operator_dial.citizen_answered(session, event.dial_id, event.at)
        case CitizenNotAnswered():
            return operator_dial.citizen_ended(
                session, event.dial_id, event.dial_status, event.cause, event.at
            )
        case OperatorHungUp():
            return operator_dial.operator_hung_up(session, event.dial_id, event.at)


@dataclass(frozen=True)
class OperatorDialerConfig:
    operator_ring_seconds: int
    citizen_ring_seconds: int
    poll_seconds: float = POLL_SECONDS
    context: str = CONTEXT_OPERATOR_DIAL
    # The operators' phones on this node (issue 18): a node dials only through its own
    # phones, the other nodes dial through theirs. None: every phone (the single machine).
    phones: frozenset[str] | None = None

    @property
    def stale_after(self) -> dt.timedelta:
        return (
            dt.timedelta(seconds=self.operator_ring_seconds + self.citizen_ring_seconds)
            + STALE_MARGIN
        )


def originate_action(dial: DueDial, config: OperatorDialerConfig) -> dict[str, str]:
    """The AMI action that rings the operator's phone and then calls the citizen. Both
    names become part of dial strings: they are checked again here."""
    if not operator_dial_phone_ok(dial.phone):
        raise ValueError(f"not an operator phone: {dial.phone!r}")
    if not dial.number.isdigit():
        raise ValueError(f"not a diallable number: {dial.number!r}")
    return {
        "Action": "Originate",
        "Channel": f"PJSIP/{dial.phone}",
        "Context": config.context,
        "Exten": dial.number,
        "Priority": "1",
        "Timeout": str(config.operator_ring_seconds * 1000),
        "CallerID": f'"Callback {dial.number}" <{dial.number}>',
        "ChannelId": dial.id,
        "Async": "true",
    }


def operator_dial_phone_ok(phone: str) -> bool:
    return bool(phone) and phone.isascii() and phone.isalnum() and len(phone) <= 64


class DialAmi(Protocol):
    @property
    def connected(self) -> bool: ...

    @property
    def events(self) -> asyncio.Queue[DialEvent]: ...

    def send_action(self, action: dict[str, str]) -> Awaitable[Any]: ...

    def watch(self, uniqueid: str) -> None: ...

    def hangup_cause(self, uniqueid: str) -> int | None: ...

    def forget(self, uniqueid: str) -> None: ...


class ListenerDialAmi:
    """The AMI listener's connection, as this dialer sees it: the events of the channels
    being watched become ``DialEvent``s on a queue."""

    def __init__(self, listener: AmiListener) -> None:
        self.listener = listener
        self.watched: dict[str, int | None] = {}  # uniqueid -> its hang-up cause, once known
        self._events: asyncio.Queue[DialEvent] = asyncio.Queue()
        for name in ("BridgeEnter", "UserEvent", "Hangup"):
            listener.manager.register_event(name, self._on_event)

    def _on_event(self, _manager: Any, message: Mapping[str, str]) -> None:
        try:
            event = dial_event(message, self.watched)
        except ValueError:
            log.exception("unusable AMI event for an operator dial: %r", dict(message))
            return
        if event is None:
            return
        if isinstance(event, OperatorHungUp):
            self.watched[event.dial_id] = event.cause if event.cause is not None else 0
        self._events.put_nowait(event)

    @property
    def connected(self) -> bool:
        return bool(self.listener.connected)

    @property
    def events(self) -> asyncio.Queue[DialEvent]:
        return self._events

    def send_action(self, action: dict[str, str]) -> Awaitable[Any]:
        future: Awaitable[Any] = self.listener.manager.send_action(action)
        return future

    def watch(self, uniqueid: str) -> None:
        self.watched[uniqueid] = None

    def hangup_cause(self, uniqueid: str) -> int | None:
        return self.watched.get(uniqueid)

    def forget(self, uniqueid: str) -> None:
        self.watched.pop(uniqueid, None)


class OperatorDialer(DialLoop[DueDial]):
    """Dials what operators asked for (nothing while AMI is down: a request left too long
    then fails, see ``operator_dial.claim_pending``) and applies the dials' AMI events."""

    what = "operator dial"

    def __init__(
        self,
        config: OperatorDialerConfig,
        sessions: sessionmaker[Session],
        ami: DialAmi,
        clock: Callable[[], dt.datetime],
    ) -> None:
        super().__init__(ami, clock, config.poll_seconds)
        self.config = config
        self.sessions = sessions
        self.ami = ami
        self.tasks: list[asyncio.Task[None]] = []
        self.awaiting: set[str] = set()  # dials whose OriginateResponse has not come yet

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.run_polls()), asyncio.create_task(self.consume())]

    async def dial(self, dial: DueDial) -> None:
        cfg = self.config
        try:
            action = originate_action(dial, cfg)
        except ValueError as exc:
            log.error("operator dial %s: cannot dial: %s", dial.id, exc)
            await asyncio.to_thread(self._operator_failed, dial.id, f"cannot dial: {exc}")
            return
        log.info(
            "operator dial %s: ringing %s for %s (operator %s)",
            dial.id,
            action["Channel"],
            dial.number,
            dial.operator,
        )
        self.ami.watch(dial.id)
        self.awaiting.add(dial.id)
        try:
            reply = await asyncio.wait_for(
                self.ami.send_action(action), cfg.operator_ring_seconds + RESPONSE_MARGIN_SECONDS
            )
        except TimeoutError:
            log.warning("operator dial %s: no OriginateResponse", dial.id)
            return  # left ringing until its events settle it or it is found stale
        finally:
            self.awaiting.discard(dial.id)
        outcome = originate_outcome(reply)
        if outcome.answered:
            at = _response_time(reply) or self.clock()
            await asyncio.to_thread(self._operator_answered, dial.id, at)
            log.info("operator dial %s: the operator answered; dialling the citizen", dial.id)
            if self.ami.hangup_cause(dial.id) is not None:  # over already (a quick busy)
                self.ami.forget(dial.id)
            return  # else the channel stays watched until it hangs up
        outcome = originate_outcome(reply, await self.hangup_cause(dial.id))
        self.ami.forget(dial.id)
        log.info("operator dial %s: the operator's phone: %s", dial.id, outcome.reason)
        await asyncio.to_thread(self._operator_failed, dial.id, outcome.reason)

    async def consume(self) -> None:
        """Apply the dials' events in the order AMI sent them; one failure never stops it."""
        while True:
            event = await self.ami.events.get()
            try:
                changed = await asyncio.to_thread(self._apply, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("operator dial %s: could not record %r", event.dial_id, event)
                continue
            log.info(
                "operator dial %s: %s%s",
                event.dial_id,
                type(event).__name__,
                "" if changed else " (nothing to change)",
            )
            # While the OriginateResponse is awaited, the hang-up's cause is the dial task's
            # to read (it says why the operator's phone failed) and forget.
            if isinstance(event, OperatorHungUp) and event.dial_id not in self.awaiting:
                self.ami.forget(event.dial_id)

    async def close(self) -> None:
        """Stop polling, applying and waiting for calls being placed; a dial left ringing
        is settled as lost once stale."""
        await self.cancel_with(*self.tasks)

    # -- database, in worker threads ------------------------------------------------------

    def claim(self, now: dt.datetime) -> list[DueDial]:
        with transaction(self.sessions) as session:
            for dial_id in operator_dial.recover_stale(session, now, self.config.stale_after):
                log.warning("operator dial %s had no outcome; counted as failed", dial_id)
            return operator_dial.claim_pending(session, now, phones=self.config.phones)

    def _operator_answered(self, dial_id: str, at: dt.datetime) -> None:
        with transaction(self.sessions) as session:
            operator_dial.operator_answered(session, dial_id, at)

    def _operator_failed(self, dial_id: str, reason: str) -> None:
        with transaction(self.sessions) as session:
            operator_dial.operator_failed(session, dial_id, reason, self.clock())

    def _apply(self, event: DialEvent) -> bool:
        with transaction(self.sessions) as session:
            return apply(session, event)


def _response_time(reply: Any) -> dt.datetime | None:
    """When the OriginateResponse says the operator answered (its own timestamp)."""
    messages = [reply] if isinstance(reply, Mapping) else list(reply)
    for message in reversed(messages):
        if message.get("Event") == "OriginateResponse":
            try:
                return event_time(message)
            except ValueError:
                return None
    return None


def operator_dialer_for(
    settings: Settings,
    sessions: sessionmaker[Session],
    listener: AmiListener,
    clock: Callable[[], dt.datetime],
) -> OperatorDialer | None:
    """The ivr service's operator dialer; none when no outbound trunk is configured (the
    console refuses the requests then)."""
    if not settings.outbound_sip_target:
        log.warning("HOTLINE_OUTBOUND_SIP_TARGET is not set: operators cannot dial callbacks")
        return None
    config = OperatorDialerConfig(
        operator_ring_seconds=settings.queue_ring_seconds,
        citizen_ring_seconds=settings.satisfaction_ring_seconds,
        phones=frozenset(settings.operators) if settings.node_name else None,
    )
    return OperatorDialer(config, sessions, ListenerDialAmi(listener), clock)
