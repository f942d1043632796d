"""The AMI listener against the real Asterisk: loopback only, least privilege, reconnects."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager

from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import Settings
from hotline import ivr_service, provision
from ivr import asterisk_process
from ivr import dialplan_variables as dv
from ivr.ami_adapter import AdapterConfig
from ivr.ami_listener import AmiListener
from ivr.ami_protocol import Utf8AMIProtocol
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall
from ivr.call_tracker import TrackerPaths
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def asterisk(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, AsteriskInstall]]:
    data = tmp_path_factory.mktemp("asterisk-only")
    settings = Settings(
        data_dir=data,
        sip_port=free_port(),
        ami_port=free_port(),
        agi_port=free_port(),
        api_port=free_port(),
        rtp_port_start=32000,
        rtp_port_end=32099,
    )
    install = provision.prepare(settings)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    asterisk_process.start(install, dirs, settings.data_dir)
    try:
        yield settings, install
    finally:
        asterisk_process.stop(install, dirs, settings.data_dir)


def listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


def test_ami_listens_on_loopback_only(asterisk: tuple[Settings, AsteriskInstall]) -> None:
    settings, _ = asterisk
    assert listening_addresses(settings.ami_port) == {"0100007F"}


async def _manager(settings: Settings, secret: str) -> tuple[Manager, bool]:
    loop = asyncio.get_running_loop()
    manager = Manager(
        loop=loop,
        host="127.0.0.1",
        port=settings.ami_port,
        username="hotline",
        secret=secret,
        protocol_factory=Utf8AMIProtocol,
        ping_delay=60,
    )
    manager.connect()
    async with asyncio.timeout(10):
        while manager.authenticated_future is None and not manager.authenticated:
            await asyncio.sleep(0.05)
        if manager.authenticated_future is not None:
            await manager.authenticated_future
    return manager, bool(manager.authenticated)


def test_a_wrong_secret_is_refused(asterisk: tuple[Settings, AsteriskInstall]) -> None:
    settings, _ = asterisk

    async def scenario() -> bool:
        manager, ok = await _manager(settings, "not-the-secret")
        manager.close()
        return ok

    assert asyncio.run(scenario()) is False


def test_the_account_has_no_rights_beyond_what_it_uses(
    asterisk: tuple[Settings, AsteriskInstall],
) -> None:
    settings, _ = asterisk
    secret = load_secrets(settings.data_dir).ami_secret

    async def scenario() -> dict[str, Any]:
        manager, ok = await _manager(settings, secret)
        assert ok
        replies = {}
        for name, action in (
            ("Command", {"Action": "Command", "Command": "core show version"}),
            (
                "System",
                {
                    "Action": "Originate",
                    "Channel": "Local/1@hotline-in",
                    "Application": "System",
                    "Data": "touch /tmp/pwned",
                },
            ),
            ("Setvar", {"Action": "Setvar", "Variable": "X", "Value": "1"}),
            ("CoreStatus", {"Action": "CoreStatus"}),
            # What the satisfaction call-back does: a call into a dialplan context.
            # (the channel cannot be made: nothing rings, the call never starts)
            (
                "Originate",
                {
                    "Action": "Originate",
                    "Channel": "Local/s@hotline-outbound",
                    "Context": "hotline-satisfaction",
                    "Exten": "s",
                    "Priority": "1",
                    "Async": "true",
                },
            ),
        ):
            reply = await asyncio.wait_for(manager.send_action(action), 10)
            replies[name] = reply[0] if isinstance(reply, list) else reply
        manager.close()
        return replies

    replies = asyncio.run(scenario())
    for refused in ("Command", "Setvar"):
        assert replies[refused].get("Response") == "Error", refused
        assert "Permission denied" in replies[refused].get("Message", "")
    # "originate" alone cannot run System or Exec: that would need "system".
    assert replies["System"].get("Response") == "Error"
    assert "Originate Access Forbidden" in replies["System"].get("Message", "")
    assert not Path("/tmp/pwned").exists()
    assert replies["CoreStatus"].get("Response") == "Success"
    assert replies["Originate"].get("Response") == "Success", replies["Originate"]


def test_listener_logs_in_reconciles_and_comes_back_after_a_restart(
    asterisk: tuple[Settings, AsteriskInstall], tmp_path: Path
) -> None:
    settings, install = asterisk
    secrets = load_secrets(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    tracker = ivr_service.build_tracker(
        make_session_factory(engine),
        TrackerPaths(settings.spool_dir, dirs.cdr_csv, dv.CONTEXT_CALLERS, settings.hotline_number),
        settings.recordings_dir,
        clock=lambda: dt.datetime.now(dt.UTC),
        ingest_timeout=1,
    )
    logins: list[bool] = []

    async def scenario() -> set[str]:
        listener = AmiListener(
            asyncio.get_running_loop(),
            host="127.0.0.1",
            port=settings.ami_port,
            username=secrets.ami_username,
            secret=secrets.ami_secret,
            adapter=AdapterConfig(dv.CONTEXT_CALLERS, settings.hotline_number),
            tracker=tracker,
            on_status=logins.append,
        )
        listener.start()
        consumer = asyncio.create_task(listener.run())
        try:
            async with asyncio.timeout(20):
                while logins != [True]:
                    await asyncio.sleep(0.05)
                live = await listener.live_uniqueids()
                await asyncio.to_thread(asterisk_process.kill_hard, dirs)
                while logins[-1] is not False:
                    await asyncio.sleep(0.05)
            await asyncio.to_thread(asterisk_process.start, install, dirs, settings.data_dir)
            async with asyncio.timeout(20):
                while logins[-1] is not True:
                    await asyncio.sleep(0.05)
                await listener.queue.join()
            return live
        finally:
            listener.close()
            consumer.cancel()

    live = asyncio.run(scenario())
    engine.dispose()
    assert live == set()
    assert logins[0] is True and False in logins and logins[-1] is True
