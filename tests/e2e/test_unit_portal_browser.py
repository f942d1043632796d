"""The unit portal in Debian's Chromium against `hotline serve api`: a reply the supervisor
sends back (退回重办) reaches the unit's page with the reviewer's note, the earlier reply in
the form and the deadline, and the unit answers again with a file; on a 390x844 phone the
unit's home, the unit's case page and the centre's case page never scroll sideways, and the
forms are as wide as the screen with their buttons in reach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from accounts.models import User
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from dispatch.routing import units
from hotline import migrate
from tests.builders import PASSWORD, add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, screenshot

NAME, PHONE = "王建国", "13700001111"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE_SCREEN: ViewportSize = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Site:
    url: str
    unit_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("unit-portal")
    settings = Settings(data_dir=data, api_port=free_port(), supervision_interval_seconds=0)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in [("op1", "operator"), ("sup1", "supervisor"), ("env1", "unit_handler")]:
        add_user(sessions, name, role)
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        env = units.create_unit(session, "市生态环境局", "department", now)
        handler = session.query(User).filter_by(username="env1").one()
        units.add_member(session, handler, env)
        unit_id = env.id
    try:
        with console_api(settings) as url:
            yield Site(url, unit_id)
    finally:
        engine.dispose()


def log_in(page: Page, site: Site, username: str) -> Page:
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(f"{site.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("header.top .user")).to_contain_text(username)
    return page


def desktop(browser: Browser, site: Site, username: str) -> Page:
    return log_in(browser.new_page(locale="zh-CN", viewport=DESKTOP), site, username)


def phone(browser: Browser, site: Site, username: str) -> Page:
    context = browser.new_context(
        locale="zh-CN",
        viewport=PHONE_SCREEN,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    return log_in(context.new_page(), site, username)


def api(page: Page, path: str, body: dict[str, Any]) -> Any:
    """A JSON call with the page's session (its cookie and CSRF token)."""
    token = page.locator("body").get_attribute("data-csrf") or ""
    response = page.request.post(path, data=body, headers={"X-CSRF-Token": token})
    assert response.ok, (path, response.status, response.text())
    return response.json() if response.text() else None


def dispatched_case(op: Page, site: Site, title: str) -> dict[str, Any]:
    """A complaint registered and dispatched to the unit by the operator, over the JSON API."""
    received = dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(hours=2)
    case = api(
        op,
        f"{site.url}/api/cases",
        {
            "received_at": received.strftime("%Y-%m-%dT%H:%M"),
            "channel": "walk_in",
            "case_type": "complaint",
            "complainant_name": NAME,
            "complainant_phone": PHONE,
            "subject_unit": "东郊化工厂",
            "title": title,
            "content": f"我是{NAME}，电话{PHONE}。东郊化工厂每天夜里偷排废气，气味刺鼻，"
            "小区居民晚上不敢开窗。",
            "request": "请环保部门查处",
            "decision": "accept",
        },
    )
    api(
        op,
        f"{site.url}/api/cases/{case['id']}/dispatch",
        {"lead_unit_id": site.unit_id, "category": "环境保护", "instructions": "请夜间突击检查"},
    )
    return case  # type: ignore[no-any-return]


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], (page.url, width)


def within_screen(page: Page, selector: str, min_width: float = 0) -> None:
    """The element, scrolled to, lies inside the screen's width (and is at least this wide)."""
    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_SCREEN["width"], (selector, box)
    assert box["width"] >= min_width, (selector, box)


