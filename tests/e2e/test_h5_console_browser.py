"""Issue 16's errors, access log, knowledge base and unit form in Debian's Chromium against
`hotline serve api`: an error is a Chinese page with the navigation (also on a phone); opening
the evidence page reads no audio and logs no play, pressing play logs one 播放 and the rest
of that listening as 续播, which the auditor reads in Chinese; a knowledge entry added and the
page refreshed is there once; a unit added without a type is refused at its field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Request, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from core.waiting import wait_for
from custody import evidence_steps
from custody.models import RecordingAccess
from custody.requester import Requester
from dispatch.intake import register
from hotline import migrate
from tests.builders import PASSWORD, add_recorded_call, add_user, recently, tone_wav
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

SECONDS = 20.0
Z = "0" * 32


@dataclass(frozen=True)
class Site:
    url: str
    case_id: str
    recording_id: str
    sessions: sessionmaker[Session]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("h5")
    settings = Settings(
        data_dir=data,
        api_port=free_port(),
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in [("sup1", "supervisor"), ("aud1", "auditor"), ("op1", "operator")]:
        add_user(sessions, name, role)
    started = recently()
    call_id, recording_id = add_recorded_call(
        sessions,
        data,
        "5.1",
        audio=tone_wav(data / "tone.wav", seconds=SECONDS),
        answered_after=0.5,
        started_at=started,
    )
    zone = ZoneInfo(settings.timezone)
    case = register.register(
        sessions,
        register.IntakeConfig(
            zone,
            settings.case_number_format,
            settings.attachments_dir,
            settings.attachment_max_bytes,
            settings.attachment_max_files,
        ),
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
    with transaction(sessions) as session:  # the supervisor's reason to listen (调听事由)
        sup_id = session.scalar(select(User.id).where(User.username == "sup1"))
        assert sup_id is not None
        evidence_steps.give_reason(
            session,
            Requester(sup_id, "sup1", Role.SUPERVISOR, "", "127.0.0.1"),
            case.id,
            "核查来电人反映的话务员服务态度问题",
            dt.datetime.now(dt.UTC),
        )
    try:
        with console_api(settings) as url:
            yield Site(url, case.id, recording_id, sessions)
    finally:
        engine.dispose()


def plays(site: Site) -> list[tuple[str, str, str]]:
    with site.sessions() as session:
        return [
            (r.actor, r.action, r.outcome)
            for r in session.scalars(
                select(RecordingAccess)
                .where(RecordingAccess.action.in_(["play", "range"]))
                .order_by(RecordingAccess.id)
            )
        ]


def test_opening_the_player_is_not_a_play_pressing_play_is_one(
    site: Site, browser: Browser
) -> None:
    page = logged_in(browser, site.url, "sup1")
    audio_requests: list[str] = []

    def record(request: Request) -> None:
        if "/audio" in request.url:
            audio_requests.append(request.headers.get("range", ""))

    page.on("request", record)
    page.goto(f"{site.url}/cases/{site.case_id}/evidence")
    player = page.locator("audio#audio-1")
    expect(player).to_have_attribute("preload", "none")
    page.wait_for_load_state("networkidle")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert audio_requests == [], "the page read the recording before anyone pressed play"
    assert plays(site) == []

    page.evaluate("document.getElementById('audio-1').play()")
    page.wait_for_function("() => document.getElementById('audio-1').currentTime > 1.0")
    page.evaluate("document.getElementById('audio-1').currentTime = 15.0")
    page.wait_for_function("() => document.getElementById('audio-1').currentTime > 15.3")
    page.evaluate("document.getElementById('audio-1').pause()")
    assert audio_requests, "playing read the recording"
    wait_for(lambda: len(plays(site)) == len(audio_requests), 10, "each request logged", 0.1)
    logged = plays(site)
    assert logged[0] == ("sup1", "play", "allowed"), logged
    assert logged[1:] == [("sup1", "range", "allowed")] * (len(logged) - 1)

    page.reload()
    rows = page.locator("#access-log tbody tr")
    expect(rows.filter(has_text="播放")).to_have_count(1)
    expect(rows.filter(has_text="续播")).to_have_count(len(logged) - 1)
    screenshot(page, "h5-evidence-played")

    auditor = logged_in(browser, site.url, "aud1")
    auditor.goto(f"{site.url}/audit")
    first_play = auditor.locator("#audit-log tbody tr").filter(has_text="播放").last
    expect(first_play).to_contain_text("督查员")
    expect(first_play).not_to_contain_text("supervisor")
    expect(auditor.locator("#audit-log")).not_to_contain_text("bytes=")
    screenshot(auditor, "h5-audit-chinese")


def test_errors_are_chinese_pages_with_a_way_back(site: Site, browser: Browser) -> None:
    page = logged_in(browser, site.url, "op1")
    response = page.goto(f"{site.url}/cases/{Z}")
    assert response is not None and response.status == 404
    expect(page.locator("#error-message")).to_have_text("找不到该案件：编号或地址可能有误。")
    expect(page.locator("header.top")).to_contain_text("工作台")
    screenshot(page, "h5-error-404")
    page.get_by_role("link", name="返回案件列表").click()
    expect(page).to_have_url(re.compile(r"/cases$"))

    response = page.goto(f"{site.url}/units")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("没有权限")
    expect(page.locator("body")).not_to_contain_text("your role")
    screenshot(page, "h5-error-403")

    phone = browser.new_page(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        device_scale_factor=3,
    )
    phone.goto(f"{site.url}/login")
    phone.get_by_label("用户名").fill("op1")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    expect(phone.locator("header.top")).to_contain_text("op1")
    response = phone.goto(f"{site.url}/calls/{Z}")
    assert response is not None and response.status == 404
    expect(phone.locator("#error-message")).to_have_text("找不到该来电记录。")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
    screenshot(phone, "h5-error-404-phone")


def test_a_knowledge_entry_added_and_refreshed_is_there_once(site: Site, browser: Browser) -> None:
    page = logged_in(browser, site.url, "sup1")
    page.goto(f"{site.url}/knowledge")
    form = page.locator("#kb-new")
    form.get_by_label("问题").fill("居住证怎么办理")
    form.get_by_role("button", name="新增").click()
    # Refused without an answer: what was typed stays, the message is at the field.
    expect(form.locator(".field-error")).to_have_text("请填写答复内容")
    expect(form.get_by_label("问题")).to_have_value("居住证怎么办理")
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#kb-new .field-error')).color")
        == "rgb(187, 0, 0)"
    ), "styled as an error"
    screenshot(page, "h5-knowledge-refused")
    form.get_by_label("答复").fill("携带身份证和居住证明到社区服务中心申请。")
    form.get_by_role("button", name="新增").click()
    expect(page).to_have_url(re.compile(r"/knowledge\?done=created$"))
    expect(page.locator("#kb-done")).to_have_text("已新增条目")
    page.reload()
    expect(page.locator("#kb-list > li", has_text="居住证怎么办理")).to_have_count(1)
    screenshot(page, "h5-knowledge-added")


def test_a_unit_added_without_a_type_is_asked_for_one(site: Site, browser: Browser) -> None:
    page = logged_in(browser, site.url, "sup1")
    page.goto(f"{site.url}/units")
    form = page.locator("#unit-new")
    expect(form.get_by_label("类型")).to_have_value("")
    form.get_by_label("单位名称").fill("市住房和城乡建设局")
    form.get_by_role("button", name="新增单位").click()
    expect(form.locator(".field-error")).to_have_text("请选择单位类型")
    expect(form.get_by_label("单位名称")).to_have_value("市住房和城乡建设局")
    expect(page.locator("#units")).not_to_contain_text("市住房和城乡建设局")
    screenshot(page, "h5-units-refused")
    form.get_by_label("类型").select_option("department")
    form.get_by_role("button", name="新增单位").click()
    expect(page.locator("#units")).to_contain_text("职能部门")
