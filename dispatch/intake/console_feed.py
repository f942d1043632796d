"""The operator's live feed: each call ringing at, or answered by, the operator's phone,
with what the operator needs before saying hello (the caller's name if known, earlier calls
and cases), for as long as the call is up: a call that has ended is not announced, and the
feed says when an announced one ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from dispatch.intake import call_queue
from ivr import console_events
from ivr.models import Call, ConsoleEvent

# A feed opened now (a reload, a second tab) announces again the calls still up at the phone
# that rang or were answered this long ago at most (a call the listener never saw end, and
# reconciliation has not closed yet, is not announced for ever).
REPLAY = dt.timedelta(hours=2)


@dataclass(frozen=True)
class Ringing:
    """A call at the operator's phone, with the caller's history."""

    kind: str  # as ``ivr.call_store.announce`` recorded it
    at: dt.datetime
    call: Call
    caller_name: str  # from an earlier real-name case, else the caller ID's display name
    real_name: bool  # the name was given on a case (the caller ID's is not verified)
    earlier_calls: list[Call]  # newest first
    earlier_cases: list[Case]  # newest first


def ringing(session: Session, event: ConsoleEvent) -> Ringing | None:
    """The event with its call and the caller's history; None if the call is not stored,
    or has ended."""
    call = console_events.call_of(session, event)
    if call is None or call.ended_at is not None:
        return None
    case_name = call_queue.real_name(session, call)
    return Ringing(
        kind=event.kind,
        at=event.at,
        call=call,
        caller_name=case_name or call.caller_name,
        real_name=bool(case_name),
        earlier_calls=call_queue.earlier_calls(session, call.caller_number, call.started_at),
        earlier_cases=call_queue.earlier_cases(session, call.caller_number),
    )


def start_after(session: Session, phone: str, now: dt.datetime) -> int:
    """Where a feed opened now starts: the events of the last :data:`REPLAY` come again
    (those of calls that have ended are passed over), so a console opened as the phone
    rings, or reloaded during a call, shows it."""
    return console_events.replay_start(session, phone, now - REPLAY)


def since(session: Session, phone: str, last_id: int) -> tuple[int, list[Ringing]]:
    """The phone's calls after event ``last_id``, and the id to read after next time (events
    whose call is not stored, or has ended, are passed over)."""
    found = []
    for event in console_events.after(session, phone, last_id):
        last_id = event.id
        item = ringing(session, event)
        if item is not None:
            found.append(item)
    return last_id, found


def ended(session: Session, call_ids: Collection[str]) -> list[str]:
    """Which of these calls have ended."""
    if not call_ids:
        return []
    return list(
        session.scalars(
            select(Call.id).where(Call.id.in_(list(call_ids)), Call.ended_at.is_not(None))
        )
    )
