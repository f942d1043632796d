"""The AMI events live audio needs (the operator's leg, bridges, transfers) and who takes a
call over after a transfer (``TransferWatch``, pure)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event
from ivr.call_state import NewOperator, Outcome, TransferWatch, replay

CONFIG = AdapterConfig(caller_context=dv.CONTEXT_CALLERS, hotline_number="12345")
FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
CALL, OP1, OP2, OP1B = "100.1", "200.2", "300.3", "400.4"
B1, B2 = "bridge-1", "bridge-2"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_agent_connect_names_the_operators_own_leg() -> None:
    """From Asterisk 22's AgentConnect as the listener recorded it (DestChannel, DestUniqueid)."""
    lines = (FIXTURES / "answered.jsonl").read_text(encoding="utf-8").splitlines()
    message = next(json.loads(line) for line in lines if '"AgentConnect"' in line)
    event = to_domain_event(message, CONFIG)
    assert isinstance(event, ev.OperatorAnswered)
    assert (event.uniqueid, event.operator) == ("1795245576.1", "8001")
    assert event.operator_channel == "PJSIP/8001-00000002"
    assert event.operator_uniqueid == "1795245587.2"


def test_bridge_enter_and_leave() -> None:
    # Asterisk 22.10.1's BridgeEnter for an operator's leg (captured from the e2e hotline).
    message = {
        "Event": "BridgeEnter",
        "Privilege": "call,all",
        "Timestamp": "1796242738.286958",
        "BridgeUniqueid": "12ee7a3b-bc4a-49ba-ae17-0343b8f617cb",
        "BridgeType": "basic",
        "BridgeNumChannels": "1",
        "Channel": "PJSIP/8001-00000001",
        "Uniqueid": "1796242738.1",
        "Linkedid": "1796242728.0",
    }
    entered = to_domain_event(message, CONFIG)
    assert entered == ev.BridgeEntered(
        "1796242738.1",
        dt.datetime.fromtimestamp(1796242738.286958, dt.UTC),
        "PJSIP/8001-00000001",
        "12ee7a3b-bc4a-49ba-ae17-0343b8f617cb",
    )
    left = to_domain_event({**message, "Event": "BridgeLeave"}, CONFIG)
    assert isinstance(left, ev.BridgeLeft) and left.bridge == entered.bridge
    assert to_domain_event({**message, "BridgeUniqueid": ""}, CONFIG) is None


TS = "1796242740.5"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {
                "Event": "BlindTransfer",
                "Result": "Success",
                "TransfererChannel": "PJSIP/8001-00000001",
                "TransfererUniqueid": OP1,
                "TransfereeChannel": "PJSIP/callers-00000000",
                "TransfereeUniqueid": CALL,
                "Extension": "8002",
                "Context": "hotline-transfer",
            },
            ev.CallTransferred(
                OP1, dt.datetime.fromtimestamp(float(TS), dt.UTC), "blind", CALL, extension="8002"
            ),
        ),
        (
            {
                "Event": "AttendedTransfer",
                "Result": "Success",
                "OrigTransfererChannel": "PJSIP/8001-00000001",
                "OrigTransfererUniqueid": OP1,
                "SecondTransfererUniqueid": OP1B,
                "TransfereeUniqueid": CALL,
                "TransferTargetChannel": "PJSIP/8002-00000005",
                "TransferTargetUniqueid": OP2,
                "DestType": "Bridge",
            },
            ev.CallTransferred(
                OP1,
                dt.datetime.fromtimestamp(float(TS), dt.UTC),
                "attended",
                CALL,
                OP2,
                "PJSIP/8002-00000005",
                OP1B,
            ),
        ),
        ({"Event": "BlindTransfer", "Result": "Fail", "TransfererUniqueid": OP1}, None),
        ({"Event": "AttendedTransfer", "Result": "Invalid", "OrigTransfererUniqueid": OP1}, None),
        ({"Event": "BlindTransfer", "Result": "Success"}, None),  # no transferer named
    ],
)
def test_transfers(message: dict[str, str], expected: ev.CallTransferred | None) -> None:
    assert to_domain_event({**message, "Timestamp": TS}, CONFIG) == expected


