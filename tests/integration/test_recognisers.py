"""Live recognisers anywhere (issue 18): each live listener registers itself in the database
with its capacity and heartbeats; the nodes' live requests choose among the live ones by room
(two real listeners with capacities 1 and 2, on their own loopback addresses), fall back to
the batch queue when none has room, never choose one whose heartbeat stopped, and use the
static ``asr_live_recognisers`` list only when none is registered. Asterisk's side is a
hand-written fake that answers the Originate by opening the real AudioSocket connection to
the recogniser it names, as Asterisk does; both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr import recognisers
from asr.audiosocket import Kind, encode
from asr.live_listener import LiveListener
from asr.live_models import LiveStream, StreamStatus
from asr.live_requests import LiveRequests
from asr.streaming import Heard, StreamRecogniser
from core.clock import utc_now
from core.settings import Settings
from core.waiting import async_wait_for
from hotline import ivr_service
from tests.conftest import free_port

HEARTBEAT = 0.2
MAX_AGE = dt.timedelta(seconds=2)
STATIC = ("127.0.3.9", 9)  # nothing listens there
QUEUED = {"Response": "Success", "Message": "Originate successfully queued"}


class Quiet:
    engine = "fake"
    model = "quiet"

    def accept(self, pcm: bytes, at: float) -> list[Heard]:  # noqa: ARG002 - hears nothing
        return []

    def tick(self, now: float) -> list[Heard]:  # noqa: ARG002 - hears nothing
        return []

    def finish(self) -> list[Heard]:
        return []


class QuietFactory:
    engine = "fake"
    model = "quiet"

    def new_stream(self) -> StreamRecogniser:
        return Quiet()


class FakeAsterisk:
    """Answers an AudioSocket Originate by connecting to the recogniser it names and sending
    the stream's id (the connection stays open: the stream is live); refused: reason 8."""

    def __init__(self) -> None:
        self.open: list[asyncio.StreamWriter] = []

    async def send_action(self, action: dict[str, str]) -> Any:
        _, address, stream_id, _ = action["Channel"].split("/")
        host, _, port = address.rpartition(":")
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return [QUEUED, {"Event": "OriginateResponse", "Response": "Failure", "Reason": "8"}]
        writer.write(encode(Kind.ID, uuid.UUID(stream_id).bytes))
        await writer.drain()
        self.open.append(writer)
        return [QUEUED, {"Event": "OriginateResponse", "Response": "Success", "Reason": "4"}]

    async def hang_up_all(self) -> None:
        for writer in self.open:
            writer.write(encode(Kind.HANGUP))
            writer.close()
        self.open.clear()


def listener(sessions: sessionmaker[Session], host: str, capacity: int) -> tuple[LiveListener, int]:
    port = free_port()
    return (
        LiveListener(
            sessions,
            QuietFactory(),
            address=f"{host}:{port}",
            capacity=capacity,
            stall_seconds=5.0,
            grace_seconds=30.0,
            heartbeat_seconds=HEARTBEAT,
        ),
        port,
    )


def caller_streams(sessions: sessionmaker[Session], prefix: str) -> dict[str, LiveStream]:
    with sessions() as session:
        rows = session.scalars(
            select(LiveStream).where(LiveStream.call_uniqueid.startswith(prefix))
        )
        return {row.call_uniqueid: row for row in rows}


