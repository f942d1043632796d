"""Bulletins and print forms in a real browser (Debian's Chromium via Playwright) against
`hotline serve api`: a supervisor makes last month's 通报 from the 通报 page, reads its
tables, downloads its .xlsx (read back by openpyxl: the page's figures) and its PDF (text
read by pypdf); the 登记表 of a case whose complainant asked for confidentiality, printed to
PDF, holds its number, name, masked phone and content. Last month's cases are made through
the API (in this process, at a moment of last month by time-machine) before the console
starts, so the test works whatever today is. Screenshots at the 1366x768 desktop; the pages
do not scroll sideways on a 390x844 phone."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pypdf import PdfReader

from api.app import create_app
from core.clock import utc_now
from core.db import make_engine, make_session_factory
from core.settings import Settings
from dispatch.indicators.periods import Period
from dispatch.reports import bulletins
from hotline import migrate
from tests.api_actor import Actor
from tests.builders import add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

BEIJING = ZoneInfo("Asia/Shanghai")
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
CENTRE = "唐河县12345政务服务热线"
NAME, TEL = "王建国", "13812345678"


@dataclass(frozen=True)
class Site:
    url: str
    month: Period
    case_id: str
    number: str


def make_cases(settings: Settings, month: Period) -> tuple[str, str]:
    """On the third day of ``month``: 市生态环境局 answers its case at once (rated 满意),
    市水务局 never answers its own. Today: a confidential complaint to print."""
    third = dt.datetime.combine(month.first + dt.timedelta(days=2), dt.time(10), BEIJING)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        with time_machine.travel(third, tick=True):
            op, sup, env = (Actor(client.app, name) for name in ("op1", "sup1", "h_env"))
            units = {}
            for key, name in [("env", "市生态环境局"), ("water", "市水务局")]:
                made = sup.post("/api/units", {"name": name, "kind": "department"}, status=201)
                units[key] = made["id"]
                sup.post(f"/api/units/{made['id']}/members", {"username": f"h_{key}"}, status=204)
            for key, category in [("env", "环境保护"), ("water", "供水")]:
                case = op.post("/api/cases", complaint(third, f"{category}问题"), status=201)
                number = case["number"]
                op.post(
                    f"/api/cases/{number}/dispatch",
                    {"lead_unit_id": units[key], "category": category},
                )
                if key == "env":
                    env.post(f"/api/unit/cases/{number}/sign")
                    env.post(f"/api/unit/cases/{number}/start")
                    env.post(
                        f"/api/unit/cases/{number}/reply",
                        {"facts": "已查明。", "finding": "true", "measures": "已整改。"},
                    )
                    sup.post(f"/api/cases/{number}/review", {"passed": True})
                    op.post(
                        f"/api/cases/{number}/feedback",
                        {"method": "phone", "satisfaction": "satisfied"},
                    )
        op = Actor(client.app, "op1")
        now = dt.datetime.now(BEIJING) - dt.timedelta(hours=1)
        secret = op.post(
            "/api/cases",
            {
                **complaint(now, "窗口工作人员态度恶劣"),
                "confidential": True,
                "subject_window": "不动产登记窗口",
                "content": "办理不动产登记时，窗口工作人员态度恶劣，拒绝解释材料要求。",
            },
            status=201,
        )
    return secret["id"], secret["number"]


def complaint(when: dt.datetime, title: str) -> dict[str, Any]:
    return {
        "received_at": when.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M"),
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": NAME,
        "complainant_phone": TEL,
        "subject_unit": "县政务服务中心",
        "title": title,
        "content": f"{title}，请尽快处理。",
        "decision": "accept",
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("print-browser")
    settings = Settings(
        data_dir=data,
        api_port=free_port(),
        centre_name=CENTRE,
        supervision_interval_seconds=0,
        bulletin_interval_seconds=0,
        ranking_min_sample=1,  # one case is enough to grade a unit here
    )
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in [("op1", "operator"), ("sup1", "supervisor")] + [
        (f"h_{key}", "unit_handler") for key in ("env", "water")
    ]:
        add_user(sessions, name, role)
    engine.dispose()
    month = bulletins.last_closed(utc_now(), BEIJING)[2]
    case_id, number = make_cases(settings, month)
    with console_api(settings) as url:
        yield Site(url, month, case_id, number)


def no_sideways_scrolling(page: Page) -> None:
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.set_viewport_size(DESKTOP)


def download(page: Page, link: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.locator(link).click()
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved


def table_rows(page: Page, key: str) -> list[list[str]]:
    rows = page.locator(f"#table-{key} tbody tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


def test_a_supervisor_makes_the_months_bulletin_and_downloads_excel_and_pdf(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    sup = logged_in(browser, site.url, "sup1")
    sup.set_viewport_size(DESKTOP)
    sup.goto(f"{site.url}/bulletins")
    expect(sup.locator("#make-period")).to_have_value("month")
    expect(sup.locator("#make-on")).to_have_value(site.month.first.isoformat())
    sup.get_by_role("button", name="立即生成通报").click()
    title = f"{CENTRE}月度通报（{site.month.label}）"
    expect(sup.locator("#bulletin-title")).to_have_text(title)
    expect(sup.locator("#made-notice")).to_contain_text("通报已生成")
    units = {row[0]: row[1:] for row in table_rows(sup, "units")}
    assert units["市生态环境局"] == ["优秀", "1", "1", "100.0%", "100.0%", "红榜"]
    assert units["市水务局"] == ["较差", "1", "0", "0.0%", "—", "黑榜"]
    formula = sup.locator("#table-units tbody tr").first.locator("td").nth(4)
    assert (formula.get_attribute("title") or "").startswith("按时办结率＝")
    screenshot(sup, "bulletins")
    no_sideways_scrolling(sup)

    book = load_workbook(download(sup, "#download-xlsx", tmp_path))
    assert book.sheetnames[1] == "各单位办理情况"
    sheet = book["各单位办理情况"]
    read = {row[0]: list(row[1:]) for row in sheet.iter_rows(min_row=3, values_only=True) if row[0]}
    assert read["市生态环境局"] == ["优秀", 1, 1, 1.0, 1.0, "红榜"]
    assert read["市水务局"] == ["较差", 1, 0, 0.0, "—", "黑榜"]

    saved = download(sup, "#download-pdf", tmp_path)
    assert saved.suffix == ".pdf"
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(saved).pages))
    for expected in (title, "各单位办理情况", "市生态环境局", "红榜", "黑榜"):
        assert expected in text, expected

    sup.goto(f"{site.url}/bulletins")
    expect(sup.locator("#bulletins")).to_contain_text(title)
    no_sideways_scrolling(sup)


def test_a_registration_form_printed_to_pdf_holds_the_cases_fields(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    op = logged_in(browser, site.url, "op1")
    op.set_viewport_size(DESKTOP)
    op.goto(f"{site.url}/cases/{site.case_id}/print/registration")
    expect(op.locator("#doc-title")).to_have_text("咨询投诉登记表")
    expect(op.locator("#centre-name")).to_have_text(CENTRE)
    expect(op.locator("#f-number")).to_have_text(site.number)
    expect(op.locator("#f-phone")).to_have_text("138****5678")
    expect(op.locator("header.top")).to_have_count(0)
    screenshot(op, "print-registration")
    no_sideways_scrolling(op)
    # Printed, the page's tools are gone.
    op.emulate_media(media="print")
    expect(op.locator(".print-tools")).to_be_hidden()
    op.emulate_media(media="screen")

    saved = download(op, "#pdf-link", tmp_path)
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(saved).pages))
    for expected in (
        CENTRE,
        "咨询投诉登记表",
        site.number,
        NAME,
        "138****5678",
        "不动产登记窗口",
        "窗口工作人员态度恶劣，拒绝解释材料要求",
    ):
        assert expected in text, expected
    assert TEL not in text
