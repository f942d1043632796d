"""Finding anything, in a real browser (Debian's Chromium) against ``hotline serve api``: an
operator finds their call by words Whisper base transcribed from real Mandarin speech
(another operator's search does not find it), finds a case by its number typed in lower
case with spaces, narrows the case list with filters kept in the URL and is told in Chinese
when nothing matches; the lists work on a 390 px phone without scrolling sideways; an
auditor finds the operator's reads in the access log. Screenshots of each list."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import select, update

from asr.models import TranscriptRecord
from asr.worker import Worker
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from hotline import migrate
from ivr.models import Call
from tests.builders import add_recorded_call, add_user, recently, stereo_call
from tests.conftest import SAMPLES, free_port
from tests.e2e.browser import console_api, logged_in, screenshot
from tests.search_world import dispatch, make_unit, register_case

WHISPER = Path("/tmp/whisper-base")
CITY = SAMPLES / "aishell1_BAC009S0724W0123.wav"  # 相比于其他一线城市, 3.24 s
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Site:
    url: str
    words: str  # words of the call's transcript, as Whisper wrote them
    call_id: str
    number: str  # a case's number


def words_of(transcript: str) -> str:
    """Four characters of the transcript to search for: 一线城市 if Whisper heard it."""
    text = re.sub(r"[^\u4e00-\u9fff]", "", transcript)
    assert len(text) >= 4, f"Whisper heard too little: {transcript!r}"
    return "一线城市" if "一线城市" in text else text[2:6]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not (WHISPER / "model.bin").exists():
        pytest.fail(f"Whisper base is missing at {WHISPER}")
    data = tmp_path_factory.mktemp("search")
    settings = Settings(data_dir=data, api_port=free_port(), vosk_model=WHISPER)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role, phone in [
        ("op1", "operator", "8001"),
        ("op2", "operator", "8002"),
        ("aud1", "auditor", ""),
    ]:
        add_user(sessions, name, role, phone)
    city = data / "city.wav"
    subprocess.run(["sox", str(CITY), "-r", "8000", str(city)], check=True)
    audio = stereo_call(data / "call.wav", city, 4.0)  # the operator repeats it at 4 s
    started = recently()
    call_id, _recording = add_recorded_call(
        sessions, data, "search.1", audio, answered_after=3.5, started_at=started
    )
    with transaction(sessions) as session:  # answered at op1's phone: theirs to read
        session.execute(update(Call).where(Call.id == call_id).values(operator="8001"))
    assert Worker(settings, sessions, "search-worker").run_once(), "the call is transcribed"
    with sessions() as session:
        transcript = session.scalars(select(TranscriptRecord)).one()
    housing = make_unit(sessions, "市住建局")
    made = [
        ("小区电梯经常故障", "幸福里小区3号楼电梯一周坏了三次，老人上下楼困难。", "complaint"),
        ("建议增设公交站", "建议在和平路口增设公交站，方便居民出行。", "suggestion"),
        ("楼上噪音扰民", "楼上住户每晚装修噪音扰民，多次沟通无果。", "complaint"),
    ]
    cases = [
        register_case(
            sessions,
            data,
            at=started + dt.timedelta(minutes=index),
            title=title,
            content=content,
            case_type=kind,
        )
        for index, (title, content, kind) in enumerate(made)
    ]
    dispatch(sessions, cases[0].id, housing, at=started)
    try:
        with console_api(settings) as url:
            yield Site(url, words_of(transcript.clean_text), call_id, cases[0].number)
    finally:
        engine.dispose()


def no_sideways_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the page is {wide} px wide on a {PHONE['width']} px phone"


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_an_operator_finds_a_call_by_words_from_its_transcript(
    site: Site, browser: Browser
) -> None:
    page = logged_in(browser, site.url, "op1")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{site.url}/calls")
    page.get_by_label("查询").fill(site.words)
    page.get_by_label("查询").press("Enter")
    row = page.locator(f'#calls tr[data-call-id="{site.call_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("mark").first).to_have_text(site.words)
    expect(page.locator("#found-summary")).to_contain_text("共 1 通来电")
    assert query_of(page)["q"] == [site.words], "the search is in the URL, to share"
    screenshot(page, "search-calls")
    page.set_viewport_size(PHONE)
    expect(row).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "search-calls-phone")

    other = logged_in(browser, site.url, "op2")  # not their call: its words find nothing
    other.goto(f"{site.url}/calls?q={site.words}")
    expect(other.locator("#no-results")).to_contain_text(f"没有找到与“{site.words}”相关的来电")


def test_an_operator_finds_cases_by_number_words_and_filters(site: Site, browser: Browser) -> None:
    page = logged_in(browser, site.url, "op1")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{site.url}/cases")
    expect(page.locator("#cases tbody tr")).to_have_count(3)
    typed = f"{site.number[:2].lower()} {site.number[2:10]} {site.number[10:]}"
    page.get_by_label("查询").fill(typed)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#cases tbody tr")).to_have_count(1)
    expect(page.locator("#cases tbody tr").first).to_contain_text("小区电梯经常故障")
    expect(page.locator("#cases tbody tr").first).to_contain_text("市住建局")

    page.get_by_label("查询").fill("噪音")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#cases mark").first).to_have_text("噪音")
    page.get_by_label("查询").fill("")
    page.get_by_label("类型").select_option(label="投诉")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#cases tbody tr")).to_have_count(2)
    assert query_of(page)["type"] == ["complaint"]
    page.get_by_label("状态").select_option("at_unit")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#cases tbody tr")).to_have_count(1)
    expect(page.get_by_label("类型")).to_have_value("complaint")  # the form keeps the filters
    screenshot(page, "search-cases")

    page.goto(f"{site.url}/cases?q=下水道")
    expect(page.locator("#no-results")).to_have_text("没有找到与“下水道”相关的案件。")
    page.goto(f"{site.url}/cases?from=2026-02-30")
    expect(page.locator("#from-error")).to_have_text("日期格式应为 年-月-日")
    page.set_viewport_size(PHONE)
    page.goto(f"{site.url}/cases")
    expect(page.locator("#cases tbody tr")).to_have_count(3)
    no_sideways_scroll(page)
    screenshot(page, "search-cases-phone")


def test_an_auditor_finds_the_reads_in_the_access_log(site: Site, browser: Browser) -> None:
    reader = logged_in(browser, site.url, "op1")
    reader.goto(f"{site.url}/calls?q={site.words}")  # the transcript shown: a logged read
    page = logged_in(browser, site.url, "aud1")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{site.url}/audit")
    page.get_by_label("人员（用户名）").fill("op1")
    page.get_by_label("操作").select_option(label="查看转写")
    page.get_by_role("button", name="查询").click()
    rows = page.locator("#audit-log tbody tr")
    expect(rows.first).to_contain_text("来电记录列表")
    expect(rows.first).to_contain_text("话务员")
    assert query_of(page)["actor"] == ["op1"]
    expect(page.locator("#chain")).to_contain_text("调听日志哈希链完整")
    screenshot(page, "search-audit")
