"""What comes from outside the ivr (AMI, the CDR) is cleaned and bounded at the edge; calls
described by Asterisk on a reconnect start at their true time; a failure found while the
call is still up makes it end as failed, at its hang-up."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from ivr import cdr, fields
from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, live_call, to_domain_event
from ivr.call_state import CallState, Outcome, apply, replay

CONFIG = AdapterConfig(caller_context=dv.CONTEXT_CALLERS, hotline_number="12345")
TS = "1795245559.729161"
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
LONG_NUMBER = "1" * 79  # Asterisk passes caller numbers of up to 79 characters


def newchannel(**fields_: str) -> dict[str, str]:
    return {
        "Event": "Newchannel",
        "Timestamp": TS,
        "Uniqueid": "9.1",
        "Linkedid": "9.1",
        "Channel": "PJSIP/callers-1",
        "CallerIDNum": "13800138000",
        "CallerIDName": "",
        "Context": "hotline-in",
        "Exten": "12345",
        **fields_,
    }


def test_control_characters_never_reach_the_call() -> None:
    event = to_domain_event(
        newchannel(CallerIDName="\x1b[31m李\x07四\u202e\x00", CallerIDNum="138\x1b0013\n8000"),
        CONFIG,
    )
    assert isinstance(event, ev.CallStarted)
    assert event.caller_name == "[31m李四"
    assert event.caller_number == "1380013 8000"
    assert not any(ord(ch) < 32 or ch == "\x7f" for ch in event.caller_name + event.caller_number)


def test_long_caller_fields_are_cut_to_their_columns() -> None:
    event = to_domain_event(newchannel(CallerIDNum=LONG_NUMBER, CallerIDName="名" * 300), CONFIG)
    assert isinstance(event, ev.CallStarted)
    assert event.caller_number == LONG_NUMBER[: fields.NUMBER]
    assert len(event.caller_name) == fields.NAME


def test_a_failure_reason_from_the_dialplan_is_bounded() -> None:
    event = to_domain_event(
        {
            "Event": "UserEvent",
            "UserEvent": dv.EVENT_CALL_FAILED,
            "Reason": "x\x1b" * 1000,
            "Timestamp": TS,
            "Uniqueid": "9.1",
        },
        CONFIG,
    )
    assert isinstance(event, ev.FailureFound)
    assert event.reason == "x" * fields.REASON


def core_show_channel(**fields_: str) -> dict[str, str]:
    return {
        "Event": "CoreShowChannel",
        "Uniqueid": "9.5",
        "Linkedid": "9.5",
        "Channel": "PJSIP/callers-00000005",
        "CallerIDNum": "13700000003",
        "CallerIDName": "赵六",
        "Context": "hotline-in",
        "Exten": "12345",
        "Application": "Playback",
        "Duration": "00:01:05",
        **fields_,
    }


def test_a_live_call_starts_its_duration_before_the_reply() -> None:
    now = T0 + dt.timedelta(minutes=5)
    started = live_call(core_show_channel(), CONFIG, now)
    assert started == ev.CallStarted(
        "9.5",
        now - dt.timedelta(minutes=1, seconds=5),
        "9.5",
        "PJSIP/callers-00000005",
        "13700000003",
        "赵六",
        "12345",
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"Context": "hotline-operators"},
        {"Exten": "s"},
        {"Event": "CoreShowChannelsComplete"},
        {"Uniqueid": ""},
    ],
)
def test_other_live_channels_are_not_hotline_calls(changed: dict[str, str]) -> None:
    assert live_call(core_show_channel(**changed), CONFIG, T0) is None


def test_an_unreadable_duration_counts_as_now() -> None:
    started = live_call(core_show_channel(Duration="soon"), CONFIG, T0)
    assert started is not None and started.at == T0


def test_a_failure_found_while_the_call_is_up_ends_it_as_failed_at_its_hang_up() -> None:
    hung_up = T0 + dt.timedelta(seconds=40)
    state = replay(
        "9.5",
        [
            ev.CallStarted("9.5", T0, "9.5", "PJSIP/callers-5", "137", "", "12345"),
            ev.FailureFound("9.5", T0 + dt.timedelta(seconds=30), "call flow lost"),
        ],
    )
    assert state.outcome is None, "still up: the apology plays"
    state = apply(state, ev.CallHungUp("9.5", hung_up, 16, "Normal Clearing"))
    assert (state.outcome, state.failure_reason, state.ended_at) == (
        Outcome.FAILED,
        "call flow lost",
        hung_up,
    )


def test_a_failure_found_is_kept_over_a_later_one() -> None:
    state = CallState("9.6", started_at=T0, failure_reason="first")
    assert apply(state, ev.FailureFound("9.6", T0, "second")).failure_reason == "first"


def cdr_row(src: str, userfield: str | None, clid: str = '"王五" <13600000000>') -> str:
    row = [
        "",
        src,
        "12345",
        "hotline-in",
        clid,
        "PJSIP/callers-9",
        "",
        "Hangup",
        "",
        "2026-11-20 01:00:00",
        "2026-11-20 01:00:00",
        "2026-11-20 01:00:07",
        "7",
        "7",
        "ANSWERED",
        "DOCUMENTATION",
        "7.1",
    ]
    if userfield is not None:
        row.append(userfield)
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue()


def parse(text: str) -> list[cdr.CdrRecord]:
    return list(cdr.parse_rows(csv.reader(io.StringIO(text))))


def test_the_cdr_userfield_carries_the_dialplans_failure_reason() -> None:
    (failed,) = parse(cdr_row("136", "call flow unreachable: AGISTATUS FAILURE"))
    assert failed.failure == "call flow unreachable: AGISTATUS FAILURE"
    assert failed.caller_name == "王五"
    (plain,) = parse(cdr_row("136", ""))
    assert plain.failure is None
    (old,) = parse(cdr_row("136", None))  # written before the userfield was logged
    assert old.failure is None


def test_cdr_caller_fields_are_cleaned_and_bounded() -> None:
    (record,) = parse(cdr_row(LONG_NUMBER + "\x1b", None, clid='"\x07名" <1>'))
    assert record.src == LONG_NUMBER[: fields.NUMBER]
    assert record.caller_name == "名"


def test_a_cdr_row_with_an_unreadable_time_is_skipped() -> None:
    assert parse(cdr_row("136", None).replace("2026-11-20 01:00:07", "yesterday")) == []
