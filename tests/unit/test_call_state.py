"""The call reducer, fed with AMI traces captured from the real Asterisk."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event
from ivr.call_state import CallState, Outcome, apply, replay

TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
CONFIG = AdapterConfig(caller_context=dv.CONTEXT_CALLERS, hotline_number="12345")


def trace(name: str) -> list[dict[str, str]]:
    lines = (TRACES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def events_of(name: str) -> tuple[str, list[ev.CallEvent]]:
    messages = trace(name)
    caller = next(m for m in messages if m["Event"] == "Newchannel")["Uniqueid"]
    converted = [to_domain_event(m, CONFIG) for m in messages]
    return caller, [e for e in converted if e is not None]


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("message_left", Outcome.MESSAGE_LEFT),
        ("answered", Outcome.ANSWERED),
        ("abandoned", Outcome.ABANDONED),
        ("hung_up_during_notice", Outcome.HUNG_UP_DURING_NOTICE),
    ],
)
def test_real_traces_give_the_right_outcome(name: str, outcome: Outcome) -> None:
    caller, events = events_of(name)
    state = replay(caller, events)
    assert state.outcome == outcome
    assert state.started_at is not None and state.ended_at is not None
    assert state.started_at < state.ended_at


def test_message_trace_times_come_from_the_events_in_order() -> None:
    caller, events = events_of("message_left")
    state = replay(caller, events)
    assert state.caller_name == "李四"
    assert state.caller_number == "13900000001"
    assert state.dialled_number == "12345"
    assert state.started_at is not None and state.notice_finished_at is not None
    assert state.recording_started_at is not None and state.message_started_at is not None
    assert (
        state.started_at
        < state.notice_finished_at
        <= state.recording_started_at
        <= state.message_started_at
    )
    assert state.recording_path is not None and state.recording_path.endswith(".wav")
    first = trace("message_left")[0]
    assert state.started_at == dt.datetime.fromtimestamp(float(first["Timestamp"]), dt.UTC)


def test_answered_trace_names_the_operator_and_ignores_the_operator_leg() -> None:
    caller, events = events_of("answered")
    state = replay(caller, events)
    assert state.operator == "8001"
    assert state.queued_at is not None and state.answered_at is not None
    operator_leg_hangups = [
        e for e in events if isinstance(e, ev.CallHungUp) and e.uniqueid != caller
    ]
    assert operator_leg_hangups, "the trace has the operator's own hang-up"


def test_killed_asterisk_leaves_the_call_open_until_reconciled() -> None:
    caller, events = events_of("asterisk_killed")
    state = replay(caller, events)
    assert state.outcome is None
    assert state.recording_started_at is not None
    later = state.recording_started_at + dt.timedelta(seconds=5)
    failed = apply(state, ev.CallFailed(caller, later, "Asterisk restarted"))
    assert failed.outcome == Outcome.FAILED
    assert failed.ended_at == later


def test_events_are_applied_by_their_own_time_not_arrival_order() -> None:
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    started = ev.CallStarted("1.1", t0, "1.1", "PJSIP/x", "138", "", "12345")
    notice = ev.NoticeFinished("1.1", t0 + dt.timedelta(seconds=9))
    duplicate = ev.NoticeFinished("1.1", t0 + dt.timedelta(seconds=20))
    state = replay("1.1", [started, notice, duplicate])
    assert state.notice_finished_at == t0 + dt.timedelta(seconds=9)


def test_nothing_changes_after_hang_up_and_other_calls_are_ignored() -> None:
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    state = replay(
        "1.1",
        [
            ev.CallStarted("1.1", t0, "1.1", "PJSIP/x", "138", "", "12345"),
            ev.CallHungUp("1.1", t0 + dt.timedelta(seconds=3), 16, "Normal Clearing"),
            ev.OperatorAnswered("1.1", t0 + dt.timedelta(seconds=4), "8001"),
            ev.NoticeFinished("2.2", t0 + dt.timedelta(seconds=1)),
        ],
    )
    assert state.outcome == Outcome.HUNG_UP_DURING_NOTICE
    assert state.operator is None


def test_failure_wins_over_every_other_outcome() -> None:
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    base = CallState("1.1", started_at=t0, notice_finished_at=t0, answered_at=t0)
    failed = dataclasses.replace(base, failure_reason="x", ended_at=t0)
    assert failed.outcome == Outcome.FAILED
    assert dataclasses.replace(base, ended_at=t0).outcome == Outcome.ANSWERED
