"""Call state as a pure function of call events, each applied at its own timestamp."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable
from enum import StrEnum
from functools import reduce

from ivr import events as ev


class Outcome(StrEnum):
    ANSWERED = "answered"
    MESSAGE_LEFT = "message_left"
    ABANDONED = "abandoned"
    HUNG_UP_DURING_NOTICE = "hung_up_during_notice"
    FAILED = "failed"
    # Issue 18, H7: a node's row for another node's waiting caller (overflow): not a citizen's
    # call of its own (the first node's row is), answered here by an operator or not.
    OVERFLOW_ANSWERED = "overflow_answered"
    OVERFLOW_UNANSWERED = "overflow_unanswered"


# The outcomes of overflow legs: never counted as calls, never called back.
OVERFLOW_OUTCOMES = frozenset({Outcome.OVERFLOW_ANSWERED, Outcome.OVERFLOW_UNANSWERED})


@dataclasses.dataclass(frozen=True)
class CallState:
    uniqueid: str
    linkedid: str = ""
    channel: str = ""
    caller_number: str = ""
    caller_name: str = ""
    dialled_number: str = ""
    started_at: dt.datetime | None = None
    notice_finished_at: dt.datetime | None = None
    recording_started_at: dt.datetime | None = None
    recording_path: str | None = None
    queued_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    operator: str | None = None
    message_started_at: dt.datetime | None = None
    abandoned_at: dt.datetime | None = None
    failure_reason: str | None = None
    ended_at: dt.datetime | None = None
    hangup_cause: int | None = None
    # Issue 18, H7: the first node's call (uniqueid) this call is an overflow leg of.
    overflow_of: str | None = None

    @property
    def is_over(self) -> bool:
        return self.ended_at is not None

    @property
    def outcome(self) -> Outcome | None:
        """The outcome once the call is over; ``None`` while it is still up."""
        if self.ended_at is None:
            return None
        return classify(self)


def classify(state: CallState) -> Outcome:
    if state.overflow_of is not None:
        # The first node owns the caller (its notice, recording, message, call-back).
        if state.answered_at is not None:
            return Outcome.OVERFLOW_ANSWERED
        return Outcome.OVERFLOW_UNANSWERED
    if state.failure_reason is not None:
        return Outcome.FAILED
    if state.answered_at is not None:
        return Outcome.ANSWERED
    if state.message_started_at is not None:
        return Outcome.MESSAGE_LEFT
    if state.notice_finished_at is None:
        return Outcome.HUNG_UP_DURING_NOTICE
    return Outcome.ABANDONED


def _first(current: dt.datetime | None, at: dt.datetime) -> dt.datetime:
    return current if current is not None else at


def apply(state: CallState, event: ev.CallEvent) -> CallState:
    """Return the state after ``event``. Events for other calls and unknown kinds are ignored;
    after its hang-up nothing changes a call but a failure found later."""
    if event.uniqueid != state.uniqueid:
        return state
    replace = dataclasses.replace
    if state.is_over and not isinstance(event, ev.CallFailed):
        return state
    match event:
        case ev.CallStarted():
            return replace(
                state,
                linkedid=event.linkedid,
                channel=event.channel,
                caller_number=event.caller_number,
                caller_name=event.caller_name,
                dialled_number=event.dialled_number,
                started_at=_first(state.started_at, event.at),
            )
        case ev.NoticeFinished():
            return replace(state, notice_finished_at=_first(state.notice_finished_at, event.at))
        case ev.RecordingStarted():
            return replace(
                state,
                recording_started_at=_first(state.recording_started_at, event.at),
                recording_path=state.recording_path or event.path,
            )
        case ev.CallQueued():
            return replace(state, queued_at=_first(state.queued_at, event.at))
        case ev.OperatorAnswered():
            return replace(
                state,
                answered_at=_first(state.answered_at, event.at),
                operator=state.operator or event.operator,
            )
        case ev.MessageStarted():
            return replace(state, message_started_at=_first(state.message_started_at, event.at))
        case ev.CallerAbandoned():
            return replace(state, abandoned_at=_first(state.abandoned_at, event.at))
        case ev.CallFailed():
            return replace(
                state,
                failure_reason=state.failure_reason or event.reason,
                ended_at=state.ended_at or event.at,
            )
        case ev.OverflowLeg():
            return replace(state, overflow_of=state.overflow_of or event.of_call)
        case ev.FailureFound():
            return replace(state, failure_reason=state.failure_reason or event.reason)
        case ev.CallHungUp():
            return replace(state, ended_at=event.at, hangup_cause=event.cause)
        case _:
            return state


def replay(uniqueid: str, events: Iterable[ev.CallEvent]) -> CallState:
    return reduce(apply, events, CallState(uniqueid=uniqueid))


@dataclasses.dataclass(frozen=True)
class NewOperator:
    """The party a call was transferred to, now talking with the caller."""

    call: str  # the call's uniqueid
    channel: str
    uniqueid: str
    at: dt.datetime


class TransferWatch:
    """Finds who takes a call over after its operator transferred it. No I/O: it keeps which
    channel is in which bridge (BridgeEnter/BridgeLeave), each call's operator legs, and the
    calls transferred whose new party has not joined the caller yet.

    An attended transfer names its target: that is the new party at once. A blind transfer
    does not: the new party is the first channel other than the call's earlier operators
    found in a bridge with the caller after the transfer."""

    def __init__(self) -> None:
        self.bridge_of: dict[str, str] = {}  # channel uniqueid -> bridge it is in
        self.channel_of: dict[str, str] = {}  # channel uniqueid -> channel name
        self.operators: dict[str, set[str]] = {}  # call -> its operator legs (uniqueids)
        self.awaiting: set[str] = set()  # calls transferred, new party not seen yet

    def see(self, event: ev.CallEvent, calls: Collection[str]) -> list[NewOperator]:
        """Note ``event``; ``calls``: the uniqueids of the calls being tracked."""
        match event:
            case ev.OperatorAnswered() if event.uniqueid in calls and event.operator_uniqueid:
                self.operators.setdefault(event.uniqueid, set()).add(event.operator_uniqueid)
                self.channel_of.setdefault(event.operator_uniqueid, event.operator_channel)
            case ev.CallTransferred():
                return self._transferred(event, calls)
            case ev.BridgeEntered():
                self.bridge_of.pop(event.uniqueid, None)  # newest last
                self.bridge_of[event.uniqueid] = event.bridge
                self.channel_of[event.uniqueid] = event.channel
                return [
                    found
                    for call in sorted(self.awaiting)
                    if (found := self._joined(call, event.at)) is not None
                ]
            case ev.BridgeLeft():
                if self.bridge_of.get(event.uniqueid) == event.bridge:
                    del self.bridge_of[event.uniqueid]
            case ev.CallHungUp() | ev.CallFailed():
                self.bridge_of.pop(event.uniqueid, None)
                self.channel_of.pop(event.uniqueid, None)
                self.operators.pop(event.uniqueid, None)
                self.awaiting.discard(event.uniqueid)
        return []

    def _transferred(self, event: ev.CallTransferred, calls: Collection[str]) -> list[NewOperator]:
        call = event.transferee if event.transferee in calls else None
        if call is None:
            call = next((c for c, legs in self.operators.items() if event.uniqueid in legs), None)
        if call is None or call not in calls:
            return []  # not a hotline call's operator (or not one this watch saw answer)
        legs = self.operators.setdefault(call, set())
        legs.update(leg for leg in (event.uniqueid, event.second_leg) if leg)
        if event.target_uniqueid and event.target_channel and event.target_uniqueid not in legs:
            legs.add(event.target_uniqueid)
            self.awaiting.discard(call)
            return [NewOperator(call, event.target_channel, event.target_uniqueid, event.at)]
        self.awaiting.add(call)
        found = self._joined(call, event.at)
        return [found] if found is not None else []

    def _joined(self, call: str, at: dt.datetime) -> NewOperator | None:
        bridge = self.bridge_of.get(call)
        if bridge is None:
            return None
        legs = self.operators.setdefault(call, set())
        others = [
            uniqueid
            for uniqueid, where in self.bridge_of.items()
            if where == bridge and uniqueid != call and uniqueid not in legs
        ]
        if not others:
            return None
        newest = others[-1]
        legs.add(newest)
        self.awaiting.discard(call)
        return NewOperator(call, self.channel_of.get(newest, ""), newest, at)
