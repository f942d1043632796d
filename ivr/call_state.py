"""Call state as a pure function of call events, each applied at its own timestamp."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from functools import reduce

from ivr import events as ev


class Outcome(StrEnum):
    ANSWERED = "answered"
    MESSAGE_LEFT = "message_left"
    ABANDONED = "abandoned"
    HUNG_UP_DURING_NOTICE = "hung_up_during_notice"
    FAILED = "failed"


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
        case ev.FailureFound():
            return replace(state, failure_reason=state.failure_reason or event.reason)
        case ev.CallHungUp():
            return replace(state, ended_at=event.at, hangup_cause=event.cause)
        case _:
            return state


def replay(uniqueid: str, events: Iterable[ev.CallEvent]) -> CallState:
    return reduce(apply, events, CallState(uniqueid=uniqueid))
