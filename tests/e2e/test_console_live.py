"""A call ringing at an operator's phone shows on that operator's console at once: real
Asterisk, a SIPp caller and a SIPp operator phone, the AMI listener, server-sent events and
Debian's Chromium."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from dispatch.intake import case_lookup, case_store, register
from ivr.models import ConsoleEvent
from phones.sipp import DialResult
from tests.builders import add_user
from tests.conftest import SAMPLES
from tests.e2e.browser import logged_in, screenshot
from tests.e2e.conftest import Hotline

CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s


def test_a_ringing_call_shows_on_the_operators_console_with_the_callers_history(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    settings = hotline.settings
    caller = "13912340001"
    add_user(hotline.sessions, "op8001", "operator", phone="8001")
    earlier = register.register(
        hotline.sessions,
        register.IntakeConfig(
            ZoneInfo(settings.timezone),
            settings.case_number_format,
            settings.attachments_dir,
            settings.attachment_max_bytes,
            settings.attachment_max_files,
        ),
        {
            "received_at": "2026-11-01T10:00",
            "channel": "walk_in",
            "case_type": "complaint",
            "complainant_name": "赵六",
            "complainant_phone": caller,
            "subject_unit": "某物业",
            "title": "电梯停运",
            "content": "小区电梯停运一周。",
        },
        [],
        "op8001",
        dt.datetime.now(dt.UTC),
    )

    base = f"http://127.0.0.1:{settings.api_port}"
    page = logged_in(browser, base, "op8001")
    expect(page.locator("body")).to_have_attribute("data-live", "1")  # the feed is open

    tone = tmp_path / "operator.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(tone),
            "synth",
            "30",
            "sine",
            "1000",
            "vol",
            "0.3",
        ],
        check=True,
    )
    results: list[DialResult] = []
    with hotline.operator_phone("8001", tone):
        dialling = threading.Thread(
            target=lambda: results.append(
                hotline.dial(
                    CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=6
                )
            )
        )
        dialling.start()
        try:
            live = page.locator("#live")
            expect(live).to_contain_text(caller, timeout=30_000)
            expect(live).to_contain_text("赵六")
            expect(live).to_contain_text(earlier.number)
            expect(live).to_contain_text("电梯停运")
            expect(live).to_have_attribute("data-kind", "answered", timeout=30_000)
            screenshot(page, "live-call")
            call_id = live.get_attribute("data-call-id")
            # From the banner to a registered case, while the call is still going on.
            page.locator("#live-open").click()
            expect(page).to_have_url(f"{base}/calls/{call_id}")
            expect(page.locator("#f-complainant_phone")).to_have_value(caller)
            expect(page.locator("#f-complainant_name")).to_have_value("赵六")  # known caller
            page.select_option("#f-case_type", "complaint")
            page.locator("#f-subject_unit").fill("某物业")
            page.locator("#f-title").fill("电梯再次停运")
            page.locator("#f-content").fill("小区电梯修好两天后又停运了。")
            page.get_by_role("button", name="保存登记").click()
            expect(page.locator("#case-number")).to_have_text(re.compile(r"^TS\d{12}$"))
            number = page.locator("#case-number").inner_text()
            screenshot(page, "live-registered")
        finally:
            dialling.join(timeout=90)
    assert results and results[0].sipp_exit == 0, results

    call = hotline.wait_call(caller)
    assert call.id == call_id and call.operator == "8001"
    recording = hotline.recording_of(call)
    assert recording is not None
    with hotline.sessions() as session:
        kinds = session.scalars(
            select(ConsoleEvent.kind).where(ConsoleEvent.call_uniqueid == call.asterisk_uniqueid)
        ).all()
        case = case_lookup.find(session, number)
        assert case is not None and case.call_id == call.id
        recording_id, _transcript = case_store.current_links(session, case)
    assert sorted(kinds) == ["answered", "ringing"]
    assert recording_id == recording.id  # linked once the call's recording was stored