def test_a_reply_sent_back_reaches_the_unit_with_the_reviewers_note(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    op = desktop(browser, site, "op1")
    case = dispatched_case(op, site, "化工厂夜间排放废气")
    number = case["number"]

    # The unit signs, starts and replies in its portal.
    unit = desktop(browser, site, "env1")
    expect(unit.locator("#count-new")).to_have_text("1")
    expect(unit.locator("#nav-unit-counts")).to_have_text("新 1")
    unit.get_by_role("link", name=number).click()
    unit.get_by_role("button", name="签收").click()
    unit.get_by_role("button", name="开始办理").click()
    unit.get_by_label("调查核实情况").fill("经夜间检查，该厂废气处理设施停运。")
    unit.get_by_label("属实", exact=True).check()
    unit.get_by_label("处理措施").fill("责令立即整改。")
    unit.get_by_role("button", name="提交回复").click()
    expect(unit.locator("#sent")).to_contain_text("回复已提交")

    # The supervisor sends it back from the centre's case page, saying why.
    sup = desktop(browser, site, "sup1")
    sup.goto(f"{site.url}/cases/{case['id']}")
    note = "未附监测数据，请补充夜间废气监测报告后重新回复"
    sup.locator("#review [name=note]").fill(note)
    sup.locator("#review").get_by_role("button", name="退回重办").click()
    expect(sup.locator("h1 .badge").first).to_have_text("办理中")

    # The unit learns it at log-in and on the case: the note, the earlier reply, the deadline.
    unit.goto(f"{site.url}/unit")
    expect(unit.locator("#nav-unit-counts")).to_have_text("退回 1")
    expect(unit.locator("#count-sent-back")).to_have_text("1")
    expect(unit.locator(f'tr[data-number="{number}"] .badge.back')).to_have_text("退回重办")
    screenshot(unit, "unit-home-sent-back")
    unit.get_by_role("link", name=number).click()
    expect(unit.locator("#sent-back")).to_be_visible()
    expect(unit.locator("#review-note")).to_have_text(note)
    expect(unit.locator("#redo-due")).to_contain_text("个工作日")
    expect(unit.get_by_label("调查核实情况")).to_have_value("经夜间检查，该厂废气处理设施停运。")
    expect(unit.get_by_label("属实", exact=True)).to_be_checked()
    expect(unit.locator("#unit-history")).to_contain_text(note)
    assert NAME not in unit.locator("main").inner_text()
    screenshot(unit, "unit-case-sent-back")

    # It answers again, with the monitoring report attached.
    report = tmp_path / "夜间监测报告.pdf"
    report.write_bytes(PDF)
    unit.get_by_label("调查核实情况").fill("补充夜间监测：排放浓度超标两倍。")
    unit.get_by_label("回复附件（可选）").set_input_files(str(report))
    unit.get_by_role("button", name="重新提交回复").click()
    expect(unit.locator("#sent")).to_contain_text("回复已提交")
    expect(unit.locator("#sent-back")).to_have_count(0)
    expect(unit.locator("#reply-1 .reply-files")).to_have_text("夜间监测报告.pdf")
    expect(unit.locator("#reply-2 .review-note")).to_have_text(note)
    unit.goto(f"{site.url}/unit")
    expect(unit.locator("#nav-unit-counts")).to_have_count(0)


def test_the_portal_and_the_case_page_fit_a_phone(site: Site, browser: Browser) -> None:
    op = desktop(browser, site, "op1")
    case = dispatched_case(op, site, "化工厂夜间排放废气，居民晚上不敢开窗，请尽快查处")

    unit = phone(browser, site, "env1")
    expect(unit.locator("#unit-cases")).to_contain_text(case["number"])
    no_sideways_scroll(unit)
    within_screen(unit, f'tr[data-number="{case["number"]}"]', min_width=300)
    screenshot(unit, "unit-home-phone")

    unit.get_by_role("link", name=case["number"]).click()
    expect(unit.locator("#number")).to_have_text(case["number"])
    no_sideways_scroll(unit)
    within_screen(unit, "#sign button", min_width=300)
    unit.get_by_role("button", name="签收").tap()
    unit.get_by_role("button", name="开始办理").tap()
    expect(unit.locator("h1 .badge").first).to_have_text("办理中")
    no_sideways_scroll(unit)
    for field in ("#reply-facts", "#reply-measures", "#reply-files", "#extension-reason"):
        within_screen(unit, field, min_width=300)
    within_screen(unit, "#reply button[type=submit]", min_width=300)
    screenshot(unit, "unit-case-phone")
    # The form works with a thumb: a refusal comes back at its field, still on one screen's width.
    unit.locator("#reply-facts").fill("现场检查中")
    unit.locator("#reply button[type=submit]").tap()
    expect(unit.locator("#err-reply-finding")).to_have_text("请选择核实结论")
    expect(unit.locator("#reply-facts")).to_have_value("现场检查中")
    no_sideways_scroll(unit)

    centre = phone(browser, site, "sup1")
    centre.goto(f"{site.url}/cases/{case['id']}")
    expect(centre.locator("h1")).to_contain_text(case["number"])
    no_sideways_scroll(centre)
    screenshot(centre, "case-page-phone")
