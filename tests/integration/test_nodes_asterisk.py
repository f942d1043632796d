"""A node's name is its Asterisk's systemname: a real Asterisk started with ``node_name="a"``
takes a real SIP call (SIPp) whose uniqueid, in its CDR, starts with ``a-`` — so two nodes'
call ids can never collide in the shared database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.secrets import load_or_create
from core.settings import Settings
from core.waiting import wait_for
from hotline import provision
from ivr import asterisk_config, asterisk_process, cdr
from ivr.asterisk_config import AsteriskDirs
from phones.sipp import place_call
from tests.builders import tone_wav
from tests.conftest import free_port

pytestmark = pytest.mark.asterisk


def test_the_node_name_prefixes_asterisks_uniqueids(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        node_name="a",
        sip_port=free_port(),
        ami_port=free_port(),
        agi_port=free_port(),  # nobody listens: the call flow is unreachable, the call ends
        api_port=free_port(),
        rtp_port_start=37300,
        rtp_port_end=37399,
    )
    install = provision.prepare(settings)
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    assert "systemname = a\n" in (dirs.etc / "asterisk.conf").read_text(encoding="utf-8")
    asterisk_process.start(install, dirs, settings.data_dir)
    try:
        result = place_call(
            audio=tone_wav(tmp_path / "voice.wav", seconds=1.0, channels=1),
            number=settings.hotline_number,
            sip_host="127.0.0.1",
            sip_port=settings.sip_port,
            caller="13900000301",
            timeout=60,
        )
        assert result.output is not None
        records = wait_for(lambda: cdr.read(dirs.cdr_csv) or None, 30, "the call's CDR row", 0.2)
    finally:
        asterisk_process.stop(install, dirs, settings.data_dir)
    ids = [record.uniqueid for record in records.values()]
    assert ids and all(re.fullmatch(r"a-[0-9]+\.[0-9]+", uid) for uid in ids), ids


def test_the_single_machine_sets_no_systemname(tmp_path: Path) -> None:
    single = Settings(data_dir=tmp_path / "data")
    secrets = load_or_create(single.data_dir, single.operators)
    dirs = AsteriskDirs.for_settings(single, "/usr/lib/asterisk/modules")
    assert "systemname" not in asterisk_config.render(single, secrets, dirs)["asterisk.conf"]
    named = single.model_copy(update={"node_name": "node-7"})
    text = asterisk_config.render(named, secrets, dirs)["asterisk.conf"]
    assert "systemname = node-7\n" in text
