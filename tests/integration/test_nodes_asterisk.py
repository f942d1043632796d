"""A node's name is its Asterisk's systemname: a real Asterisk and ivr service started with
``node_name="a"`` take a real SIP call (SIPp) whose uniqueid (in the call row and Asterisk's
CDR) starts with ``a-`` — so two nodes' call ids never collide in the shared database — and
whose row says node ``a``; the ivr heartbeats the node's row, and ``hotline status`` shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.db import make_engine, make_session_factory
from core.secrets import load_or_create
from core.settings import Settings
from core.waiting import wait_for
from hotline import migrate, processes, provision
from hotline.cli import main
from ivr import asterisk_config, asterisk_process, cdr
from ivr.asterisk_config import AsteriskDirs
from ivr.models import Call
from ivr.node_models import Node
from phones.sipp import place_call
from tests.builders import tone_wav
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk


def test_a_named_node_prefixes_its_call_ids_and_heartbeats_its_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        node_name="a",
        node_heartbeat_seconds=0.5,
        sip_port=free_port(),
        ami_port=free_port(),
        agi_port=free_port(),
        api_port=free_port(),
        asr_live_port=free_port(),
        asr_live_capacity=0,
        queue_wait_seconds=2,
        rtp_port_start=37300,
        rtp_port_end=37399,
    )
    install = provision.prepare(settings)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    assert "systemname = a\n" in (dirs.etc / "asterisk.conf").read_text(encoding="utf-8")
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    asterisk_process.start(install, dirs, settings.data_dir)
    try:
        processes.start_service(settings, "ivr")

        def node_row() -> Node | None:
            with sessions() as session:
                row = session.get(Node, "a")
                return row if row is not None and row.ami_connected else None

        row = wait_for(node_row, 60, "node a's heartbeat with AMI connected", 0.2)
        assert row.sip_address == f"{settings.sip_host}:{settings.sip_port}"
        result = place_call(
            audio=tone_wav(tmp_path / "voice.wav", seconds=1.0, channels=1),
            number=settings.hotline_number,
            sip_host="127.0.0.1",
            sip_port=settings.sip_port,
            caller="13900000301",
            timeout=60,
        )
        assert result.sipp_exit == 0, result.output

        def ended_calls() -> list[tuple[str, str]] | None:
            with sessions() as session:
                rows = session.execute(
                    select(Call.asterisk_uniqueid, Call.node).where(Call.ended_at.is_not(None))
                ).all()
            return [(uid, node) for uid, node in rows] or None

        calls = wait_for(ended_calls, 30, "the call's row, ended", 0.2)
        records = wait_for(lambda: cdr.read(dirs.cdr_csv) or None, 30, "the CDR row", 0.2)
        for key, value in settings.to_env().items():
            monkeypatch.setenv(key, value)
        shown = CliRunner().invoke(main, ["status", "--json"])
    finally:
        processes.stop_service(settings, "ivr")
        asterisk_process.stop(install, dirs, settings.data_dir)
        engine.dispose()
    assert len(calls) == 1 and calls[0][1] == "a"
    assert re.fullmatch(r"a-[0-9]+\.[0-9]+", calls[0][0]), calls
    assert list(records) == [calls[0][0]], "Asterisk's own id, in its CDR"
    nodes = json.loads(shown.output)["nodes"]
    assert [(n["name"], n["status"]) for n in nodes] == [("a", "up")]


def test_the_single_machine_sets_no_systemname(tmp_path: Path) -> None:
    single = Settings(data_dir=tmp_path / "data")
    secrets = load_or_create(single.data_dir, single.operators)
    dirs = AsteriskDirs.for_settings(single, "/usr/lib/asterisk/modules")
    assert "systemname" not in asterisk_config.render(single, secrets, dirs)["asterisk.conf"]
    named = single.model_copy(update={"node_name": "node-7"})
    text = asterisk_config.render(named, secrets, dirs)["asterisk.conf"]
    assert "systemname = node-7\n" in text
