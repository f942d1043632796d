"""红旗窗口 and 热点诉求 in Debian's Chromium against ``hotline serve api``: complaints made
through the JSON API as an operator, a supervisor and the window's handler would (three
found true about one window; five callers about one compound within the hour); a supervisor
opens 红旗窗口 for this year, sees the window barred with its complaints, records the
written explanation it owes (a mistake first, at its field); opens 热点诉求 and sees the
rising category and the risk signal, and follows the signal to its five cases. At 1366×768
and on a 390×844 phone, without sideways scrolling."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from core.db import make_engine, make_session_factory
from core.settings import Settings
from hotline import migrate
from tests.builders import PASSWORD, add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

BEIJING = ZoneInfo("Asia/Shanghai")
# The elements reaching past the phone's width (what to fix when a page scrolls sideways).
WIDE = """[...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > 391).slice(0, 8)
  .map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)
"""
WINDOW, OTHER = "社保窗口", "不动产登记窗口"


class Client:
    """One person on the JSON API of a running console (own cookie and CSRF token)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        self.token = ""
        self.token = self.call(
            "POST", "/api/session", {"username": username, "password": PASSWORD}
        )["csrf_token"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.token},
        )
        with self.opener.open(request, timeout=30) as response:
            content = response.read()
        return json.loads(content) if content else None


@dataclass
class Site:
    url: str
    window_id: str
    window_cases: list[str]
    spike_cases: list[str]


