"""红旗窗口 and 热点诉求 through the console and the JSON API, on SQLite and a real PostgreSQL
server: complaints registered, dispatched to the window complained about, answered and
reviewed through the API; each window's standing under seed 003's rule on the page, in the
JSON twin and in the .xlsx; the receipt of a written explanation recorded once (a second
one, one for a window owing none and a bad form refused clearly); the hot topics' rising
category and risk signal with the cases behind them; every other role refused."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.reports.window_explanation_models import WindowExplanation
from tests.api_actor import Actor
from tests.builders import add_user

PEOPLE = [
    ("op1", "operator"),
    ("sup1", "supervisor"),
    ("h_social", "unit_handler"),
    ("h_estate", "unit_handler"),
    ("inv1", "investigator"),
    ("aud1", "auditor"),
    ("adm1", "admin"),
]
SOCIAL, ESTATE, QUIET, BUREAU = "社保窗口", "不动产登记窗口", "公积金窗口", "市生态环境局"
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class World:
    people: dict[str, Actor]
    units: dict[str, str]
    cases: dict[str, list[str]]  # name -> case ids
    sessions: sessionmaker[Session]

    @property
    def sup(self) -> Actor:
        return self.people["sup1"]


def this_minute() -> str:
    """Now in Beijing to the minute: always this year, never in the future."""
    return dt.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M")


def complaint(
    world_people: dict[str, Actor],
    units: dict[str, str],
    window: str,
    handler: str,
    finding: str | None,
    **fields: Any,
) -> str:
    """A complaint about ``window`` registered now, dispatched to it, answered with
    ``finding`` and passed by the review (``None``: not answered yet); its case id."""
    op, sup, unit = world_people["op1"], world_people["sup1"], world_people[handler]
    body = {
        "received_at": this_minute(),
        "channel": "web",
        "case_type": "complaint",
        "complainant_name": "王先生",
        "complainant_phone": "13700000000",
        "complainant_address": "人民路8号",
        "subject_unit": "县政务服务中心",
        "subject_window": window,
        "title": f"{window}工作人员态度差",
        "content": f"在{window}办事时工作人员态度生硬，推诿不办。",
        "request": "请核实处理",
        "decision": "accept",
        **fields,
    }
    case = op.post("/api/cases", body, status=201)
    number = case["number"]
    sup.post(
        f"/api/cases/{number}/dispatch",
        {
            "lead_unit_id": units[window],
            "mode": "transfer",
            "category": fields.get("category_at_dispatch", "窗口服务"),
            "complained_unit_id": units[window],
        },
    )
    if finding is not None:
        unit.post(f"/api/unit/cases/{number}/sign")
        unit.post(f"/api/unit/cases/{number}/start")
        unit.post(
            f"/api/unit/cases/{number}/reply",
            {"facts": "经调查核实。", "finding": finding, "measures": "已批评教育。"},
        )
        sup.post(f"/api/cases/{number}/review", {"passed": True})
    return str(case["id"])


@pytest.fixture
def world(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[World]:
    for name, role in PEOPLE:
        add_user(sessions, name, role)
    settings = Settings(data_dir=tmp_path, database_url=db_url, supervision_interval_seconds=0)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        people = {name: Actor(client.app, name) for name, _ in PEOPLE}
        sup = people["sup1"]
        units = {
            name: sup.post("/api/units", {"name": name, "kind": kind}, status=201)["id"]
            for name, kind in [
                (SOCIAL, "window"),
                (ESTATE, "window"),
                (QUIET, "window"),
                (BUREAU, "department"),
            ]
        }
        sup.post(f"/api/units/{units[SOCIAL]}/members", {"username": "h_social"}, status=204)
        sup.post(f"/api/units/{units[ESTATE]}/members", {"username": "h_estate"}, status=204)
        cases = {
            # 社保窗口: three found true (one in part) and one not yet answered.
            SOCIAL: [
                complaint(people, units, SOCIAL, "h_social", "true"),
                complaint(people, units, SOCIAL, "h_social", "partly_true"),
                complaint(people, units, SOCIAL, "h_social", "true"),
                complaint(people, units, SOCIAL, "h_social", None),
            ],
            # 不动产登记窗口: two found true, one found untrue.
            ESTATE: [
                complaint(people, units, ESTATE, "h_estate", "true"),
                complaint(people, units, ESTATE, "h_estate", "true"),
                complaint(people, units, ESTATE, "h_estate", "untrue"),
            ],
        }
        yield World(people, units, cases, sessions)
        for actor in people.values():
            actor.client.close()


def _standing(data: dict[str, Any], unit_id: str) -> dict[str, Any]:
    return next(w for w in data["windows"] if w["unit_id"] == unit_id)


def test_each_window_standing_on_the_page_in_json_and_in_excel(world: World) -> None:
    sup, units, cases = world.sup, world.units, world.cases
    year = dt.datetime.now(BEIJING).year
    data = sup.get(f"/api/reports/windows?year={year}")
    assert data["year"] == year
    social, estate, quiet = (_standing(data, units[n]) for n in (SOCIAL, ESTATE, QUIET))
    assert sorted(social["substantiated"]) == sorted(cases[SOCIAL][:3])
    assert social["pending"] == [cases[SOCIAL][3]]
    assert (social["count"], social["eligible"], social["explanation_owed"]) == (3, False, True)
    assert social["verdict"] == "不得参评，须书面说明并提出整改措施"
    assert sorted(estate["substantiated"]) == sorted(cases[ESTATE][:2])
    assert estate["unsubstantiated"] == [cases[ESTATE][2]]
    assert (estate["count"], estate["eligible"], estate["explanation_owed"]) == (2, False, False)
    assert (quiet["count"], quiet["eligible"], quiet["verdict"]) == (0, True, "可参评")
    assert social["typed"] == [SOCIAL]
    # The department nobody complained about is no window: not listed.
    assert units[BUREAU] not in {w["unit_id"] for w in data["windows"]}
    # Most substantiated first.
    assert [w["unit_id"] for w in data["windows"]][:2] == [units[SOCIAL], units[ESTATE]]

    page = sup.client.get(f"/reports/windows?year={year}")
    assert page.status_code == 200
    row = re.search(rf'<tr data-window-id="{units[SOCIAL]}".*?</tr>', page.text, re.S)
    assert row is not None and "不得参评，须书面说明并提出整改措施" in row.group(0)
    link = re.search(r'<a href="(/reports/cases\?id=[^"]+)">3</a>', row.group(0))
    assert link is not None
    behind = sup.client.get(link.group(1).replace("&amp;", "&"))
    assert behind.status_code == 200
    numbers = re.findall(r"TS\d{11,}", behind.text)
    assert len(set(numbers)) == 3
    for case_id in cases[SOCIAL]:
        assert f'href="/cases/{case_id}"' in page.text  # the complaints behind it
    estate_row = re.search(rf'<tr data-window-id="{units[ESTATE]}".*?</tr>', page.text, re.S)
    assert estate_row is not None and ">不得参评<" in estate_row.group(0)
    assert 'id="window-' + units[SOCIAL] + '"' in page.text  # its explanation's form
    assert 'id="window-' + units[ESTATE] + '"' not in page.text

    book = sup.client.get(f"/reports/windows?year={year}&format=xlsx")
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.content))
    standings = sheets.worksheets[0]
    header = [c.value for c in standings[2]]
    assert header[:4] == ["窗口", "单位类型", "登记所填窗口", "经查属实（含部分属实）"]
    by_name = {r[0]: r for r in standings.iter_rows(min_row=3, values_only=True) if r[0]}
    assert by_name[SOCIAL][3:7] == (3, 0, 1, "不得参评，须书面说明并提出整改措施")
    assert by_name[ESTATE][3:7] == (2, 1, 0, "不得参评")
    assert by_name[QUIET][3:7] == (0, 0, 0, "可参评")
    details = sheets.worksheets[2]
    numbers = [r[1] for r in details.iter_rows(min_row=3, values_only=True) if r[0] == SOCIAL]
    assert len(numbers) == 4


def test_a_written_explanation_is_recorded_once(world: World) -> None:
    sup, units = world.sup, world.units
    year = dt.datetime.now(BEIJING).year
    today = dt.datetime.now(BEIJING).date()
    token = sup.headers["X-CSRF-Token"]
    url = f"/reports/windows/{units[SOCIAL]}/explanation"

    # A form with mistakes: each message at its field, what was typed kept, nothing stored.
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    bad = sup.client.post(
        url,
        data={
            "csrf_token": token,
            "year": str(year),
            "received_on": tomorrow,
            "submitted_by": "",
            "rectification": "加强培训",
        },
    )
    assert bad.status_code == 422
    assert "收到日期不能晚于今天" in bad.text and "请填写说明人" in bad.text
    assert "加强培训" in bad.text
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WindowExplanation)) == 0

    done = sup.client.post(
        url,
        data={
            "csrf_token": token,
            "year": str(year),
            "received_on": today.isoformat(),
            "submitted_by": "李主任",
            "rectification": "全员服务规范培训，窗口实行首问负责制",
            "note": "附整改方案",
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/reports/windows?year={year}#window-{units[SOCIAL]}"
    page = sup.client.get(f"/reports/windows?year={year}").text
    section = re.search(
        rf'<section class="explanation" id="window-{units[SOCIAL]}".*?</section>', page, re.S
    )
    assert section is not None
    assert "李主任" in section.group(0) and "全员服务规范培训" in section.group(0)
    assert "sup1 名（sup1）于" in section.group(0) and "<form" not in section.group(0)
    standing = _standing(sup.get(f"/api/reports/windows?year={year}"), units[SOCIAL])
    given = standing["explanation"]
    assert (given["submitted_by"], given["recorded_by"], given["received_on"]) == (
        "李主任",
        "sup1",
        today.isoformat(),
    )
    recorded_at = dt.datetime.fromisoformat(given["recorded_at"])
    assert abs(dt.datetime.now(dt.UTC) - recorded_at) < dt.timedelta(minutes=5)

    # Twice: refused at both doors, saying when and by whom it was recorded.
    again = {
        "year": year,
        "received_on": today.isoformat(),
        "submitted_by": "李主任",
        "rectification": "再次说明",
    }
    refused = sup.post(f"/api/reports/windows/{units[SOCIAL]}/explanation", again, status=409)
    assert "already recorded" in refused["detail"]
    twice = sup.client.post(
        url, data={"csrf_token": token, **{k: str(v) for k, v in again.items()}}
    )
    assert twice.status_code == 409
    assert "书面说明已于" in twice.text and "不能重复登记" in twice.text
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WindowExplanation)) == 1

    # A window with two complaints found true owes none; an unknown unit is a 404.
    none_owed = sup.post(f"/api/reports/windows/{units[ESTATE]}/explanation", again, status=409)
    assert "does not owe" in none_owed["detail"]
    page_refusal = sup.client.post(
        f"/reports/windows/{units[ESTATE]}/explanation",
        data={"csrf_token": token, **{k: str(v) for k, v in again.items()}},
    )
    assert page_refusal.status_code == 409 and "不足3次，无须书面说明" in page_refusal.text
    sup.post("/api/reports/windows/nosuchunit/explanation", again, status=404)
    # A year to come is no year of the page.
    sup.post(
        f"/api/reports/windows/{units[SOCIAL]}/explanation",
        {**again, "year": year + 1},
        status=422,
    )
    assert sup.fetch(f"/reports/windows?year={year + 1}").status_code == 422


def test_hot_topics_show_a_rising_category_and_a_risk_signal(world: World) -> None:
    people, units, sup = world.people, world.units, world.sup
    before = sup.get("/api/reports/hot?period=month")
    assert "不动产登记" not in {t["key"] for t in before["rising"]["category"]}
    assert [s["kind"] for s in before["signals"]] == []
    # Five callers about the same compound within the hour, one category: seen at once (the
    # page's cache keeps a period only while no case changed).
    spike = [
        complaint(
            people,
            units,
            ESTATE,
            "h_estate",
            None,
            complainant_phone=f"1590000000{i}",
            complainant_address=f"锦绣花园{i + 1}栋{100 + i}室",
            title="锦绣花园不动产证迟迟办不下来",
            category_at_dispatch="不动产登记",
        )
        for i in range(5)
    ]
    data = sup.get("/api/reports/hot?period=month")
    rising = {t["key"]: t for t in data["rising"]["category"]}
    assert rising["不动产登记"]["count"] == 5 and rising["不动产登记"]["month_on_month"]
    assert "窗口服务" in rising  # the seven complaints of the other test's world
    signal = next(s for s in data["signals"] if s["kind"] == "place")
    assert (signal["key"], signal["callers"]) == ("锦绣花园", 5)
    assert sorted(signal["cases"]) == sorted(spike)

    page = sup.client.get("/reports/hot?period=month")
    assert page.status_code == 200
    assert 'data-key="锦绣花园"' in page.text and "5</strong> 个不同号码" in page.text
    link = re.search(
        r'<li class="signal" data-kind="place"[^>]*>.*?<a href="([^"]+)"', page.text, re.S
    )
    assert link is not None
    drill = sup.client.get(link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200 and "风险苗头地点“锦绣花园”本期的诉求" in drill.text
    assert all(f'data-case-id="{case_id}"' in drill.text for case_id in spike)

    book = load_workbook(
        io.BytesIO(sup.client.get("/reports/hot?period=month&format=xlsx").content)
    )
    categories = {r[0]: r for r in book.worksheets[0].iter_rows(min_row=3, values_only=True)}
    assert categories["不动产登记"][1:4] == (5, 0, "新出现")
    assert sup.fetch("/reports/hot?period=fortnight").status_code == 422


def test_only_leaders_reach_these_reports(world: World) -> None:
    year = dt.datetime.now(BEIJING).year
    body = {"year": year, "received_on": "2026-01-01", "submitted_by": "x", "rectification": "y"}
    for who in ("op1", "h_social", "inv1", "aud1", "adm1"):
        actor = world.people[who]
        for path in (
            f"/reports/windows?year={year}",
            "/reports/hot",
            "/reports/hot/cases?what=topic&kind=category&key=x",
        ):
            page = actor.fetch(path)
            assert page.status_code == 403 and "没有权限" in page.text, (who, path)
        for path in ("/api/reports/windows", "/api/reports/hot"):
            response = actor.fetch(path)
            assert response.status_code == 403, (who, path)
            assert response.json() == {"detail": "your role may not do this"}
        response = actor.client.post(
            f"/api/reports/windows/{world.units[SOCIAL]}/explanation",
            json=body,
            headers=actor.headers,
        )
        assert response.status_code == 403, who
        page = actor.client.post(
            f"/reports/windows/{world.units[SOCIAL]}/explanation",
            data={
                **{k: str(v) for k, v in body.items()},
                "csrf_token": actor.headers["X-CSRF-Token"],
            },
        )
        assert page.status_code == 403 and "没有权限" in page.text, who
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WindowExplanation)) == 0
