"""The tracker asks for each speaker's live audio as the call goes (a recorded AMI trace through
the adapter, the real tracker and live requests, both databases); Asterisk's side of the AMI
is a hand-written fake that answers the Originates and, as the stream listener would, takes
the streams."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from asr.channels import CALLER, OPERATOR
from asr.live_models import LiveStream, StreamStatus
from asr.live_requests import NEVER_CONNECTED, LiveRequests
from core.db import transaction
from core.waiting import async_wait_for
from hotline import ivr_service
from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.ami_adapter import AdapterConfig, to_domain_event
from ivr.call_tracker import CallTracker, TrackerPaths
from ivr.events import CallEvent

TRACE = Path(__file__).parent.parent / "fixtures" / "ami" / "answered.jsonl"
CONFIG = AdapterConfig(dv.CONTEXT_CALLERS, "12345")
RECOGNISER = ("127.0.0.1", 9092)
NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
QUEUED = {"Response": "Success", "Message": "Originate successfully queued"}


class FakeAsterisk:
    """Answers each Originate (``answer``: the OriginateResponse's Response and Reason) and,
    when ``take`` is set, marks the stream live as the listener does once Asterisk connects."""

    def __init__(
        self, sessions: sessionmaker[Session], answer: tuple[str, str], take: bool
    ) -> None:
        self.sessions = sessions
        self.answer = answer
        self.take = take
        self.actions: list[dict[str, str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def send_action(self, action: dict[str, str]) -> Any:
        self.actions.append(action)
        await self.release.wait()
        response, reason = self.answer
        if response == "Success" and self.take:
            stream_id = action["Channel"].split("/")[2]
            await asyncio.to_thread(self._mark_live, stream_id)
        return [QUEUED, {"Event": "OriginateResponse", "Response": response, "Reason": reason}]

    def _mark_live(self, stream_id: str) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(LiveStream)
                .where(LiveStream.id == stream_id, LiveStream.status == StreamStatus.REQUESTED)
                .values(status=StreamStatus.LIVE)
            )


def trace_events() -> list[CallEvent]:
    lines = TRACE.read_text(encoding="utf-8").splitlines()
    events = [to_domain_event(json.loads(line), CONFIG) for line in lines]
    return [event for event in events if event is not None]


def tracker(
    sessions: sessionmaker[Session], tmp_path: Path, asterisk: FakeAsterisk, capacity: int = 2
) -> CallTracker:
    live = LiveRequests(
        sessions, [RECOGNISER], capacity, asterisk.send_action, lambda: NOW, connect_seconds=0.3
    )
    paths = TrackerPaths(tmp_path / "spool", tmp_path / "Master.csv", "hotline-in", "12345")
    return ivr_service.build_tracker(
        sessions, paths, tmp_path / "store", lambda: NOW, ingest_timeout=0.1, live=live
    )


def streams(sessions: sessionmaker[Session]) -> list[LiveStream]:
    with sessions() as session:
        return list(session.scalars(select(LiveStream).order_by(LiveStream.speaker)))


async def replay(calls: CallTracker) -> None:
    """The trace's events, each once the live requests of the one before are done (in the
    trace, seconds pass between the recording's start, the answer and the hang-up)."""
    for event in trace_events():
        await calls.handle(event)
        if calls.live_tasks:
            await asyncio.wait(set(calls.live_tasks), timeout=10)
    await calls.drain(timeout=10)


def test_the_caller_from_the_recording_then_the_operator_from_the_answer(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    asterisk = FakeAsterisk(sessions, ("Success", "4"), take=True)
    asyncio.run(replay(tracker(sessions, tmp_path, asterisk)))
    caller, operator = streams(sessions)
    assert (caller.speaker, operator.speaker) == (CALLER, OPERATOR)
    assert caller.call_uniqueid == operator.call_uniqueid == "1795245576.1"
    assert caller.spied_channel == "PJSIP/callers-00000001"
    assert operator.spied_channel == "PJSIP/8001-00000002"  # AgentConnect's DestChannel
    # Seconds from the recording's start (HotlineRecordingStarted) to the answer (AgentConnect).
    assert caller.offset_seconds == 0.0
    assert abs(operator.offset_seconds - (1795245587.088185 - 1795245587.080982)) < 0.002
    assert {s.recogniser for s in (caller, operator)} == {"127.0.0.1:9092"}
    assert {s.status for s in (caller, operator)} == {StreamStatus.LIVE}
    assert [a["Data"] for a in asterisk.actions] == [
        "PJSIP/callers-00000001,qEou",
        "PJSIP/8001-00000002,qEou",
    ]
    assert [a["Channel"] for a in asterisk.actions] == [
        f"AudioSocket/127.0.0.1:9092/{caller.id}/c(slin16)",
        f"AudioSocket/127.0.0.1:9092/{operator.id}/c(slin16)",
    ]


def test_a_failed_originate_breaks_the_stream_and_the_operator_is_not_streamed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    asterisk = FakeAsterisk(sessions, ("Failure", "8"), take=False)
    asyncio.run(replay(tracker(sessions, tmp_path, asterisk)))
    (caller,) = streams(sessions)
    assert caller.status == StreamStatus.BROKEN
    assert "could not connect to the recogniser" in caller.reason
    assert caller.ended_at == NOW
    assert len(asterisk.actions) == 1


def test_a_full_recogniser_takes_no_more_calls(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        session.add(
            LiveStream(
                id="00000000-0000-4000-8000-000000000001",
                call_uniqueid="1795245000.9",
                speaker=CALLER,
                spied_channel="PJSIP/callers-00000000",
                recogniser="127.0.0.1:9092",
                offset_seconds=0.0,
                status=StreamStatus.LIVE,
                requested_at=NOW,
            )
        )
    asterisk = FakeAsterisk(sessions, ("Success", "4"), take=True)
    asyncio.run(replay(tracker(sessions, tmp_path, asterisk, capacity=1)))
    assert asterisk.actions == []
    assert [s.call_uniqueid for s in streams(sessions)] == ["1795245000.9"]


def test_streams_the_listener_never_took_are_broken_when_the_call_ends(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    asterisk = FakeAsterisk(sessions, ("Success", "4"), take=False)
    asyncio.run(replay(tracker(sessions, tmp_path, asterisk)))
    found = streams(sessions)
    assert len(found) == 2
    assert {(s.status, s.reason) for s in found} == {(StreamStatus.BROKEN, NEVER_CONNECTED)}


def test_events_are_not_held_up_by_a_slow_originate(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    async def scenario() -> None:
        asterisk = FakeAsterisk(sessions, ("Success", "4"), take=True)
        asterisk.release.clear()  # Asterisk does not answer the Originate yet
        calls = tracker(sessions, tmp_path, asterisk)
        events = trace_events()
        recording = next(i for i, e in enumerate(events) if isinstance(e, ev.RecordingStarted))
        for event in events[: recording + 1]:
            await calls.handle(event)

        async def asked() -> bool:
            return bool(asterisk.actions)

        await async_wait_for(asked, 10, "the caller's Originate")
        for event in events[recording + 1 :]:
            await asyncio.wait_for(calls.handle(event), 5)
        # Every event applied (the call is over) while the caller's Originate is unanswered;
        # the operator's request waited behind it, and is dropped: the call is over.
        assert not calls.active
        assert len(asterisk.actions) == 1
        asterisk.release.set()
        await calls.drain(timeout=10)
        assert len(asterisk.actions) == 1
        (caller,) = streams(sessions)
        assert caller.speaker == CALLER and caller.status == StreamStatus.LIVE

    asyncio.run(scenario())
