"""统计报表's pages and their JSON twins on a real database (SQLite and PostgreSQL, through the
migrations), over a month made by the real domain functions (``tests.report_pages_world``):
the dashboard's figures and the cases behind each (exactly the figure's), the .xlsx with the
same numbers, the ranking's bands and 红黑榜, wrong parameters refused in Chinese (pages) and
English (API), and every report route refused to everyone but a leader.

The month is October 2026 and every request names it and the moment of the figures
(``as_of``): nothing depends on today's date."""

from __future__ import annotations

import html
import io
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.indicators import periods
from dispatch.reports import overview, ranking, xlsx
from tests.builders import PASSWORD, add_user
from tests.report_pages_world import (
    ACCEPTED,
    CLOSED,
    RATED,
    SATISFIED,
    USERS,
    ZONE,
    Story,
    World,
    tell,
)

OCTOBER = periods.month(2026, 10, ZONE)
AS_OF = "2026-11-20T02:00:00Z"
QUERY = {"period": "month", "on": "2026-10-01", "as_of": AS_OF}
REPORT_ROUTES = [
    "/reports",
    "/reports/units",
    "/reports/cases?figure=cases.accepted",
    "/api/reports/overview",
    "/api/reports/units",
    "/api/reports/cases?figure=cases.accepted",
]


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    return tell(sessions, OCTOBER)


def settings_for(db_url: str, folder: Path) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
        bulletin_interval_seconds=0,
        ranking_min_sample=1,
    )


@pytest.fixture
def client(db_url: str, world: World, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db_url, tmp_path)), follow_redirects=False) as made:
        yield made


