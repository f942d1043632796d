"""A whole hotline (real Asterisk, ivr service, API) in a temporary data folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.secrets import load as load_secrets
from core.settings import PROJECT_ROOT, Settings
from core.waiting import wait_for
from hotline import processes, provision
from ivr import call_store, prompts
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall
from ivr.models import Call
from phones.sipp import DialResult, OperatorPhone, free_udp_port, place_call
from recordings import lookup
from recordings.models import Recording
from tests.builders import KOREAN_MODEL, PASSWORD, add_user
from tests.conftest import free_port
from tests.e2e.browser import chromium


@dataclass
class Hotline:
    settings: Settings
    install: AsteriskInstall
    engine: Engine
    _browser: urllib.request.OpenerDirector | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def close(self) -> None:
        processes.down(self.settings, self.install)
        self.engine.dispose()

    @property
    def dirs(self) -> AsteriskDirs:
        return AsteriskDirs.for_settings(self.settings, self.install.modules_dir)

    @property
    def notice_seconds(self) -> float:
        return prompts.duration_seconds(prompts.prompt_path(self.settings.sounds_dir, "notice"))

    def dial(self, audio: Path, caller: str, **options: object) -> DialResult:
        return place_call(
            audio=audio,
            number=str(options.pop("number", "12345")),
            sip_host="127.0.0.1",
            sip_port=self.settings.sip_port,
            caller=caller,
            **options,  # type: ignore[arg-type]
        )

    def operator_phone(self, name: str, audio: Path | None, answer: bool = True) -> OperatorPhone:
        secrets = load_secrets(self.settings.data_dir)
        return OperatorPhone(
            name=name,
            password=secrets.operator_password(name),
            sip_host="127.0.0.1",
            sip_port=self.settings.sip_port,
            audio=audio,
            answer=answer,
        )

    def wait_call(self, caller: str, timeout: float = 60) -> Call:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)

        def logged() -> Call | None:
            with self.sessions() as session:
                call = call_store.latest_call_from(session, caller, since)
                return call if call is not None and call_store.is_settled(call) else None

        return wait_for(logged, timeout, f"call from {caller} to be logged")

    def recording_of(self, call: Call) -> Recording | None:
        """The call's stored recording (the call row does not hold it)."""
        with self.sessions() as session:
            return lookup.of_call(session, call.id)

    def api_json(self, path: str) -> Any:
        return json.loads(self.api_get(path)[1])

    def api_get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET a page or API route as the test operator (logged in on first use)."""
        base = f"http://127.0.0.1:{self.settings.api_port}"
        if self._browser is None:
            # The operator at phone 8001: the calls answered there are theirs to hear
            # and read (the replay rules), like the messages nobody answered.
            add_user(self.sessions, "e2e-operator", "operator", phone="8001")
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            body = json.dumps({"username": "e2e-operator", "password": PASSWORD}).encode()
            request = urllib.request.Request(
                f"{base}/api/session",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with opener.open(request, timeout=10):
                pass
            self._browser = opener
        request = urllib.request.Request(f"{base}{path}", headers=headers or {})
        with self._browser.open(request, timeout=10) as response:
            return response.status, response.read()

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.settings.to_env()}
        return subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=check,
        )


def start_hotline(
    data_dir: Path, database_url: str = "", rtp_base: int = 31000, **overrides: Any
) -> Hotline:
    """Every part, with the Korean stand-in model and one transcription worker (``overrides``:
    other settings)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "sip_port": free_port(),
        "ami_port": free_port(),
        "agi_port": free_port(),
        "api_port": free_port(),
        "asr_live_port": free_port(),
        "rtp_port_start": rtp_base,
        "rtp_port_end": rtp_base + 999,
        "queue_wait_seconds": 30,
        "queue_ring_seconds": 10,
        "message_silence_seconds": 3,
        "ami_trace_file": data_dir / "ami-trace.jsonl",
        "vosk_model": KOREAN_MODEL,
        "asr_workers": 1,
        "outbound_sip_target": f"127.0.0.1:{free_udp_port()}",  # a test's citizen phone
        "satisfaction_poll_seconds": 1.0,
        "satisfaction_ring_seconds": 8,
    }
    settings = Settings(**{**values, **overrides})
    install = provision.prepare(settings)
    try:
        processes.up(settings, install, timeout=90)
    except BaseException:
        processes.down(settings, install)  # no part outlives a failed start
        raise
    return Hotline(settings, install, make_engine(settings.effective_database_url))


@pytest.fixture(scope="session")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    instance = start_hotline(tmp_path_factory.mktemp("hotline-data"))
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module."""
    with chromium() as launched:
        yield launched
