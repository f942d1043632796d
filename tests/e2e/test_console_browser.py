"""The console in a real browser: Debian's Chromium driven by Playwright, against
`hotline serve api`, with a call transcribed by a real `hotline serve asr` (Vosk).

Screenshots of each page are kept under ``test-artifacts/`` in the checkout (git-ignored);
their paths are printed in the test output.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from core.waiting import wait_for
from dispatch.knowledge import entries
from hotline import migrate
from ivr import call_store
from recordings import lookup
from tests.builders import (
    KOREAN_MODEL,
    PASSWORD,
    add_recorded_call,
    add_user,
    korean_speech,
    recently,
    stereo_call,
)
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot, serving

HTML = '<img src=x onerror="window.injected=1"><b>粗体</b>'


@dataclass(frozen=True)
class Console:
    url: str
    call_id: str
    sessions: sessionmaker[Session]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A running API with an operator, a supervisor, a knowledge entry and one answered call
    whose two sides were transcribed by the real transcription service."""
    data = tmp_path_factory.mktemp("console")
    settings = Settings(data_dir=data, api_port=free_port(), vosk_model=KOREAN_MODEL, asr_workers=1)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    add_user(sessions, "op1", "operator")
    add_user(sessions, "sup1", "supervisor")
    with transaction(sessions) as session:
        entries.create(
            session,
            {
                "question": "如何办理居住证",
                "answer": "携带身份证、租房合同到社区服务中心申请。",
                "keywords": "居住证 暂住证",
                "owner_unit": "市公安局",
            },
            "sup1",
            dt.datetime.now(dt.UTC),
        )
    speech = korean_speech(data / "speech.wav", repeat=2)
    audio = stereo_call(data / "call.wav", speech, 6.0)
    call_id, _ = add_recorded_call(
        sessions, data, "1.1", audio, caller_name=HTML, answered_after=5.5, started_at=recently()
    )

    def transcribed() -> bool:
        with sessions() as session:
            call = call_store.get_call(session, call_id)
            recording = lookup.of_call(session, call_id)
            assert call is not None and recording is not None
            return jobs.transcript_of(session, recording) is not None

    try:
        with serving(settings, "asr"):
            wait_for(transcribed, 180, "the call to be transcribed", 0.5)
        with console_api(settings) as url:
            yield Console(url, call_id, sessions)
    finally:
        engine.dispose()


def current_time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('audio').currentTime"))


def test_an_operator_logs_in_and_out(console: Console, browser: Browser) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{console.url}/")
    expect(page).to_have_url(f"{console.url}/login?next=/")
    screenshot(page, "login")
    page.get_by_label("用户名").fill("op1")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    expect(page.locator("header.top .user")).to_contain_text("op1 名（话务员）")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{console.url}/login")


