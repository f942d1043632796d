"""panoramisk 1.4's defects on Python 3.11, each guarded; each test fails without its guard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.fast_agi import Request

from ivr.ami_protocol import Utf8AMIProtocol
from ivr.fastagi import FastAgiApplication

EVENT = (
    "Event: Newchannel\r\nCallerIDName: 张三丰\r\nUniqueid: 1.1\r\nTimestamp: 1.0\r\n\r\n"
).encode()


class _Factory:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)


def _feed(protocol_class: type[AMIProtocol], chunks: list[bytes]) -> list[Any]:
    protocol = protocol_class()
    protocol.connection_made(transport=None)
    factory = _Factory()
    protocol.factory = factory
    protocol.encoding = "utf-8"
    protocol.version = "11.0.0"
    for chunk in chunks:
        protocol.data_received(chunk)
    return factory.events


def _split_inside_a_character() -> list[bytes]:
    cut = EVENT.index("张".encode()) + 1  # one byte into a three-byte character
    return [EVENT[:cut], EVENT[cut:]]


def test_utf8_split_across_reads_is_kept() -> None:
    events = _feed(Utf8AMIProtocol, _split_inside_a_character())
    assert [e["CallerIDName"] for e in events] == ["张三丰"]


def test_unguarded_panoramisk_loses_the_split_character() -> None:
    """Documents the defect the guard exists for (if panoramisk fixes it, drop the guard)."""
    events = _feed(AMIProtocol, _split_inside_a_character())
    assert [e["CallerIDName"] for e in events] != ["张三丰"]


def test_a_fastagi_client_closing_early_does_not_freeze_the_server() -> None:
    async def scenario() -> list[str]:
        served: list[str] = []

        async def handler(request: Request) -> None:
            served.append(request.headers["agi_network_script"])

        app = FastAgiApplication(asyncio.get_running_loop())
        app.add_route("hotline", handler)
        server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        # A client that sends half its headers and goes away.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: hotline\nagi_channel: PJSIP/x")
        await writer.drain()
        writer.close()
        # The next, well-behaved client is served promptly: the loop is not spinning.
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"agi_network_script: hotline\n\n")
            await writer.drain()
            while not served:
                await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()
        return served

    assert asyncio.run(scenario()) == ["hotline"]


def test_sync_handlers_are_refused_at_registration() -> None:
    def sync_handler(request: Request) -> None:
        return None

    async def scenario() -> None:
        app = FastAgiApplication(asyncio.get_running_loop())
        with pytest.raises(TypeError, match="async def"):
            app.add_route("hotline", sync_handler)  # type: ignore[arg-type]

    asyncio.run(scenario())
