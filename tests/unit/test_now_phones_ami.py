"""The operators' phones from real AMI traffic (``tests/fixtures/ami``): the reply to
``QueueStatus`` and the ``QueueMemberStatus`` events of a phone that registers, takes a call
and unregisters, through the adapter and the listener (with a hand-written stand-in for
panoramisk's manager, no connection)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivr import dialplan_variables as dv
from ivr.ami_adapter import AdapterConfig, phone_change
from ivr.ami_listener import AmiListener
from ivr.phones import DeviceState, PhoneBoard

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
NOW = dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)


def messages(name: str) -> list[dict[str, str]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_queue_status_reply_gives_every_member_phone() -> None:
    changes = [phone_change(m, at=NOW) for m in messages("queue_status.jsonl")]
    found = {c.operator: c.state for c in changes if c is not None}
    assert found == {"8001": DeviceState.NOT_INUSE, "8002": DeviceState.UNAVAILABLE}
    assert all(c.at == NOW for c in changes if c is not None)


def test_member_status_events_follow_the_phone_through_a_call() -> None:
    changes = [phone_change(m) for m in messages("operator_phone_states.jsonl")]
    states = [c.state for c in changes if c is not None and c.operator == "8001"]
    # registers, rings, talks, is free again, unregisters (repeats collapsed)
    collapsed = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
    assert collapsed == [
        DeviceState.NOT_INUSE,
        DeviceState.RINGING,
        DeviceState.INUSE,
        DeviceState.NOT_INUSE,
        DeviceState.UNAVAILABLE,
    ]
    times = [c.at for c in changes if c is not None]
    assert times == sorted(times) and all(t.tzinfo is dt.UTC for t in times)


def test_other_messages_are_no_phone_change() -> None:
    assert phone_change({"Event": "QueueMember", "Name": "8001", "Status": "1"}) is None
    assert phone_change({"Event": "Newchannel", "Timestamp": "1.0"}) is None
    no_name = {"Event": "QueueMemberStatus", "Timestamp": "1.0", "Status": "1"}
    assert phone_change(no_name) is None


class FakeManager:
    """What the listener asks of panoramisk's manager, answered from the fixtures."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def send_action(self, action: Mapping[str, str], as_list: bool = False) -> Any:
        self.asked.append(action["Action"] + (" (list)" if as_list else ""))
        if action["Action"] == "QueueStatus":
            return messages("queue_status.jsonl")
        return [{"Event": "CoreShowChannelsComplete", "EventList": "Complete"}]


class FakeTracker:
    """Counts what the listener hands on besides the phones."""

    def __init__(self) -> None:
        self.reconciled = 0
        self.handled: list[object] = []

    async def reconcile(self, _live: object, _calls: object) -> None:
        self.reconciled += 1

    async def handle(self, event: object) -> None:
        self.handled.append(event)


def test_the_listener_keeps_the_board_from_log_in_to_disconnection() -> None:
    told: list[PhoneBoard | None] = []
    times = [phone_change(m) for m in messages("operator_phone_states.jsonl")]
    after_the_events = max(c.at for c in times if c is not None) + dt.timedelta(minutes=1)

    tracker = FakeTracker()

    async def scenario() -> None:
        listener = AmiListener(
            asyncio.get_running_loop(),
            host="127.0.0.1",
            port=9,
            username="u",
            secret="s",
            adapter=AdapterConfig(dv.CONTEXT_CALLERS, "12345"),
            tracker=tracker,  # type: ignore[arg-type]
            clock=lambda: after_the_events,
            on_phones=told.append,
        )
        fake = FakeManager()
        listener.manager = fake
        consumer = asyncio.create_task(listener.run())
        try:
            # An event before the log-in's snapshot is not applied to a board nobody has.
            events = messages("operator_phone_states.jsonl")
            listener._on_event(fake, events[0])
            await listener.queue.join()
            assert told == []
            listener._on_login(fake)
            await listener.queue.join()
            assert fake.asked[0] == "QueueStatus (list)"
            assert told[-1] is not None and told[-1].registered == 1
            # Events older than the snapshot (queued before it) change nothing; the call's
            # later events move the phone.
            for message in events:
                listener._on_event(fake, message)
            await listener.queue.join()
            board = told[-1]
            assert board is not None
            assert board.phones["8001"].state is DeviceState.NOT_INUSE  # the snapshot's
            listener.phones = PhoneBoard()  # forget the snapshot: the events tell the story
            for message in events:
                listener._on_event(fake, message)
            await listener.queue.join()
            final = told[-1]
            assert final is not None
            assert final.phones["8001"].state is DeviceState.UNAVAILABLE
            assert final.registered == 0
            seen = [b.phones["8001"].state for b in told if b is not None and "8001" in b.phones]
            assert DeviceState.INUSE in seen and DeviceState.RINGING in seen
            listener._on_disconnect(fake, None)
            assert told[-1] is None and listener.phones is None
            assert tracker.reconciled == 1 and tracker.handled == []
        finally:
            consumer.cancel()

    asyncio.run(scenario())
