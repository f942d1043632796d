"""The operator's live feed read from the database (SQLite and real PostgreSQL): the calls
that rang at the operator's phone, in order, each with the caller's earlier calls; a
console opened now replays the calls still up (of the last two hours), never one that has
ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.intake import console_feed
from ivr import call_store
from ivr.call_state import CallState

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
PHONE, OTHER = "6001", "6002"
CALLER = "13500000000"


def stored_call(session: Session, uniqueid: str, at: dt.datetime, name: str = "") -> None:
    call_store.save_state(
        session,
        CallState(uniqueid, caller_number=CALLER, caller_name=name, started_at=at),
    )


def test_the_feed_brings_each_call_at_the_phone_once_with_the_callers_history(
    sessions: sessionmaker[Session],
) -> None:
    earlier, now = T0, T0 + dt.timedelta(hours=2)
    with transaction(sessions) as session:
        stored_call(session, "1.1", earlier)
        stored_call(session, "1.2", now, name="王先生")
        call_store.announce(session, "1.1", PHONE, "ringing", earlier)
        call_store.announce(session, "9.9", PHONE, "ringing", now)  # call not stored yet
        call_store.announce(session, "1.2", OTHER, "ringing", now)
        call_store.announce(session, "1.2", PHONE, "ringing", now)
        call_store.announce(session, "1.2", PHONE, "answered", now)
    with sessions() as session:
        last, found = console_feed.since(session, PHONE, 0)
        assert [(r.call.asterisk_uniqueid, r.kind) for r in found] == [
            ("1.1", "ringing"),
            ("1.2", "ringing"),
            ("1.2", "answered"),
        ]
        ringing = found[1]
        assert ringing.caller_name == "王先生" and ringing.at == now
        assert not ringing.real_name  # a caller ID's name is not a verified real name
        assert [c.asterisk_uniqueid for c in ringing.earlier_calls] == ["1.1"]
        assert found[0].earlier_calls == []
        assert console_feed.since(session, PHONE, last) == (last, [])

        replayed = console_feed.start_after(session, PHONE, now + dt.timedelta(seconds=30))
        _, again = console_feed.since(session, PHONE, replayed)
        assert [(r.call.asterisk_uniqueid, r.kind) for r in again] == [
            ("1.2", "ringing"),
            ("1.2", "answered"),
        ]
        # A reload during the call, minutes later: the call is still up, so it comes again.
        later = console_feed.start_after(session, PHONE, now + dt.timedelta(minutes=5))
        _, still_up = console_feed.since(session, PHONE, later)
        assert [(r.call.asterisk_uniqueid, r.kind) for r in still_up] == [
            ("1.2", "ringing"),
            ("1.2", "answered"),
        ]
        assert console_feed.ended(session, [ringing.call.id]) == []
        much_later = console_feed.start_after(session, PHONE, now + dt.timedelta(hours=3))
        assert much_later == last
        assert console_feed.since(session, PHONE, much_later) == (much_later, [])
    # Once the call has ended, a feed opened now does not announce it, however recent.
    with transaction(sessions) as session:
        call_store.save_state(
            session,
            CallState(
                "1.2",
                caller_number=CALLER,
                caller_name="王先生",
                started_at=now,
                ended_at=now + dt.timedelta(minutes=1),
            ),
        )
    with sessions() as session:
        assert console_feed.ended(session, [ringing.call.id]) == [ringing.call.id]
        reopened = console_feed.start_after(session, PHONE, now + dt.timedelta(minutes=2))
        _, after_end = console_feed.since(session, PHONE, reopened)
        assert after_end == []
