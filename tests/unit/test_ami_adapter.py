from __future__ import annotations

import datetime as dt

import pytest

from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event

CONFIG = AdapterConfig(caller_context=dv.CONTEXT_CALLERS, hotline_number="12345")
TS = "1795245559.729161"


def test_newchannel_for_the_hotline_becomes_call_started() -> None:
    event = to_domain_event(
        {
            "Event": "Newchannel",
            "Timestamp": TS,
            "Uniqueid": "9.1",
            "Linkedid": "9.1",
            "Channel": "PJSIP/callers-1",
            "CallerIDNum": "13800138000",
            "CallerIDName": "<unknown>",
            "Context": "hotline-in",
            "Exten": "12345",
        },
        CONFIG,
    )
    assert isinstance(event, ev.CallStarted)
    assert event.caller_name == ""
    assert event.at == dt.datetime.fromtimestamp(float(TS), dt.UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {"Context": "hotline-operators", "Exten": "12345"},
        {"Context": "hotline-in", "Exten": "99999"},
    ],
)
def test_other_channels_are_not_calls(fields: dict[str, str]) -> None:
    message = {"Event": "Newchannel", "Timestamp": TS, "Uniqueid": "9.2", **fields}
    assert to_domain_event(message, CONFIG) is None


def test_unknown_events_are_ignored_explicitly() -> None:
    assert to_domain_event({"Event": "VarSet", "Timestamp": TS, "Uniqueid": "9.1"}, CONFIG) is None
    assert (
        to_domain_event(
            {"Event": "UserEvent", "UserEvent": "Other", "Timestamp": TS, "Uniqueid": "9.1"}, CONFIG
        )
        is None
    )
    assert to_domain_event({"Event": "Hangup", "Timestamp": TS}, CONFIG) is None


def test_an_event_without_its_own_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timestampevents"):
        to_domain_event({"Event": "Hangup", "Uniqueid": "9.1", "Cause": "16"}, CONFIG)


def test_user_events_of_the_call_flow() -> None:
    failed = to_domain_event(
        {
            "Event": "UserEvent",
            "UserEvent": dv.EVENT_CALL_FAILED,
            "Reason": "agi FAILURE",
            "Timestamp": TS,
            "Uniqueid": "9.1",
        },
        CONFIG,
    )
    assert failed == ev.FailureFound(
        "9.1", dt.datetime.fromtimestamp(float(TS), dt.UTC), "agi FAILURE"
    )


def test_agent_called_is_the_operators_phone_ringing() -> None:
    event = to_domain_event(
        {
            "Event": "AgentCalled",
            "Timestamp": TS,
            "Uniqueid": "9.1",
            "Queue": "hotline",
            "Interface": "PJSIP/8001",
            "MemberName": "8001",
            "DestUniqueid": "9.2",
        },
        CONFIG,
    )
    assert event == ev.OperatorRinging(
        uniqueid="9.1", at=dt.datetime.fromtimestamp(float(TS), tz=dt.UTC), operator="8001"
    )