def test_calls_go_to_registered_recognisers_by_room_never_to_a_stale_one(
    sessions: sessionmaker[Session],
) -> None:
    asterisk = FakeAsterisk()
    requests = LiveRequests(
        sessions,
        [STATIC],
        5,
        asterisk.send_action,
        utc_now,
        connect_seconds=1.0,
        registered_max_age=MAX_AGE,
    )
    one, port_one = listener(sessions, "127.0.3.1", 1)
    two, port_two = listener(sessions, "127.0.3.2", 2)
    name_one, name_two = f"127.0.3.1:{port_one}", f"127.0.3.2:{port_two}"

    async def live(prefix: str, count: int) -> None:
        async def taken() -> bool:
            rows = caller_streams(sessions, prefix).values()
            return sum(r.status == StreamStatus.LIVE for r in rows) == count

        await async_wait_for(taken, 10, f"{count} live streams of {prefix}", 0.05)

    async def scenario() -> dict[str, Counter[str]]:
        seen: dict[str, Counter[str]] = {}
        # None registered: the static list (nothing listens there: broken, batch).
        await requests.recording_started("s-1.1", "PJSIP/callers-s1", utc_now())
        static = caller_streams(sessions, "s-")["s-1.1"]
        assert (static.recogniser, static.status) == (f"{STATIC[0]}:{STATIC[1]}", "broken")

        await one.start("127.0.3.1", port_one)
        await two.start("127.0.3.2", port_two)
        with sessions() as session:
            rows = recognisers.registered(session)
        assert [(r.name, r.capacity) for r in rows] == [(name_one, 1), (name_two, 2)]

        # Four calls: 2 + 1 places; the most room first, the fourth to the batch workers.
        for n in range(1, 5):
            await requests.recording_started(f"r-1.{n}", f"PJSIP/callers-r{n}", utc_now())
        await live("r-", 3)
        found = caller_streams(sessions, "r-")
        seen["room"] = Counter(row.recogniser for row in found.values())
        assert found["r-1.1"].recogniser == name_two, "two places free there"
        assert "r-1.4" not in found, "no room anywhere: transcribed from the recording"
        await asyncio.gather(*(requests.call_over(f"r-1.{n}") for n in range(1, 5)))
        await asterisk.hang_up_all()

        async def idle() -> bool:
            rows = caller_streams(sessions, "r-").values()
            return all(r.status == StreamStatus.DONE for r in rows)

        await async_wait_for(idle, 10, "the first calls' streams done", 0.05)

        # Listener one stops beating (its process died): once its row is stale, it is never
        # chosen although it has room.
        assert one._heartbeat is not None
        one._heartbeat.cancel()  # as a SIGKILL would: the row stays, no longer refreshed

        async def stale() -> bool:
            with sessions() as session:
                row = session.get(recognisers.Recogniser, name_one)
            return row is not None and utc_now() - row.heartbeat_at > MAX_AGE

        await async_wait_for(stale, 10, "listener one's heartbeat to be old", 0.1)
        for n in range(1, 4):
            await requests.recording_started(f"d-1.{n}", f"PJSIP/callers-d{n}", utc_now())
        await live("d-", 2)
        found = caller_streams(sessions, "d-")
        seen["stale"] = Counter(row.recogniser for row in found.values())
        await asyncio.gather(*(requests.call_over(f"d-1.{n}") for n in range(1, 4)))
        await asterisk.hang_up_all()
        await two.close()
        await one.close()
        return seen

    seen = asyncio.run(scenario())
    assert seen["room"] == Counter({name_two: 2, name_one: 1})
    assert seen["stale"] == Counter({name_two: 2}), "the stale listener got nothing"
    with sessions() as session:
        assert recognisers.registered(session) == [], "a clean stop takes the rows away"


def test_an_explicit_recogniser_list_pins_the_nodes_choice(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    async def send(action: dict[str, str]) -> Any:  # never called here
        raise AssertionError(action)

    default = ivr_service.live_audio(Settings(data_dir=tmp_path), sessions, send)
    assert default is not None
    assert default.registered_max_age == dt.timedelta(seconds=10)
    assert default.recognisers == (("127.0.0.1", 9092),), "this host's, when none registered"
    pinned = ivr_service.live_audio(
        Settings(data_dir=tmp_path, asr_live_recognisers="127.0.3.5:9000"), sessions, send
    )
    assert pinned is not None and pinned.registered_max_age is None
