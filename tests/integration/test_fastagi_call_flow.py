"""The FastAGI call flow against a fake Asterisk over a real socket."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr import dialplan_variables as dv
from ivr.call_flow import CallFlow, CallFlowConfig, recording_file
from ivr.fastagi import FastAgiApplication
from tests.integration.fake_asterisk import FakeAsterisk, Responder, default_responder

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai
MIDNIGHT = dt.datetime(2026, 11, 20, 16, 30, tzinfo=dt.UTC)  # 00:30 in Shanghai


def config(tmp_path: Path, end: dt.time | None = None) -> CallFlowConfig:
    return CallFlowConfig(
        sounds_dir=tmp_path / "sounds",
        spool_dir=tmp_path / "spool",
        queue_name="hotline",
        queue_wait_seconds=30,
        message_max_seconds=120,
        message_silence_seconds=5,
        service_start=dt.time(8),
        service_end=end,
        timezone=SHANGHAI,
    )


async def _serve_one_call(flow: CallFlow, responder: Responder) -> list[str]:
    app = FastAgiApplication(asyncio.get_running_loop())
    app.add_route(dv.AGI_ROUTE, flow)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await FakeAsterisk(port, responder).call()
    finally:
        server.close()
        await server.wait_closed()


def run_call(flow: CallFlow, responder: Responder = default_responder) -> list[str]:
    return asyncio.run(_serve_one_call(flow, responder))


def test_no_operator_takes_a_message(tmp_path: Path) -> None:
    commands = run_call(CallFlow(config(tmp_path), clock=lambda: NOON))
    sounds = tmp_path / "sounds" / "hotline"
    spool = tmp_path / "spool" / "20261120" / "1700000000.7.wav"
    assert commands == [
        "ANSWER",
        f'STREAM FILE {sounds}/notice ""',
        f'EXEC UserEvent "{dv.EVENT_NOTICE_FINISHED}"',
        f'EXEC MixMonitor "{spool},D,/bin/touch {spool.with_suffix(".done")}"',
        f'EXEC UserEvent "{dv.EVENT_RECORDING_STARTED},Path: {spool}"',
        'EXEC Queue "hotline,,,,30"',
        "GET VARIABLE QUEUESTATUS",
        f'EXEC UserEvent "{dv.EVENT_MESSAGE_STARTED},Reason: joinempty"',
        f'STREAM FILE {sounds}/leave_message ""',
        f'STREAM FILE {sounds}/beep ""',
        'EXEC WaitForSilence "5000,1,120"',
        f'STREAM FILE {sounds}/thanks ""',
        "HANGUP",
    ]
    assert spool.parent.is_dir()


def test_outside_service_hours_skips_the_queue(tmp_path: Path) -> None:
    commands = run_call(CallFlow(config(tmp_path, end=dt.time(20)), clock=lambda: MIDNIGHT))
    assert not any(c.startswith("EXEC Queue") for c in commands)
    assert f'EXEC UserEvent "{dv.EVENT_MESSAGE_STARTED},Reason: out_of_hours"' in commands


def test_answered_call_ends_without_a_message(tmp_path: Path) -> None:
    def responder(command: str) -> str:
        if command.startswith("EXEC Queue"):
            return "200 result=-1"  # the bridged call ended and the channel hung up
        if command == "CHANNEL STATUS":
            return "HANGUP"
        return default_responder(command)

    commands = run_call(CallFlow(config(tmp_path), clock=lambda: NOON), responder)
    assert commands[-2:] == ['EXEC Queue "hotline,,,,30"', "CHANNEL STATUS"]
    assert not any(dv.EVENT_MESSAGE_STARTED in c for c in commands)
    assert not any(dv.EVENT_CALL_FAILED in c for c in commands)


def test_caller_hanging_up_during_the_notice_stops_the_flow(tmp_path: Path) -> None:
    def responder(command: str) -> str:
        return "HANGUP" if command.startswith("STREAM FILE") else "200 result=0"

    commands = run_call(CallFlow(config(tmp_path), clock=lambda: NOON), responder)
    assert commands == ["ANSWER", f'STREAM FILE {tmp_path}/sounds/hotline/notice ""']


def test_a_failure_ends_with_a_spoken_apology_and_a_hang_up(tmp_path: Path) -> None:
    def responder(command: str) -> str:
        if command.startswith("EXEC MixMonitor"):
            return "510 Invalid or unknown command"
        return default_responder(command)

    commands = run_call(CallFlow(config(tmp_path), clock=lambda: NOON), responder)
    assert commands[-3].startswith(f'EXEC UserEvent "{dv.EVENT_CALL_FAILED},Reason: ')
    reason = commands[-3].split("Reason: ", 1)[1]
    assert "," not in reason and "MixMonitor" in reason, "the reason stays one field"
    assert commands[-2:] == [f'STREAM FILE {tmp_path}/sounds/hotline/sorry ""', "HANGUP"]


def test_a_crash_inside_the_flow_also_apologises(tmp_path: Path) -> None:
    def broken_clock() -> dt.datetime:
        raise RuntimeError("clock unavailable")

    commands = run_call(CallFlow(config(tmp_path), clock=broken_clock))
    assert any("RuntimeError" in c for c in commands)
    assert commands[-1] == "HANGUP"
    assert f'STREAM FILE {tmp_path}/sounds/hotline/sorry ""' in commands


@pytest.mark.parametrize("uniqueid", ["../../etc/passwd", "", "   "])
def test_recording_path_cannot_escape_the_spool(tmp_path: Path, uniqueid: str) -> None:
    if uniqueid.strip("./ ") == "":
        with pytest.raises(ValueError):
            recording_file(tmp_path, uniqueid, NOON)
    else:
        path = recording_file(tmp_path, uniqueid, NOON)
        assert path.parent.parent == tmp_path
