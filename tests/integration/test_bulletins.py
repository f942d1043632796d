"""Bulletins (通报) through the console: last month's made on a supervisor's demand once (a
second ask shows the one made), listed, its tables on the page, its .xlsx read back by
openpyxl with the very figures of the stored JSON, its PDF's text read by pypdf; the
schedule's job at a Beijing midnight makes the day's and the week's that are missing and
nothing on its second run; two processes racing for one period leave one row; a period not
yet over is refused; only leaders reach any of it. The month's cases are made through the
API at a moment of last month (time-machine), so the test works whatever today is. SQLite
and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import background, bulletin_pages
from api.app import create_app
from core.clock import utc_now
from core.settings import Settings
from dispatch.indicators.periods import Period
from dispatch.reports import bulletins, xlsx
from dispatch.reports.bulletin_models import Bulletin
from tests.api_actor import Actor
from tests.builders import add_user

BEIJING = ZoneInfo("Asia/Shanghai")
CENTRE = "唐河县12345热线"
PEOPLE = [
    ("op1", "operator"),
    ("sup1", "supervisor"),
    ("h_env", "unit_handler"),
    ("h_water", "unit_handler"),
    ("aud1", "auditor"),
    ("inv1", "investigator"),
    ("adm1", "admin"),
]


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in PEOPLE:
        add_user(sessions, name, role)
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
        bulletin_interval_seconds=0,
        centre_name=CENTRE,
        ranking_min_sample=1,  # one case is enough to grade a unit here
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    with TestClient(create_app(settings), follow_redirects=False) as started:
        yield started.app


def last_month() -> Period:
    return bulletins.last_closed(utc_now(), BEIJING)[2]


@pytest.fixture
def month(app: Any) -> Period:
    """Last month, with two cases made on its third day: 市生态环境局's answered at once
    and rated 满意 (红榜), 市水务局's never answered, its deadline now past (黑榜)."""
    period = last_month()
    third = dt.datetime.combine(period.first + dt.timedelta(days=2), dt.time(10), BEIJING)
    with time_machine.travel(third, tick=True):
        people = {name: Actor(app, name) for name in ("op1", "sup1", "h_env")}
        op, sup, env = people["op1"], people["sup1"], people["h_env"]
        units = {}
        for key, name in [("env", "市生态环境局"), ("water", "市水务局")]:
            made = sup.post("/api/units", {"name": name, "kind": "department"}, status=201)
            units[key] = made["id"]
            sup.post(f"/api/units/{made['id']}/members", {"username": f"h_{key}"}, status=204)
        for key, title in [("env", "化工厂夜间排放废气"), ("water", "自来水水压不足")]:
            case = op.post(
                "/api/cases",
                {
                    "received_at": third.strftime("%Y-%m-%dT%H:%M"),
                    "channel": "walk_in",
                    "case_type": "complaint",
                    "complainant_name": "李秀英",
                    "complainant_phone": "13912345678",
                    "subject_unit": "东郊化工厂" if key == "env" else "城区供水公司",
                    "title": title,
                    "content": f"{title}，请尽快处理。",
                    "decision": "accept",
                },
                status=201,
            )
            op.post(
                f"/api/cases/{case['number']}/dispatch",
                {"lead_unit_id": units[key], "category": "环境保护" if key == "env" else "供水"},
            )
            if key == "env":
                number = case["number"]
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
        for actor in people.values():
            actor.client.close()
    return period


def make_month(sup: Actor, period: Period, status: int = 303) -> Any:
    response = sup.client.post(
        "/bulletins",
        data={"period": "month", "on": period.first.isoformat()},
        headers=sup.headers,
    )
    assert response.status_code == status, response.text
    return response


def bulletin_id(response: Any) -> str:
    found = re.fullmatch(r"/bulletins/(\w+)\?(made|existed)=1", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Bulletin)) or 0)


def test_a_supervisor_makes_last_months_bulletin_and_downloads_it(
    app: Any, month: Period, sessions: sessionmaker[Session]
) -> None:
    sup = Actor(app, "sup1")
    made = make_month(sup, month)
    assert made.headers["location"].endswith("?made=1")
    number = bulletin_id(made)
    title = f"{CENTRE}月度通报（{month.label}）"

    page = sup.fetch(f"/bulletins/{number}?made=1")
    assert page.status_code == 200
    assert title in page.text and "通报已生成" in page.text
    stored = sup.get(f"/api/bulletins/{number}")
    assert stored["title"] == title and stored["made_by"] == "sup1"
    assert stored["kind"] == "month" and stored["first_day"] == month.first.isoformat()
    units = next(t for t in stored["report"]["tables"] if t["key"] == "units")
    by_unit = {row[0]["text"]: [cell["text"] for cell in row[1:]] for row in units["rows"]}
    assert by_unit["市生态环境局"] == ["优秀", "1", "1", "100.0%", "100.0%", "红榜"]
    assert by_unit["市水务局"] == ["较差", "1", "0", "0.0%", "—", "黑榜"]
    # Each figure links to the cases behind it, as of the bulletin's making.
    closed = next(row for row in units["rows"] if row[0]["text"] == "市生态环境局")[3]
    assert closed["href"].startswith("/reports/cases?figure=cases.closed&")
    drill = sup.fetch(closed["href"])
    assert drill.status_code == 200 and "化工厂夜间排放废气" in drill.text

    # The .xlsx holds the stored figures, table by table, cell by cell.
    book = sup.fetch(f"/bulletins/{number}?format=xlsx")
    assert book.status_code == 200 and book.headers["content-type"] == xlsx.MEDIA_TYPE
    workbook = load_workbook(io.BytesIO(book.content))
    taken: set[str] = set()
    assert len(workbook.sheetnames) == len(stored["report"]["tables"])
    for table in stored["report"]["tables"]:
        sheet = workbook[xlsx.sheet_name(table["title"], taken)]
        assert [c.value for c in sheet[2]] == table["columns"]
        for index, row in enumerate(table["rows"], start=3):
            expected = [cell.get("value", cell["text"]) for cell in row]
            assert [c.value for c in sheet[index]] == expected, (table["key"], index)

    pdf = sup.fetch(f"/bulletins/{number}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = re.sub(
        r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    )
    for shown in (f"{CENTRE}月度通报", month.label, "各单位办理情况", "市生态环境局", "红榜"):
        assert shown in text, shown

    # Asked again: the one made, not a second.
    again = make_month(sup, month)
    assert bulletin_id(again) == number and again.headers["location"].endswith("?existed=1")
    assert count(sessions) == 1
    listed = sup.fetch("/bulletins?kind=month").text
    assert title in listed and f'href="/bulletins/{number}.pdf"' in listed
    assert sup.get("/api/bulletins?kind=day") == []