def test_from_the_queue_to_a_registered_case(console: Console, browser: Browser) -> None:
    page = logged_in(browser, console.url, "op1")
    row = page.locator(f'#queue tr[data-call-id="{console.call_id}"]')
    # The caller ID's name is shown as such, not as a real name; typed HTML comes back as text.
    expect(row).to_contain_text(f"来电显示：{HTML}")
    assert page.locator("#queue b, #queue img").count() == 0
    screenshot(page, "workbench")

    row.get_by_role("link", name="听录音并登记").click()
    expect(page).to_have_url(f"{console.url}/calls/{console.call_id}")
    segments = page.locator(".segment")
    expect(segments.first).to_be_visible()
    assert segments.count() >= 2
    expect(page.locator(".segment.caller").first).to_contain_text("来电人")
    expect(page.locator(".segment.operator").first).to_contain_text("话务员")
    expect(page.locator(".segment .raw").first).not_to_be_empty()  # raw beside corrected
    expect(page.locator("#waveform")).to_have_attribute("data-ready", "1")
    screenshot(page, "call")

    # Play, and see the time advance; pause with the keyboard.
    page.get_by_role("button", name="播放").click()
    expect(page.locator("#time")).not_to_have_text("0:00", timeout=15_000)
    page.keyboard.press("Alt+K")
    expect(page.locator("#play")).to_have_text("播放")
    assert page.evaluate("document.getElementById('audio').paused") is True

    # Speed: the menu and the shortcuts.
    page.select_option("#speed", "2")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 2
    page.keyboard.press("Alt+,")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 1.5
    page.select_option("#speed", "0.75")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 0.75

    # Clicking a segment seeks there and highlights it; the waveform seeks too.
    last = segments.last
    start = float(last.get_attribute("data-start") or "nan")
    last.click()
    assert abs(current_time(page) - start) < 0.3
    expect(last).to_have_class(re.compile(r"\bcurrent\b"))
    box = page.locator("#waveform").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    duration = float(page.evaluate("document.getElementById('audio').duration"))
    assert abs(current_time(page) - duration * 0.25) < duration * 0.03

    # The form comes pre-filled from the call.
    expect(page.locator("#f-complainant_phone")).to_have_value("13800138000")
    expect(page.locator("#f-received_at")).not_to_have_value("")
    expect(page.locator("#f-channel")).to_have_value("phone")
    expect(page.locator("#f-content")).not_to_have_value("")

    # An invalid phone number: a Chinese message at the field, and nothing is sent.
    page.locator("#f-complainant_phone").fill("12345")
    page.locator("#f-complainant_phone").press("Tab")
    expect(page.locator("#err-complainant_phone")).to_contain_text("联系电话格式不正确")
    screenshot(page, "form-invalid-phone")
    page.get_by_role("button", name="保存登记").click()
    expect(page).to_have_url(f"{console.url}/calls/{console.call_id}")

    # The server checks too: a missing subject for a complaint comes back at its field.
    page.locator("#f-complainant_phone").fill("13800138000")
    page.locator("#f-complainant_phone").press("Tab")
    expect(page.locator("#err-complainant_phone")).to_be_empty()
    page.select_option("#f-case_type", "complaint")
    page.locator("#f-complainant_name").fill(HTML)
    page.locator("#f-subject_unit").fill("")
    page.locator("#f-title").fill(f"{HTML}物业乱收费")
    page.get_by_role("button", name="保存登记").click()
    expect(page.locator("#err-subject_unit")).to_contain_text("须写明被投诉对象")
    expect(page.locator("#f-title")).to_have_value(f"{HTML}物业乱收费")  # nothing lost

    page.locator("#f-subject_unit").fill(f"{HTML}物业")
    page.get_by_label("受理", exact=True).check()
    page.get_by_role("button", name="保存登记").click()
    expect(page.locator("#case-number")).to_have_text(re.compile(r"^TS\d{8}0001$"))
    expect(page.locator("#title")).to_have_text(f"{HTML}物业乱收费")
    assert page.locator("main b, main img").count() == 0
    assert page.evaluate("window.injected === undefined")
    expect(page.locator("#history")).to_contain_text("op1 登记")
    expect(page.locator("#history")).to_contain_text("受理")
    screenshot(page, "case")


def test_a_letter_is_registered_with_evidence(
    console: Console, browser: Browser, tmp_path: Path
) -> None:
    page = logged_in(browser, console.url, "op1")
    page.get_by_role("link", name="登记其他渠道").click()
    letter = tmp_path / "来信.pdf"
    letter.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.select_option("#f-channel", "letter")
    page.select_option("#f-case_type", "suggestion")
    page.locator("#f-complainant_name").fill("李四")
    page.locator("#f-complainant_address").fill("滨河路 8 号")
    page.locator("#f-title").fill("建议增设公交站")
    page.locator("#f-content").fill("滨河路与建设路口附近没有公交站，建议增设。")
    page.locator("#f-attachments").set_input_files(str(letter))
    screenshot(page, "other-channel")
    page.get_by_role("button", name="保存登记").click()
    expect(page.locator("#case-number")).to_have_text(re.compile(r"^TS\d{12}$"))
    expect(page.get_by_role("link", name="来信.pdf")).to_be_visible()


def test_the_knowledge_base_answers_a_differently_worded_question(
    console: Console, browser: Browser
) -> None:
    page = logged_in(browser, console.url, "op1")
    page.get_by_role("link", name="知识库").click()
    page.locator("#kb-page-query").fill("暂住证去哪里申请")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("#kb-list")).to_contain_text("如何办理居住证")
    assert page.locator("#kb-new").count() == 0, "operators do not edit the knowledge base"
    screenshot(page, "knowledge")
