"""Reconciliation after the ivr service was away, and values from outside that do not fit,
on both databases (SQLite and real PostgreSQL): every call Asterisk knows ends up stored,
with its true times, failed when the hotline failed it, and on the callback list."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from hotline import ivr_service
from ivr import call_store, fields
from ivr import events as ev
from ivr.call_state import CallState
from ivr.call_tracker import CallTracker, LiveCall, TrackerPaths
from ivr.models import Call, CallbackRequest
from recordings import lookup
from tests.builders import tone_wav

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=1)
UNREACHABLE = "call flow unreachable: AGISTATUS FAILURE"
LOST = "call flow lost: its AGI connection closed mid-call"


def tracker(sessions: sessionmaker[Session], tmp_path: Path) -> CallTracker:
    paths = TrackerPaths(tmp_path / "spool", tmp_path / "Master.csv", "hotline-in", "12345")
    return ivr_service.build_tracker(
        sessions, paths, tmp_path / "store", lambda: NOW, ingest_timeout=2
    )


def started(uid: str, at: dt.datetime = T0, caller: str = "13700000003") -> ev.CallStarted:
    return ev.CallStarted(uid, at, uid, f"PJSIP/callers-{uid}", caller, "赵六", "12345")


def stored(sessions: sessionmaker[Session], uid: str) -> Call:
    with sessions() as session:
        call = session.scalar(select(Call).where(Call.asterisk_uniqueid == uid))
        assert call is not None, f"call {uid} is not in the database"
        return call


def on_callback_list(sessions: sessionmaker[Session], call: Call) -> bool:
    with sessions() as session:
        return (
            session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call.id))
            is not None
        )


def cdr_line(uid: str, userfield: str, src: str = "13600000000") -> str:
    return (
        f'"","{src}","12345","hotline-in","""钱七"" <{src}>","PJSIP/callers-9","",'
        '"Playback","","2026-11-20 01:00:00","2026-11-20 01:00:00","2026-11-20 01:00:07",'
        f'7,7,"ANSWERED","DOCUMENTATION","{uid}","{userfield}"\n'
    )


