"""统计报表 in a real browser (Debian's Chromium) against ``hotline serve api``, over last
month made by the real domain functions (``tests.report_pages_world``, dates relative to
now): a supervisor opens the dashboard (this month), goes to the month before, follows a
figure to its cases (exactly the figure's), downloads the .xlsx, which openpyxl reads back
with the page's figures; the ranking with its 红黑榜; both on a 390 px phone without sideways
scrolling. Screenshots: reports-dashboard, reports-units, reports-dashboard-phone,
reports-cases."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, ViewportSize, expect

from core.db import make_engine, make_session_factory
from core.settings import Settings
from dispatch.indicators import periods
from dispatch.indicators.periods import PeriodKind
from hotline import migrate
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot
from tests.report_pages_world import ACCEPTED, ZONE, World, tell

DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Site:
    url: str
    world: World


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("reports")
    settings = Settings(
        data_dir=data,
        api_port=free_port(),
        supervision_interval_seconds=0,
        bulletin_interval_seconds=0,
        integrity_check_interval_seconds=0,
        ranking_min_sample=1,
    )
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    this_month = periods.period_at(PeriodKind.MONTH, dt.datetime.now(dt.UTC), ZONE)
    world = tell(make_session_factory(engine), periods.previous(this_month))
    try:
        with console_api(settings) as url:
            yield Site(url, world)
    finally:
        engine.dispose()


def no_sideways_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the page is {wide} px wide on a {PHONE['width']} px phone"


ROW_VALUES = """([table, name]) => {
  for (const tr of document.querySelectorAll(`table[data-table="${table}"] tbody tr`)) {
    const th = tr.querySelector("th");
    if (th && th.textContent.trim() === name) {
      return [...tr.querySelectorAll("td")].map((td) => td.dataset.value ?? td.textContent.trim());
    }
  }
  return null;
}"""


def figure_row(page: Page, table: str, name: str) -> list[str]:
    """The data-value of each cell of a table's row (the numbers the page shows)."""
    values = page.evaluate(ROW_VALUES, [table, name])
    assert values is not None, f"no row {name} in {table}"
    return [str(value) for value in values]


def test_a_supervisor_reads_last_month_follows_a_figure_and_downloads_it(
    site: Site, browser: Browser
) -> None:
    month = site.world.month
    page = logged_in(browser, site.url, "sup1")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="统计报表").click()
    now = periods.period_at(PeriodKind.MONTH, dt.datetime.now(dt.UTC), ZONE)
    expect(page.locator("#period-label")).to_have_text(now.label)  # this month by default
    page.locator("#previous-period").click()
    expect(page.locator("#period-label")).to_have_text(month.label)
    accepted = page.locator('.key-figure[data-name="受理量"] .value a')
    expect(accepted).to_have_text(str(len(ACCEPTED)))
    assert (accepted.get_attribute("title") or "").startswith("受理量＝")
    expect(page.locator("#chart-on-time svg")).to_be_visible()
    expect(page.locator("#chart-trend svg polyline").first).to_be_attached()
    screenshot(page, "reports-dashboard")

    shown = {
        "受理量": figure_row(page, "cases", "受理量")[0],
        "办结率": figure_row(page, "cases", "办结率")[0],
        "满意率": figure_row(page, "feedback", "满意率")[0],
        "来电量": figure_row(page, "calls", "来电量")[0],
    }
    with page.expect_download() as download:
        page.locator("#download-xlsx").click()
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    values = {}
    sheets = {
        "受理量": "受理与办理",
        "办结率": "受理与办理",
        "满意率": "回访与满意度",
        "来电量": "话务",
    }
    for name, title in sheets.items():
        for cells in book[title].iter_rows(min_row=3, values_only=True):
            if cells[0] == name:
                values[name] = cells[1]
    assert {k: float(v) for k, v in shown.items()} == pytest.approx(values)

    accepted.click()
    expect(page.locator("#drill-title")).to_have_text(f"{month.label}受理量")
    numbers = page.locator("#drill-cases tr[data-number]")
    expect(numbers).to_have_count(len(ACCEPTED))
    listed = {row.get_attribute("data-number") for row in numbers.all()}
    assert listed == {site.world.numbers[letter] for letter in ACCEPTED}
    screenshot(page, "reports-cases")

    page.set_viewport_size(PHONE)
    page.go_back()
    expect(page.locator("#period-label")).to_have_text(month.label)
    no_sideways_scroll(page)
    screenshot(page, "reports-dashboard-phone")


def test_the_ranking_with_its_red_and_black_lists(site: Site, browser: Browser) -> None:
    month = site.world.month
    page = logged_in(browser, site.url, "sup1")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{site.url}/reports/units?period=month&on={month.first.isoformat()}")
    expect(page.locator("#period-label")).to_have_text(month.label)
    expect(page.locator("#red-list")).to_contain_text("市住建局")
    expect(page.locator("#black-list")).to_contain_text("市城管局")
    ranked = page.locator('table[data-table="ranking"] tbody tr')
    expect(ranked.first.locator("th")).to_have_text("优秀")
    screenshot(page, "reports-units")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