def _complaint(
    op: Client, sup: Client, window_id: str, subject: str, category: str, **fields: str
) -> tuple[str, str]:
    body = {
        "received_at": dt.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M"),
        "channel": "web",
        "case_type": "complaint",
        "complainant_name": "赵女士",
        "complainant_phone": "13600000000",
        "complainant_address": "人民路8号",
        "subject_unit": "县政务服务中心",
        "subject_window": subject,
        "title": f"{subject}工作人员推诿",
        "content": f"在{subject}办事被推诿，要求说明原因。",
        "decision": "accept",
        **fields,
    }
    case = op.call("POST", "/api/cases", body)
    sup.call(
        "POST",
        f"/api/cases/{case['number']}/dispatch",
        {"lead_unit_id": window_id, "category": category, "complained_unit_id": window_id},
    )
    return case["id"], case["number"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("windows")
    settings = Settings(data_dir=data, api_port=free_port(), supervision_interval_seconds=0)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in (("sup", "supervisor"), ("op", "operator"), ("h_win", "unit_handler")):
        add_user(sessions, name, role)
    engine.dispose()
    with console_api(settings) as url:
        sup, op, handler = Client(url, "sup"), Client(url, "op"), Client(url, "h_win")
        window = sup.call("POST", "/api/units", {"name": WINDOW, "kind": "window"})["id"]
        other = sup.call("POST", "/api/units", {"name": OTHER, "kind": "window"})["id"]
        sup.call("POST", f"/api/units/{window}/members", {"username": "h_win"})
        window_cases = []
        for finding in ("true", "partly_true", "true"):
            case_id, number = _complaint(op, sup, window, WINDOW, "窗口服务")
            handler.call("POST", f"/api/unit/cases/{number}/sign")
            handler.call("POST", f"/api/unit/cases/{number}/start")
            handler.call(
                "POST",
                f"/api/unit/cases/{number}/reply",
                {"facts": "经调查属实。", "finding": finding, "measures": "已批评教育。"},
            )
            sup.call("POST", f"/api/cases/{number}/review", {"passed": True})
            window_cases.append(case_id)
        spike = [
            _complaint(
                op,
                sup,
                other,
                OTHER,
                "不动产登记",
                complainant_phone=f"1590000000{i}",
                complainant_address=f"锦绣花园{i + 1}栋{101 + i}室",
                title="锦绣花园不动产证迟迟办不下来",
            )[0]
            for i in range(5)
        ]
        yield Site(url, window, window_cases, spike)


def test_a_supervisor_reads_red_flag_windows_and_hot_topics(site: Site, browser: Browser) -> None:
    page = logged_in(browser, site.url, "sup")
    page.set_viewport_size({"width": 1366, "height": 768})
    year = dt.datetime.now(BEIJING).year
    page.goto(f"{site.url}/reports/windows")
    expect(page.locator("h1")).to_have_text(f"红旗窗口评比资格（{year}年）")
    expect(page.locator("nav.report-tabs a.current")).to_have_text("红旗窗口")
    row = page.locator(f"#windows tr[data-window-id='{site.window_id}']")
    expect(row).to_contain_text(WINDOW)
    expect(row).to_contain_text("不得参评，须书面说明并提出整改措施")
    expect(row.locator("td[data-label='经查属实（含部分属实）']")).to_have_text("3")
    expect(row.locator("td[data-label='书面说明']")).to_have_text("待收到")
    section = page.locator(f"#window-{site.window_id}")
    for case_id in site.window_cases:
        expect(section.locator(f"a[href='/cases/{case_id}']")).to_have_count(1)
    # Every complaint of the year: the window's three and the other window's five (pending).
    expect(page.locator("#complaints tbody tr")).to_have_count(8)
    expect(page.locator("#complaints tbody tr", has_text=WINDOW)).to_have_count(3)
    expect(page.locator("#complaints")).to_contain_text("部分属实")

    # A mistake first: the message at its field, what was typed kept.
    section.get_by_label("整改措施").fill("开展窗口服务规范培训，实行首问负责制")
    section.get_by_role("button", name="登记收到书面说明").click()
    # The browser's own check stops an empty required field: nothing was sent.
    expect(page).to_have_url(f"{site.url}/reports/windows")
    section.get_by_label("说明人（窗口负责人）").fill("李主任")
    section.get_by_label("收到日期").fill("1999-12-31")
    section.get_by_role("button", name="登记收到书面说明").click()
    expect(page.locator(f"#err-received_on-{site.window_id}")).to_have_text(
        f"收到日期不能早于{year}年1月1日"
    )
    expect(page.locator(f"#rectification-{site.window_id}")).to_have_value(
        "开展窗口服务规范培训，实行首问负责制"
    )
    today = dt.datetime.now(BEIJING).date().isoformat()
    page.locator(f"#received_on-{site.window_id}").fill(today)
    page.get_by_role("button", name="登记收到书面说明").click()
    section = page.locator(f"#window-{site.window_id}")
    expect(section.locator("[data-field='submitted_by']")).to_have_text("李主任")
    expect(section.locator("[data-field='received_on']")).to_have_text(today)
    expect(section.locator("[data-field='recorded']")).to_contain_text("sup 名（sup）于")
    expect(section.locator("form")).to_have_count(0)
    expect(row.locator("td[data-label='书面说明']")).to_have_text(f"已收到（{today}）")
    screenshot(page, "reports-windows")

    # 热点诉求: the new category rises; five numbers about one compound within the hour.
    page.locator("nav.report-tabs").get_by_role("link", name="热点诉求").click()
    expect(page.locator("h1")).to_contain_text("热点诉求")
    category = page.locator("#categories tr[data-key='不动产登记']")
    expect(category).to_have_class("rising")
    expect(category.locator("td[data-label='本期件数']")).to_have_text("5")
    expect(category.locator("td[data-label='趋势']")).to_contain_text("环比上升")
    signal = page.locator("#signals li[data-kind='place'][data-key='锦绣花园']")
    expect(signal).to_contain_text("5 个不同号码")
    screenshot(page, "reports-hot")
    signal.get_by_role("link").click()
    expect(page.locator("#drill-title")).to_have_text("风险苗头地点“锦绣花园”本期的诉求")
    for case_id in site.spike_cases:
        expect(page.locator(f"#drill-cases tr[data-case-id='{case_id}']")).to_have_count(1)

    # Both pages hold on a phone without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (
        ("/reports/windows", "reports-windows-phone"),
        ("/reports/hot", "reports-hot-phone"),
    ):
        page.goto(site.url + path)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, (path, width, page.evaluate(WIDE))
        screenshot(page, name)
    page.close()
