"""End to end: ``/metrics`` of the running API follows a real operator phone (SIPp) as it
registers with the real Asterisk, takes a real call and unregisters: the ivr service learns
the phone's state from AMI (QueueStatus, QueueMemberStatus) and the API reads it from the
service's file, never from Asterisk."""

from __future__ import annotations

import concurrent.futures
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from core.waiting import wait_for
from ivr import phones
from ivr.phones import DeviceState
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hotline

pytestmark = pytest.mark.asterisk

CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s


def get(hotline: Hotline, headers: dict[str, str] | None = None) -> tuple[int, str]:
    url = f"http://127.0.0.1:{hotline.settings.api_port}/metrics"
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(hotline: Hotline) -> dict[str, float]:
    status, body = get(hotline)
    assert status == 200, body
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels
    }


def phone_state(hotline: Hotline, name: str) -> DeviceState | None:
    board = phones.read(phones.phones_file(hotline.settings.run_dir))
    phone = None if board is None else board.phones.get(name)
    return None if phone is None else phone.state


def test_metrics_follow_an_operator_phone_through_a_call(hotline: Hotline, tmp_path: Path) -> None:
    wait_for(lambda: scrape(hotline).get("hotline_operators_known") == 1, 30, "phones known")
    assert phone_state(hotline, "8001") is DeviceState.UNAVAILABLE  # not registered yet
    before = scrape(hotline)
    registered = before["hotline_operators_registered"]

    tone = tmp_path / "operator.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "30", "sine", "800"],
        check=True,
    )
    with hotline.operator_phone("8001", tone):
        wait_for(
            lambda: scrape(hotline)["hotline_operators_registered"] == registered + 1,
            15,
            "the registered phone to count",
        )
        assert phone_state(hotline, "8001") is DeviceState.NOT_INUSE
        status = hotline.cli("status").stdout
        assert f"operator phones: {int(registered) + 1} of 2 registered, 0 on a call" in status
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            dialled = pool.submit(
                hotline.dial,
                CLIP,
                "13900000141",
                wait_seconds=hotline.notice_seconds + 0.3,
                extra_seconds=3,
            )
            talking = wait_for(
                lambda: (
                    found
                    if (found := scrape(hotline))["hotline_calls_talking"] >= 1
                    and found["hotline_operators_busy"] >= 1
                    else None
                ),
                30,
                "the answered call and the busy phone",
            )
            assert talking["hotline_calls_in_progress"] >= 1
            assert phone_state(hotline, "8001") is DeviceState.INUSE
            result = dialled.result(timeout=60)
        assert result.sipp_exit == 0, result.output
        wait_for(
            lambda: (
                scrape(hotline)["hotline_operators_busy"] == before["hotline_operators_busy"]
                and phone_state(hotline, "8001") is DeviceState.NOT_INUSE
            ),
            15,
            "the phone to be free again",
        )
        wait_for(lambda: scrape(hotline)["hotline_calls_in_progress"] == 0, 15, "the call to end")
    wait_for(
        lambda: scrape(hotline)["hotline_operators_registered"] == registered,
        15,
        "the unregistered phone to leave the count",
    )


def test_the_real_server_takes_a_proxys_request_as_remote(hotline: Hotline) -> None:
    """Through uvicorn as it runs: a request relayed by a proxy on this host (peer
    127.0.0.1, X-Forwarded-For) needs the token; with it, it is served."""
    status, body = get(hotline, {"X-Forwarded-For": "198.51.100.4"})
    assert status == 401, body
    token = metrics.make_token(hotline.settings.data_dir).read_text().strip()
    status, body = get(
        hotline, {"X-Forwarded-For": "198.51.100.4", "Authorization": f"Bearer {token}"}
    )
    assert status == 200 and "hotline_calls_in_progress" in body
