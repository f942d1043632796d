"""Overflow between nodes (Issue 18, H7) in pure logic: the other node's row for a caller
passed on to it is a leg of the first node's call (its outcome says so, never a call-back),
the header names the first node's call, the indicators count the citizen's call once, and
the console words the leg."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from api.labels import OVERFLOW_OUTCOME_LABELS, overflow_label
from core.settings import Settings
from dispatch.indicators import calls as indicators
from dispatch.indicators import periods
from dispatch.indicators.rows import CallRow
from hotline.cli.control import router_part
from ivr import call_store
from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event
from ivr.call_flow import overflow_marker, parse_overflow_marker
from ivr.call_state import OVERFLOW_OUTCOMES, Outcome, replay

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
FIRST = "node-a-1763604000.7"  # the first node's call
LEG = "node-b-1763604010.3"  # the other node's row for the same caller
ADAPTER = AdapterConfig(caller_context="hotline-in", hotline_number="12345")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def leg_events(answered: bool) -> list[ev.CallEvent]:
    events: list[ev.CallEvent] = [
        ev.CallStarted(LEG, at(10), LEG, "PJSIP/router-1", "13800138000", "", "12345"),
        ev.OverflowLeg(LEG, at(10.1), of_call=FIRST, from_node="a"),
        ev.CallQueued(LEG, at(10.2), queue="hotline"),
    ]
    if answered:
        events.append(ev.OperatorAnswered(LEG, at(14), operator="8003"))
    events.append(ev.CallHungUp(LEG, at(40), cause=16 if answered else 34, cause_text=""))
    return events


def test_a_leg_answered_at_the_other_node_is_an_answered_overflow_leg() -> None:
    state = replay(LEG, leg_events(answered=True))
    assert state.overflow_of == FIRST
    assert state.outcome is Outcome.OVERFLOW_ANSWERED
    assert state.operator == "8003"
    assert not call_store.needs_callback(state)


def test_a_leg_nobody_answered_is_no_call_hung_up_during_the_notice() -> None:
    state = replay(LEG, leg_events(answered=False))
    assert state.outcome is Outcome.OVERFLOW_UNANSWERED
    # Even a failure there leaves the caller to the first node: never a second call-back.
    failed = replay(
        LEG, [*leg_events(answered=False)[:-1], ev.CallFailed(LEG, at(20), reason="lost")]
    )
    assert failed.outcome is Outcome.OVERFLOW_UNANSWERED
    assert not call_store.needs_callback(failed)


def test_without_the_leg_event_the_call_is_as_before() -> None:
    events = [e for e in leg_events(answered=False) if not isinstance(e, ev.OverflowLeg)]
    assert replay(LEG, events).outcome is Outcome.HUNG_UP_DURING_NOTICE


def test_the_header_names_the_first_node_and_its_call() -> None:
    marker = overflow_marker("a", FIRST)
    assert marker == f"a/{FIRST}"
    assert parse_overflow_marker(marker) == ("a", FIRST)
    assert parse_overflow_marker("a") == ("a", "")


def test_the_adapter_turns_the_leg_user_event_into_the_leg_event() -> None:
    message = {
        "Event": "UserEvent",
        "UserEvent": dv.EVENT_OVERFLOW_LEG,
        "Uniqueid": LEG,
        "Timestamp": f"{at(10.1).timestamp():.6f}",
        "Call": FIRST,
        "Node": "a",
    }
    assert to_domain_event(message, ADAPTER) == ev.OverflowLeg(
        LEG, at(10.1), of_call=FIRST, from_node="a"
    )
    assert to_domain_event({**message, "Call": " "}, ADAPTER) is None


def first_row(operator: str = "8003") -> CallRow:
    return CallRow(FIRST, at(0), "13800138000", at(8), at(14), None, at(40), "answered", operator)


def leg_row(outcome: str = "overflow_answered") -> CallRow:
    answered = at(14) if outcome == "overflow_answered" else None
    operator = "8003" if answered else None
    return CallRow(LEG, at(10), "13800138000", at(10.2), answered, None, at(40), outcome, operator)


def test_the_indicators_count_the_citizens_call_once() -> None:
    period = periods.day(dt.date(2026, 11, 20), ZoneInfo("Asia/Shanghai"))
    rows = [first_row(), leg_row()]
    assert indicators.volume(rows, period).value == 1
    answer = indicators.answer_rate(rows, period)
    assert (answer.numerator, answer.denominator) == (1, 1)
    assert indicators.repeat_rate(rows, period).denominator == 1
    assert indicators.repeat_rate(rows, period).numerator == 0  # not a second call
    assert {op: [c.id for c in cs] for op, cs in indicators.by_operator(rows).items()} == {
        "8003": [FIRST]
    }
    unanswered = [first_row(), leg_row("overflow_unanswered")]
    assert indicators.volume(unanswered, period).value == 1
    assert indicators.abandon_rate(unanswered, period).numerator == 0


def test_every_overflow_outcome_has_a_console_label() -> None:
    assert set(OVERFLOW_OUTCOME_LABELS) == {o.value for o in OVERFLOW_OUTCOMES}


def test_the_call_page_line_names_the_node_and_the_operator() -> None:
    leg = SimpleNamespace(node="b", operator="8003", answered_at=at(14), ended_at=at(40))
    assert overflow_label(leg) == "转接至节点 b，由 8003 接听"
    nobody = SimpleNamespace(node="b", operator=None, answered_at=None, ended_at=at(40))
    assert overflow_label(nobody) == "转接至节点 b，无人接听"
    ringing = SimpleNamespace(node="b", operator=None, answered_at=None, ended_at=None)
    assert overflow_label(ringing) == "转接至节点 b，等待接听"


def test_status_has_no_router_line_on_the_single_machine(tmp_path: Path) -> None:
    assert router_part(Settings(data_dir=tmp_path)) is None


def test_status_says_the_router_is_down_when_it_is_not_running(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sip_router_nodes="a=127.0.7.2:5060,b=127.0.7.3:5060")
    part = router_part(settings, tmp_path / "sip-router")
    assert part is not None and not part.running
    assert part.line().startswith("sip-router DOWN")