def test_a_call_that_began_while_nobody_listened_is_stored_with_its_true_times(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    calls = tracker(sessions, tmp_path)
    hung_up = T0 + dt.timedelta(seconds=9)

    async def run() -> None:
        # Asterisk has the call (in the dialplan's apology) and an operator's leg.
        await calls.reconcile(["8.1", "op.1"], [LiveCall(started("8.1"), UNREACHABLE)])
        await calls.handle(ev.CallHungUp("op.1", hung_up, 16, "Normal Clearing"))
        await calls.handle(ev.CallHungUp("8.1", hung_up, 16, "Normal Clearing"))

    asyncio.run(run())
    call = stored(sessions, "8.1")
    assert (call.started_at, call.ended_at) == (T0, hung_up)
    assert (call.outcome, call.failure_reason) == ("failed", UNREACHABLE)
    assert call.caller_number == "13700000003" and call.caller_name == "赵六"
    assert on_callback_list(sessions, call)
    assert not calls.active, "nothing left open"
    with sessions() as session:
        assert session.query(Call).count() == 1, "the operator's leg is no call"


def test_a_live_call_the_ivr_knew_ends_failed_when_the_dialplan_failed_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:  # it was in the notice when ivr died
        call_store.save_state(session, CallState("8.2", caller_number="137", started_at=T0))
    calls = tracker(sessions, tmp_path)
    hung_up = T0 + dt.timedelta(seconds=20)

    async def run() -> None:
        await calls.reconcile(
            ["8.2"], [LiveCall(started("8.2", at=T0 + dt.timedelta(seconds=1)), LOST)]
        )
        await calls.handle(ev.CallHungUp("8.2", hung_up, 16, "Normal Clearing"))

    asyncio.run(run())
    call = stored(sessions, "8.2")
    assert (call.outcome, call.failure_reason) == ("failed", LOST)
    assert (call.started_at, call.ended_at) == (T0, hung_up), "the stored start stands"
    assert on_callback_list(sessions, call)


def test_a_call_that_ended_while_ivr_was_away_is_closed_with_the_dialplans_reason(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        call_store.save_state(session, CallState("8.3", caller_number="137", started_at=T0))
    (tmp_path / "Master.csv").write_text(cdr_line("8.3", LOST), encoding="utf-8")
    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile([]))
    asyncio.run(calls.reconcile([]))  # safe to run twice
    call = stored(sessions, "8.3")
    assert (call.outcome, call.failure_reason) == ("failed", LOST)
    assert call.ended_at == T0 + dt.timedelta(seconds=7), "its true end, from the CDR"
    assert on_callback_list(sessions, call)


def test_a_call_known_only_from_the_cdr_is_failed_with_its_reason_and_called_back(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    (tmp_path / "Master.csv").write_text(
        cdr_line("8.4", UNREACHABLE) + cdr_line("8.5", "", src="1" * 79), encoding="utf-8"
    )
    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile([]))
    failed = stored(sessions, "8.4")
    assert failed.outcome == "failed"
    assert failed.failure_reason and UNREACHABLE in failed.failure_reason
    assert "CDR" in failed.failure_reason
    assert (failed.started_at, failed.ended_at) == (T0, T0 + dt.timedelta(seconds=7))
    assert failed.caller_name == "钱七"
    long_number = stored(sessions, "8.5")
    assert long_number.caller_number == "1" * fields.NUMBER
    assert on_callback_list(sessions, failed) and on_callback_list(sessions, long_number)


def test_no_field_from_outside_costs_a_call(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The adapter bounds what Asterisk passes; storing cuts again to the columns."""
    state = CallState(
        "8.6",
        linkedid="8.6",
        channel="PJSIP/" + "c" * 300,
        caller_number="1" * 79,
        caller_name="名" * 300,
        dialled_number="2" * 79,
        operator="o" * 100,
        started_at=T0,
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    call = stored(sessions, "8.6")
    assert call.caller_number == "1" * fields.NUMBER
    assert call.caller_name == "名" * fields.NAME
    assert len(call.channel) == fields.CHANNEL and len(call.dialled_number) == fields.NUMBER
    assert call.operator == "o" * fields.OPERATOR


def test_a_failure_after_an_operator_answered_is_not_a_missed_call(
    sessions: sessionmaker[Session],
) -> None:
    state = CallState(
        "8.7",
        started_at=T0,
        answered_at=T0,
        operator="8001",
        failure_reason=LOST,
        ended_at=T0 + dt.timedelta(minutes=3),
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    call = stored(sessions, "8.7")
    assert call.outcome == "failed"
    assert not on_callback_list(sessions, call), "the citizen reached an operator"


def test_a_recording_begun_before_the_ivr_noted_it_is_stored_with_its_failed_call(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The kill fell after MixMonitor began writing but before ivr saved the spool path: the
    call is closed as failed, and its file is still stored, not left in the spool."""
    with transaction(sessions) as session:
        call_store.save_state(session, CallState("8.7", caller_number="137", started_at=T0))
    (tmp_path / "Master.csv").write_text(cdr_line("8.7", LOST), encoding="utf-8")
    spool = tone_wav(tmp_path / "spool" / "2026-11-20" / "8.7.wav")
    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile([]))
    asyncio.run(calls.reconcile([]))  # safe to run twice
    call = stored(sessions, "8.7")
    assert (call.outcome, call.failure_reason) == ("failed", LOST)
    with sessions() as session:
        recording = lookup.of_call(session, call.id)
    assert recording is not None, "the recording is stored with its call"
    assert not spool.exists(), "nothing is left in the spool"
    assert (tmp_path / "store" / recording.path).exists()
    assert on_callback_list(sessions, call)


def test_a_live_calls_recording_begun_before_the_ivr_noted_it_is_stored_at_hang_up(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The ivr came back while the call was still live (so reconciliation left its file
    alone) and never saw the recording begin: at hang-up the call claims its own spool file,
    and nothing waits in the spool for a later reconciliation."""
    with transaction(sessions) as session:
        call_store.save_state(session, CallState("8.8", caller_number="137", started_at=T0))
    spool = tone_wav(tmp_path / "spool" / "2026-11-20" / "8.8.wav")
    spool.with_suffix(".done").write_text("", encoding="utf-8")  # Asterisk closed the file
    calls = tracker(sessions, tmp_path)
    hung_up = T0 + dt.timedelta(seconds=30)

    async def run() -> None:
        await calls.reconcile(["8.8"], [LiveCall(started("8.8"), LOST)])
        assert spool.exists(), "a live call's file is not touched by reconciliation"
        await calls.handle(ev.CallHungUp("8.8", hung_up, 16, "Normal Clearing"))
        await calls.drain()

    asyncio.run(run())
    call = stored(sessions, "8.8")
    with sessions() as session:
        recording = lookup.of_call(session, call.id)
    assert recording is not None, "the recording is stored at hang-up"
    assert not spool.exists(), "nothing is left in the spool"
    assert (tmp_path / "store" / recording.path).exists()
