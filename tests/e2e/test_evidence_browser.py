"""A supervisor investigates in a real browser (Debian's Chromium) against `hotline serve
api`: opens the case, states why (调听事由), replays the recording and seeks in it, exports
the evidence package (which `sha256sum -c` accepts), and every listen is in the access log
the auditor reads."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Request, expect

from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.waiting import wait_for
from dispatch.intake import register
from hotline import migrate
from tests.builders import add_recorded_call, add_user, recently, tone_wav
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

REASON = "核查投诉人反映的话务员服务态度问题"
SECONDS = 12.0


@dataclass(frozen=True)
class Site:
    url: str
    case_id: str
    number: str
    recording_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("evidence")
    settings = Settings(data_dir=data, api_port=free_port())
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in [("sup1", "supervisor"), ("aud1", "auditor")]:
        add_user(sessions, name, role)
    audio = tone_wav(data / "tone.wav", seconds=SECONDS)
    started = recently()
    call_id, recording_id = add_recorded_call(
        sessions, data, "1.1", audio=audio, answered_after=0.5, started_at=started
    )
    zone = ZoneInfo(settings.timezone)
    config = register.IntakeConfig(
        zone,
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
    )
    case = register.register(
        sessions,
        config,
        {
            "received_at": f"{started.astimezone(zone):%Y-%m-%dT%H:%M}",
            "channel": "phone",
            "case_type": "complaint",
            "complainant_name": "赵敏",
            "complainant_phone": "13600001111",
            "subject_unit": "热线中心",
            "subject_person": "话务员",
            "title": "话务员态度生硬",
            "content": "来电反映话务员态度生硬。",
            "decision": "accept",
        },
        [],
        "op1",
        started + dt.timedelta(minutes=5),
        call_id=call_id,
    )
    try:
        with console_api(settings) as url:
            yield Site(url, case.id, case.number, recording_id)
    finally:
        engine.dispose()


def test_a_supervisor_replays_with_seeking_and_exports_verifiable_evidence(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    page = logged_in(browser, site.url, "sup1")
    ranges: list[str] = []

    def record(request: Request) -> None:
        if "/audio" in request.url:
            ranges.append(request.headers.get("range", ""))

    page.on("request", record)
    page.goto(f"{site.url}/cases/{site.case_id}")
    page.locator("#evidence-link").click()
    expect(page.get_by_role("heading", name=f"调听与证据：案件 {site.number}")).to_be_visible()
    expect(page.locator("audio")).to_have_count(0)
    page.get_by_label("调听事由").fill(REASON)
    page.get_by_role("button", name="说明事由并调听").click()
    expect(page.locator("#reason")).to_contain_text(REASON)
    audio = page.locator("audio#audio-1")
    expect(audio).to_have_count(1)

    # Nothing is read before play (preload="none"): opening the page is not a listening.
    assert ranges == []
    # The player knows the length, can seek (the server answers ranges), and plays on from
    # where it was sent.
    page.evaluate("document.getElementById('audio-1').play()")
    page.wait_for_function("() => document.getElementById('audio-1').readyState >= 1")
    page.evaluate("document.getElementById('audio-1').pause()")
    duration = page.evaluate("document.getElementById('audio-1').duration")
    assert abs(duration - SECONDS) < 0.1
    seekable_end = page.evaluate(
        "(() => { const s = document.getElementById('audio-1').seekable;"
        " return s.length ? s.end(s.length - 1) : 0; })()"
    )
    assert seekable_end > SECONDS - 0.1, "the whole recording is seekable"
    page.evaluate("""new Promise(done => {
        const a = document.getElementById('audio-1');
        a.addEventListener('seeked', done, {once: true});
        a.currentTime = 9.0; })""")
    assert abs(page.evaluate("document.getElementById('audio-1').currentTime") - 9.0) < 0.05
    page.evaluate("document.getElementById('audio-1').play()")
    page.wait_for_function("() => document.getElementById('audio-1').currentTime > 9.3")
    assert page.evaluate("document.getElementById('audio-1').error") is None
    assert ranges and all(r.startswith("bytes=") for r in ranges), ranges
    screenshot(page, "evidence-replay")

    # Export: a zip whose SHA256SUMS checks out with the standard tool.
    with page.expect_download() as waiting:
        page.locator("#export").click()
    download = waiting.value
    assert download.suggested_filename == f"{site.number}-evidence.zip"
    package = tmp_path / download.suggested_filename
    download.save_as(package)
    subprocess.run(["unzip", "-q", str(package), "-d", str(tmp_path)], check=True)
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"],
        cwd=tmp_path / f"{site.number}-evidence",
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"recordings/{site.recording_id}.wav: OK" in checked.stdout

    # Every listen is in the case's log and the auditor's (the reload asks for more).
    heard = list(ranges)
    page.reload()
    rows = page.locator("#access-log tbody tr")
    expect(rows.first).to_contain_text("导出证据包")
    listened = page.locator("#access-log tbody tr").filter(has_text=re.compile("播放|续播"))
    assert listened.count() == len(heard), "nothing more read by the reloaded page"
    plays = page.locator("#access-log tbody tr", has_text="播放")
    assert plays.count() == 1, "one listening, one play; the rest of it 续播"
    expect(plays.first).to_contain_text(REASON)
    auditor = logged_in(browser, site.url, "aud1")
    auditor.goto(f"{site.url}/audit")
    expect(auditor.locator("#chain")).to_contain_text("调听日志哈希链完整")
    audit_rows = auditor.locator("#audit-log tbody tr", has_text="sup1")

    def all_logged() -> bool:  # every request (the reloaded player's too) and the export
        auditor.reload()
        return audit_rows.count() == len(ranges) + 1

    wait_for(all_logged, 10, "every request in the auditor's log", 0.3)
    expect(audit_rows.first).to_contain_text(site.number)
    screenshot(auditor, "evidence-audit")