@pytest.fixture
def bare(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[TestClient]:
    """The app over a database with the users only."""
    for name, role in [*USERS, ("unit1", "unit_handler")]:
        add_user(sessions, name, role)
    with TestClient(create_app(settings_for(db_url, tmp_path)), follow_redirects=False) as made:
        yield made


def log_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    answer = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


def get(client: TestClient, path: str, **params: str) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def row(report: dict[str, Any], table: str, name: str) -> list[dict[str, Any]]:
    for found in report["tables"]:
        if found["key"] == table:
            for cells in found["rows"]:
                if cells[0]["text"] == name:
                    return cells  # type: ignore[no-any-return]
    raise AssertionError(f"no row {name!r} in {table}")


def listed(client: TestClient, href: str) -> set[str]:
    """Every id the drill-down's JSON twin lists for a figure's link, page after page."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(href).query))
    found: set[str] = set()
    page = 1
    while True:
        answer = get(client, "/api/reports/cases", **query, page=str(page))
        found |= set(answer["ids"])
        if len(found) >= answer["total"] or not answer["ids"]:
            assert len(found) == answer["total"]
            return found
        page += 1


def test_the_dashboard_figures_and_the_cases_behind_them(client: TestClient, world: World) -> None:
    log_in(client, "sup1")
    report = get(client, "/api/reports/overview", **QUERY)["report"]
    accepted = row(report, "cases", "受理量")
    assert accepted[1]["text"] == str(len(ACCEPTED))
    assert listed(client, accepted[1]["href"]) == world.ids(ACCEPTED)
    closed = row(report, "cases", "办结量")[1]
    assert listed(client, closed["href"]) == world.ids(CLOSED)
    satisfaction = row(report, "feedback", "满意率")[1]
    assert satisfaction["text"] == "75.0%" and satisfaction["title"].startswith("满意率＝")
    assert listed(client, satisfaction["href"]) == world.ids(SATISFIED)
    base = satisfaction["href"] + "&side=base"
    assert listed(client, base) == world.ids(RATED)
    rejected = row(report, "cases", "不予受理量")[1]
    assert listed(client, rejected["href"]) == world.ids(("D",))
    answered = row(report, "calls", "人工接通率")[1]
    assert answered["text"] == "50.0%"  # c1 and c2 of the four queued calls
    assert listed(client, answered["href"]) == {world.calls["c1"], world.calls["c2"]}
    # The per-unit breakdown: F returned by 城管局 counts for it, closed by 住建局.
    unit = row(report, "by_unit", "市住建局")
    assert [cell["text"] for cell in unit[1:3]] == ["3", "3"]  # 交办量 A B F, 办结量 A B F
    assert listed(client, unit[2]["href"]) == world.ids(("A", "B", "F"))
    operator = row(report, "calls_by_operator", "op1 名")  # by the extension that answered
    assert [cell["text"] for cell in operator[1:3]] == ["2", "19.0秒"]
    assert listed(client, operator[1]["href"]) == {world.calls["c1"], world.calls["c2"]}
    city = row(report, "by_unit", "市城管局")
    assert city[6]["text"] == "33.3%"  # 退回率: F's return of C, F, G's dispatches
    # The page shows the same figures, each linking to the same list with its formula.
    page = client.get("/reports", params=QUERY)
    assert page.status_code == 200
    text = page.text
    assert html.escape(accepted[1]["href"]) in text
    assert 'title="满意率＝' in text
    assert "<svg" in text and "各单位按时办结率" in text
    assert "2026年10月" in text and "上一期" in text


def test_a_repeat_view_reuses_the_report_until_something_is_written(
    client: TestClient, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, "sup1")
    builds: list[str] = []
    for module, name in ((overview, "build"), (ranking, "assess")):
        real = getattr(module, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            builds.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    def accepted() -> str:
        report = get(client, "/api/reports/overview", **QUERY)["report"]
        return str(row(report, "cases", "受理量")[1]["text"])

    first = accepted()
    get(client, "/api/reports/units", **QUERY)
    assert builds == ["build", "assess"]
    assert accepted() == first
    get(client, "/api/reports/units", **QUERY)
    assert builds == ["build", "assess"]  # remembered, not built again
    # A case accepted in October: the next view has it (a write changes the windows' version).
    Story(sessions, OCTOBER).register("Z", OCTOBER.start + (OCTOBER.end - OCTOBER.start) / 2)
    assert accepted() == str(int(first) + 1)
    assert builds == ["build", "assess", "build"]


def test_the_drill_down_page_lists_the_cases_and_its_other_side(
    client: TestClient, world: World
) -> None:
    log_in(client, "sup1")
    report = get(client, "/api/reports/overview", **QUERY)["report"]
    href = row(report, "feedback", "满意率")[1]["href"]
    page = client.get(href)
    assert page.status_code == 200
    numbers = set(re.findall(r'data-number="([^"]+)"', page.text))
    assert numbers == {world.numbers[letter] for letter in SATISFIED}
    assert "2026年10月满意率" in page.text and "计入分子的案件" in page.text
    other = re.search(r'<a href="([^"]+)" id="other-side">', page.text)
    assert other is not None
    base = client.get(html.unescape(other.group(1)))
    assert set(re.findall(r'data-number="([^"]+)"', base.text)) == {
        world.numbers[letter] for letter in RATED
    }
    # An explicit list (for other report pages): those cases, newest first.
    explicit = get(client, "/api/reports/cases", id=world.cases["A"])
    assert explicit["ids"] == [world.cases["A"]] and explicit["figure"] is None
    two = client.get(
        "/api/reports/cases", params=[("id", world.cases["A"]), ("id", world.cases["G"])]
    )
    assert two.json()["ids"] == [world.cases["G"], world.cases["A"]]


def test_the_workbook_has_the_pages_figures(client: TestClient) -> None:
    log_in(client, "sup1")
    report = get(client, "/api/reports/overview", **QUERY)["report"]
    answer = client.get("/reports", params={**QUERY, "format": "xlsx"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == xlsx.MEDIA_TYPE
    assert "filename*=UTF-8''" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert len(book.sheetnames) == len(report["tables"])
    sheet = book["受理与办理"]
    by_name = {r[0].value: [c.value for c in r] for r in sheet.iter_rows(min_row=3) if r[0].value}
    assert by_name["受理量"][1] == row(report, "cases", "受理量")[1]["value"]
    assert by_name["办结率"][1] == pytest.approx(row(report, "cases", "办结率")[1]["value"])
    one = client.get("/reports", params={**QUERY, "format": "xlsx", "table": "by_unit"})
    assert load_workbook(io.BytesIO(one.content)).sheetnames == ["按主办单位"]
    assert (
        client.get("/reports", params={**QUERY, "format": "xlsx", "table": "x"}).status_code == 404
    )
    drill = client.get(
        "/reports/cases", params={**QUERY, "figure": "cases.accepted", "format": "xlsx"}
    )
    listing = load_workbook(io.BytesIO(drill.content)).worksheets[0]
    rows = list(listing.iter_rows(min_row=3, values_only=True))
    assert len([r for r in rows if r[0] and str(r[0]).startswith("RP")]) == len(ACCEPTED)


def test_the_ranking_grades_units_and_lists_them(client: TestClient, world: World) -> None:
    log_in(client, "sup1")
    answer = get(client, "/api/reports/units", **QUERY)
    units = {unit["name"]: unit for unit in answer["units"]}
    housing, city = units["市住建局"], units["市城管局"]
    assert housing["figures"]["cases.on_time_rate"]["text"] == "100.0%"
    assert (housing["band"], housing["red_list"], housing["black_list"]) == ("优秀", True, False)
    # C never answered: 城管局's 按时办结率 is 50 % (G on time), 满意率 0 %.
    assert city["figures"]["cases.on_time_rate"]["text"] == "50.0%"
    assert (city["band"], city["black_list"]) == ("较差", True)
    page = client.get("/reports/units", params=QUERY)
    assert page.status_code == 200
    red = page.text.split('id="red-list"')[1].split("</div>")[0]
    black = page.text.split('id="black-list"')[1].split("</div>")[0]
    assert "市住建局" in red and "市城管局" not in red
    assert "市城管局" in black
    workbook = load_workbook(
        io.BytesIO(client.get("/reports/units", params={**QUERY, "format": "xlsx"}).content)
    )
    assert workbook.sheetnames[:3] == ["部门办理排名（分等次）", "红榜", "黑榜"]
    assert workbook["红榜"]["A3"].value == "市住建局"


def test_wrong_parameters_are_refused_in_each_language(client: TestClient) -> None:
    log_in(client, "sup1")
    for params, words in (
        ({"period": "fortnight"}, "统计周期只能是"),
        ({"period": "custom", "from": "2026-10-05"}, "须填写开始日期和结束日期"),
        (
            {"period": "custom", "from": "2026-10-05", "to": "2026-10-01"},
            "结束日期不能早于开始日期",
        ),
        ({"on": "2026-13-01"}, "日期不是有效的日期"),
        ({"as_of": "yesterday"}, "统计时点格式不正确"),
        ({"as_of": "0001-01-01T00:00:00Z"}, "统计时点超出可查询的范围"),
        ({"format": "pdf"}, "提交的内容不符合要求"),
    ):
        page = client.get("/reports", params=params)
        assert page.status_code == 422, params
        assert words in page.text, (params, page.text[:300])
    answer = client.get("/api/reports/overview", params={"period": "fortnight"})
    assert answer.status_code == 422
    # The shape of every validation error, as the API's description says.
    assert answer.json() == {
        "detail": [
            {
                "loc": ["query"],
                "msg": "period must be day, week, month, quarter, year or custom",
                "type": "value_error",
            }
        ]
    }
    assert client.get("/api/reports/cases", params={"figure": "nope"}).status_code == 422
    assert (
        client.get("/reports/cases", params={"figure": "cases.accepted", "dim": "x"}).status_code
        == 422
    )
    assert client.get("/api/reports/cases", params={"id": "not-an-id"}).status_code == 422


def test_a_custom_period_and_the_periods_around(client: TestClient) -> None:
    log_in(client, "sup1")
    custom = get(
        client,
        "/api/reports/overview",
        period="custom",
        **{"from": "2026-10-01", "to": "2026-10-07"},
        as_of=AS_OF,
    )
    assert custom["period"]["label"] == "2026年10月1日至2026年10月7日"
    assert row(custom["report"], "cases", "受理量")[1]["text"] == "4"  # A, B, C, E
    page = client.get("/reports", params=QUERY).text
    assert 'href="/reports?period=month&amp;on=2026-09-01" id="previous-period"' in page
    assert 'href="/reports?period=month&amp;on=2026-11-01" id="next-period"' in page


def test_only_leaders_reach_the_reports(bare: TestClient) -> None:
    for username in ("op1", "unit1", "inv1", "aud1", "admin1"):
        log_in(bare, username)
        for path in REPORT_ROUTES:
            answer = bare.get(path)
            assert answer.status_code == 403, (username, path)
            if path.startswith("/api/"):
                assert answer.json() == {"detail": "your role may not do this"}
            else:
                assert "没有权限" in answer.text
            export = bare.get(path + ("&" if "?" in path else "?") + "format=xlsx")
            assert export.status_code == 403 and not export.content.startswith(b"PK")
    log_in(bare, "sup1")
    assert all(bare.get(path).status_code == 200 for path in REPORT_ROUTES)
    bare.cookies.clear()  # not logged in: pages go to the log-in page, the API says 401
    for path in REPORT_ROUTES:
        answer = bare.get(path)
        if path.startswith("/api/"):
            assert (answer.status_code, answer.json()) == (401, {"detail": "not logged in"})
        else:
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
