"""The operator's live feed: each call ringing at, or answered by, the operator's phone,
with what the operator needs before saying hello (the caller's name if known, earlier calls
and cases)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from dispatch.intake import call_queue
from ivr import console_events
from ivr.models import Call, ConsoleEvent

REPLAY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Ringing:
    """A call at the operator's phone, with the caller's history."""

    kind: str  # as ``ivr.call_store.announce`` recorded it
    at: dt.datetime
    call: Call
    caller_name: str  # from the call, else from an earlier real-name case
    earlier_calls: list[Call]  # newest first
    earlier_cases: list[Case]  # newest first


def ringing(session: Session, event: ConsoleEvent) -> Ringing | None:
    """The event with its call and the caller's history; None if the call is not stored."""
    call = console_events.call_of(session, event)
    if call is None:
        return None
    earlier_cases = call_queue.earlier_cases(session, call.caller_number)
    return Ringing(
        kind=event.kind,
        at=event.at,
        call=call,
        caller_name=call_queue.known_name(session, call),
        earlier_calls=call_queue.earlier_calls(session, call.caller_number, call.started_at),
        earlier_cases=earlier_cases,
    )


def start_after(session: Session, phone: str, now: dt.datetime) -> int:
    """Where a feed opened now starts: the last minute's events come again, so a console
    opened as the phone rings sees it."""
    return console_events.replay_start(session, phone, now - REPLAY)


def since(session: Session, phone: str, last_id: int) -> tuple[int, list[Ringing]]:
    """The phone's calls after event ``last_id``, and the id to read after next time (events
    whose call is not stored are passed over)."""
    found = []
    for event in console_events.after(session, phone, last_id):
        last_id = event.id
        item = ringing(session, event)
        if item is not None:
            found.append(item)
    return last_id, found