def answered(watch: TransferWatch) -> None:
    """The call answered by operator 1, both in bridge 1 (the real order: AgentConnect, then
    the operator's BridgeEnter, then the caller's)."""
    calls = {CALL}
    assert watch.see(ev.OperatorAnswered(CALL, at(0), "8001", "PJSIP/8001-1", OP1), calls) == []
    assert watch.see(ev.BridgeEntered(OP1, at(0), "PJSIP/8001-1", B1), calls) == []
    assert watch.see(ev.BridgeEntered(CALL, at(0), "PJSIP/callers-1", B1), calls) == []


def test_no_transfer_no_new_party() -> None:
    watch = TransferWatch()
    answered(watch)
    assert watch.see(ev.BridgeLeft(CALL, at(9), "PJSIP/callers-1", B1), {CALL}) == []
    assert watch.see(ev.CallHungUp(CALL, at(9), 16, ""), {CALL}) == []
    assert not watch.operators and not watch.awaiting and CALL not in watch.bridge_of


@pytest.mark.parametrize("transferee", [CALL, ""])  # Asterisk names the transferee, or not
def test_blind_transfer_the_new_party_is_who_joins_the_caller(transferee: str) -> None:
    watch = TransferWatch()
    calls = {CALL}
    answered(watch)
    assert watch.see(ev.CallTransferred(OP1, at(5), "blind", transferee), calls) == []
    # The caller leaves the operator, the dialplan calls the new party into a new bridge.
    assert watch.see(ev.BridgeLeft(CALL, at(5), "PJSIP/callers-1", B1), calls) == []
    assert watch.see(ev.BridgeLeft(OP1, at(5), "PJSIP/8001-1", B1), calls) == []
    assert watch.see(ev.CallHungUp(OP1, at(5), 16, ""), calls) == []
    assert watch.see(ev.BridgeEntered(OP2, at(8), "PJSIP/8002-3", B2), calls) == []
    joined = watch.see(ev.BridgeEntered(CALL, at(8.1), "PJSIP/callers-1", B2), calls)
    assert joined == [NewOperator(CALL, "PJSIP/8002-3", OP2, at(8.1))]
    # Only once.
    assert watch.see(ev.BridgeEntered(OP2, at(8.2), "PJSIP/8002-3", B2), calls) == []


def test_blind_transfer_the_caller_may_be_there_first() -> None:
    watch = TransferWatch()
    calls = {CALL}
    answered(watch)
    watch.see(ev.CallTransferred(OP1, at(5), "blind", CALL), calls)
    watch.see(ev.BridgeEntered(CALL, at(8), "PJSIP/callers-1", B2), calls)
    joined = watch.see(ev.BridgeEntered(OP2, at(8.1), "PJSIP/8002-3", B2), calls)
    assert joined == [NewOperator(CALL, "PJSIP/8002-3", OP2, at(8.1))]


def test_attended_transfer_with_its_target_named() -> None:
    watch = TransferWatch()
    answered(watch)
    event = ev.CallTransferred(OP1, at(6), "attended", CALL, OP2, "PJSIP/8002-3")
    assert watch.see(event, {CALL}) == [NewOperator(CALL, "PJSIP/8002-3", OP2, at(6))]
    assert watch.see(ev.BridgeEntered(OP2, at(6), "PJSIP/8002-3", B1), {CALL}) == []