def test_the_schedule_makes_what_is_missing_at_midnight_and_nothing_twice(
    app: Any, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    month = last_month()
    sup = Actor(app, "sup1")
    number = bulletin_id(make_month(sup, month))
    # Just after midnight in Beijing on the first of this month (still the evening before
    # in UTC): the month just closed has its bulletin, the day and the week are made.
    midnight = dt.datetime.combine(month.last + dt.timedelta(days=1), dt.time(0, 0, 30), BEIJING)
    maker = bulletin_pages.maker(settings, app.state.rules)
    with time_machine.travel(midnight, tick=False):
        made = background.bulletins_once(sessions, maker, utc_now)
        again = background.bulletins_once(sessions, maker, utc_now)
    assert {m.new for m in made} == {True} and again == []
    day = [m.title for m in made if "每日通报" in m.title]
    assert day == [f"{CENTRE}每日通报（{month.last.year}年{month.last.month}月{month.last.day}日）"]
    assert len(made) == 2 and any("每周通报" in m.title for m in made)
    assert count(sessions) == 3
    kinds = {b["kind"]: b for b in sup.get("/api/bulletins")}
    assert set(kinds) == {"day", "week", "month"} and kinds["month"]["id"] == number
    assert kinds["day"]["made_by"] == bulletins.SYSTEM


def test_two_processes_racing_for_a_period_leave_one_row(
    app: Any, settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    period = last_month()
    maker = bulletin_pages.maker(settings, app.state.rules)
    first = bulletins.make(sessions, maker, period, utc_now(), "sup1")
    # The second process read before the first one's row was committed: it computes the
    # bulletin too, and its insert meets the unique key.
    looked = []
    real = bulletins.of_period

    def late(session: Session, asked: Period) -> Bulletin | None:
        looked.append(asked)
        return None if len(looked) == 1 else real(session, asked)

    monkeypatch.setattr(bulletins, "of_period", late)
    second = bulletins.make(sessions, maker, period, utc_now(), "sup2")
    assert len(looked) == 2
    assert (second.bulletin_id, second.new, first.new) == (first.bulletin_id, False, True)
    assert count(sessions) == 1


def test_a_period_not_yet_over_is_refused(app: Any, sessions: sessionmaker[Session]) -> None:
    sup = Actor(app, "sup1")
    today = utc_now().astimezone(BEIJING).date()
    page = sup.client.post(
        "/bulletins", data={"period": "month", "on": today.isoformat()}, headers=sup.headers
    )
    assert page.status_code == 422 and "该统计期尚未结束" in page.text
    api = sup.client.post(
        "/api/bulletins", json={"period": "day", "on": today.isoformat()}, headers=sup.headers
    )
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["body", "period"]
    wrong = sup.client.post(
        "/bulletins",
        data={"period": "custom", "from": "2025-03-09", "to": "2025-03-01"},
        headers=sup.headers,
    )
    assert wrong.status_code == 422 and "结束日期不能早于开始日期" in wrong.text
    assert count(sessions) == 0


@pytest.mark.parametrize("who", ["op1", "h_env", "aud1", "inv1", "adm1"])
def test_only_leaders_reach_the_bulletins(app: Any, who: str) -> None:
    sup = Actor(app, "sup1")
    made = bulletin_id(make_month(sup, last_month()))
    other = Actor(app, who)
    for path in (
        "/bulletins",
        f"/bulletins/{made}",
        f"/bulletins/{made}?format=xlsx",
        f"/bulletins/{made}.pdf",
    ):
        page = other.fetch(path, headers={"accept": "text/html"})
        assert page.status_code == 403 and "没有权限" in page.text, path
    answer = other.fetch(f"/api/bulletins/{made}")
    assert answer.status_code == 403 and answer.json() == {"detail": "your role may not do this"}
    refused = other.client.post(
        "/bulletins", data={"period": "month", "on": "2025-01-01"}, headers=other.headers
    )
    assert refused.status_code == 403