def test_attended_transfer_without_its_target_the_target_joins_the_callers_bridge() -> None:
    watch = TransferWatch()
    calls = {CALL}
    answered(watch)
    # The operator's second leg talks to the target in another bridge first.
    watch.see(ev.BridgeEntered(OP1B, at(3), "PJSIP/8001-2", B2), calls)
    watch.see(ev.BridgeEntered(OP2, at(3), "PJSIP/8002-3", B2), calls)
    transfer = ev.CallTransferred(OP1, at(6), "attended", second_leg=OP1B)
    assert watch.see(transfer, calls) == []
    watch.see(ev.BridgeLeft(OP1, at(6), "PJSIP/8001-1", B1), calls)
    # The operator's second leg passing through the caller's bridge is not the new party.
    assert watch.see(ev.BridgeEntered(OP1B, at(6), "PJSIP/8001-2", B1), calls) == []
    watch.see(ev.BridgeLeft(OP1B, at(6), "PJSIP/8001-2", B1), calls)
    watch.see(ev.BridgeLeft(OP2, at(6), "PJSIP/8002-3", B2), calls)
    joined = watch.see(ev.BridgeEntered(OP2, at(6.1), "PJSIP/8002-3", B1), calls)
    assert joined == [NewOperator(CALL, "PJSIP/8002-3", OP2, at(6.1))]


def test_transfers_of_other_channels_are_ignored() -> None:
    watch = TransferWatch()
    answered(watch)
    assert watch.see(ev.CallTransferred("900.9", at(5), "blind", "901.9"), {CALL}) == []
    watch.see(ev.BridgeEntered("902.9", at(6), "PJSIP/8003-9", B1), {CALL})
    assert not watch.awaiting
    # A call no longer tracked (over) is not watched either.
    assert watch.see(ev.CallTransferred(OP1, at(7), "blind", CALL), set()) == []


def _replayed(name: str) -> list[ev.CallEvent]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    found = (to_domain_event(json.loads(line), CONFIG) for line in lines)
    return [event for event in found if event is not None]


def test_a_real_blind_transfer_names_the_colleague_once() -> None:
    """Asterisk 22.10.1's events for a call that operator 8001 answered from the queue and
    passed on with a SIP REFER to 8002, who answered after ringing a second (captured from
    tests/e2e/test_live_transfer.py): BlindTransfer (transferer 8001's leg, transferee the
    caller, extension 8002 in the transfer context), both leave the queue's bridge, the
    dialplan rings 8002, 8001's leg hangs up, then 8002's leg and the caller enter a new
    bridge. The colleague's leg is the new party, named once, as the caller joins it."""
    events = _replayed("blind_transfer.jsonl")
    call = "1796257345.0"
    transfer = next(e for e in events if isinstance(e, ev.CallTransferred))
    assert (transfer.kind, transfer.uniqueid, transfer.transferee, transfer.extension) == (
        "blind",
        "1796257355.1",
        call,
        "8002",
    )
    assert not transfer.target_uniqueid  # a blind transfer does not know who will answer

    watch = TransferWatch()
    tracked: set[str] = set()
    joined: list[NewOperator] = []
    for event in events:
        if isinstance(event, ev.CallStarted):
            tracked.add(event.uniqueid)
        joined += watch.see(event, tracked)
        if isinstance(event, ev.CallHungUp):
            tracked.discard(event.uniqueid)
    caller_joins = dt.datetime.fromtimestamp(1796257361.277388, dt.UTC)
    assert joined == [NewOperator(call, "PJSIP/8002-00000002", "1796257360.4", caller_joins)]
    # Nothing is left behind once every channel hung up.
    assert not watch.bridge_of and not watch.channel_of
    assert not watch.operators and not watch.awaiting


def test_a_real_blind_transfer_leaves_the_call_answered_by_its_first_operator() -> None:
    state = replay("1796257345.0", _replayed("blind_transfer.jsonl"))
    assert state.outcome == Outcome.ANSWERED and state.operator == "8001"
    assert state.answered_at == dt.datetime.fromtimestamp(1796257355.251390, dt.UTC)
    assert state.ended_at == dt.datetime.fromtimestamp(1796257378.371489, dt.UTC)
