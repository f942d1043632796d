"""The two doors of search on a real database (SQLite and PostgreSQL): GET /api/cases,
/api/calls and /api/audit (a page of rows, X-Total-Count, Link, English 422s naming the
filter) and the list pages /cases, /calls and /audit (Chinese, the filters in the URL, the
words marked, an empty result said so, a wrong filter at its field)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from dispatch.cases.models import Case
from tests.api_actor import Actor
from tests.builders import recently
from tests.replay_people import logged_in, settings_with_people
from tests.search_world import add_call, add_handler, dispatch, make_unit, register_case


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    return settings_with_people(db_url, sessions, tmp_path)


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with logged_in(settings) as actors:
        yield actors


@pytest.fixture
def cases(sessions: sessionmaker[Session], tmp_path: Path) -> dict[str, Case]:
    """Three cases of the last hour (by the real clock: the app reads it), one at each of
    two units, the first with the complainant's identity withheld from its unit."""
    at = recently()
    made = {
        "noise": register_case(
            sessions,
            tmp_path,
            at=at,
            complainant_name="赵敏",
            complainant_phone="13600001111",
            title="广场舞噪音扰民",
            content="赵敏反映每晚广场舞噪音扰民，电话13600001111。",
        ),
        "water": register_case(
            sessions,
            tmp_path,
            at=at + dt.timedelta(minutes=1),
            title="停水三天",
            content="和平路停水三天无人通知。",
        ),
        "letter": register_case(
            sessions,
            tmp_path,
            at=at + dt.timedelta(minutes=2),
            channel="letter",
            title="建议增设公交站",
            content="建议在和平路增设公交站。",
            case_type="suggestion",
        ),
    }
    environment, water = make_unit(sessions, "市生态环境局"), make_unit(sessions, "市水务局")
    dispatch(sessions, made["noise"].id, environment, at=at)
    dispatch(sessions, made["water"].id, water, at=at)
    add_handler(sessions, "h_search", environment)
    return made


def test_the_json_route_pages_and_counts(people: dict[str, Actor], cases: dict[str, Case]) -> None:
    op = people["op1"]
    answer = op.fetch("/api/cases", params={"limit": "2"})
    assert answer.status_code == 200
    rows = answer.json()
    assert [r["number"] for r in rows] == [cases["letter"].number, cases["water"].number]
    assert answer.headers["X-Total-Count"] == "3"
    assert '</api/cases?limit=2&page=2>; rel="next"' in answer.headers["Link"]
    assert '</api/cases?limit=2>; rel="first"' in answer.headers["Link"]
    second = op.fetch("/api/cases", params={"limit": "2", "page": "2"})
    assert [r["number"] for r in second.json()] == [cases["noise"].number]
    assert 'rel="next"' not in second.headers["Link"] and 'rel="prev"' in second.headers["Link"]
    found = op.get("/api/cases?q=噪音")
    assert [r["number"] for r in found] == [cases["noise"].number]
    assert found[0]["units"] == ["市生态环境局"] and found[0]["overdue"] is False
    number = cases["water"].number
    assert [r["number"] for r in op.get(f"/api/cases?q={number.lower()}")] == [number]
    assert [r["number"] for r in op.get("/api/cases?status=at_unit&type=complaint")] == [
        cases["water"].number,
        cases["noise"].number,
    ]


def test_a_wrong_filter_is_a_422_naming_it(
    people: dict[str, Actor], cases: dict[str, Case]
) -> None:
    answer = people["op1"].fetch("/api/cases", params={"from": "2026-02-30", "status": "lost"})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("query", "from"), ("query", "status")}
    assert all(d["msg"].isascii() for d in detail)
    assert people["op1"].fetch("/api/calls", params={"limit": "0"}).status_code == 422
    assert people["aud1"].fetch("/api/audit", params={"role": "boss"}).status_code == 422


def test_who_may_search_what(people: dict[str, Actor], cases: dict[str, Case]) -> None:
    assert people["aud1"].fetch("/api/cases").status_code == 403
    assert people["op1"].fetch("/api/audit").status_code == 403
    assert people["h_env"].fetch("/api/cases").status_code == 403  # a handler of no unit
    assert people["aud1"].fetch("/api/audit").status_code == 200
    assert people["admin1"].fetch("/api/calls").status_code == 200


def test_a_unit_handler_searches_only_the_unit_s_cases_masked(
    people: dict[str, Actor], cases: dict[str, Case]
) -> None:
    handler = Actor(people["op1"].client.app, "h_search")
    rows = handler.get("/api/cases")
    assert [r["number"] for r in rows] == [cases["noise"].number]
    assert "赵敏" not in str(rows) and rows[0]["complainant_phone"] == ""
    assert handler.get("/api/cases?q=赵敏") == []
    assert handler.get("/api/cases?q=13600001111") == []
    assert handler.get("/api/cases?q=停水") == []  # the other unit's
    assert handler.fetch("/api/cases", params={"operator": "op1"}).status_code == 422
    page = handler.fetch("/cases", params={"q": "噪音"})
    assert page.status_code == 200
    assert f'href="/unit/cases/{cases["noise"].id}"' in page.text
    assert "赵敏" not in page.text and "13600001111" not in page.text
    handler.client.close()


def test_the_case_list_page_keeps_its_filters_in_the_url(
    people: dict[str, Actor], cases: dict[str, Case]
) -> None:
    op = people["op1"]
    page = op.fetch("/cases", params={"q": "噪音", "status": "at_unit", "limit": "1"})
    assert page.status_code == 200
    text = page.text
    assert 'value="噪音"' in text and '<option value="at_unit" selected>' in text
    assert "<mark>噪音</mark>" in text
    assert "共 1 件案件" in text
    assert f'href="/cases/{cases["noise"].id}"' in text
    empty = op.fetch("/cases", params={"q": "下水道"})
    assert "没有找到与“下水道”相关的案件" in empty.text
    wrong = op.fetch("/cases", params={"from": "昨天"})
    assert wrong.status_code == 422
    assert "日期格式应为 年-月-日" in wrong.text and 'id="from-error"' in wrong.text
    longer = op.fetch("/cases", params={"limit": "1", "q": "和平路"})
    pager = re.search(r'<nav class="pager".*?</nav>', longer.text, re.S)
    assert pager is not None and "q=%E5%92%8C%E5%B9%B3%E8%B7%AF" in pager.group()
    assert "page=2" in pager.group() and "下一页" in pager.group()


def test_the_call_list_finds_words_the_operator_may_read(
    people: dict[str, Actor], sessions: sessionmaker[Session]
) -> None:
    at = recently()
    mine = add_call(sessions, "13800000001", at, "我家楼下工地夜间施工噪音", operator="1001")
    theirs = add_call(sessions, "13800000002", at, "我家楼下工地夜间施工噪音", operator="1002")
    found = people["op1"].get("/api/calls?q=夜间施工")
    assert [c["id"] for c in found] == [mine]
    assert [c["id"] for c in people["op2"].get("/api/calls?q=夜间施工")] == [theirs]
    page = people["op1"].fetch("/calls", params={"q": "夜间施工"})
    assert page.status_code == 200 and "<mark>夜间施工</mark>" in page.text
    assert f'data-call-id="{mine}"' in page.text and theirs not in page.text
    assert "共 1 通来电" in page.text
    nothing = people["op1"].fetch("/calls", params={"q": "燃气"}).text
    assert "没有找到与“燃气”相关的来电" in nothing and "您有权查看的来电" in nothing


def test_the_audit_page_searches_the_log(
    people: dict[str, Actor], sessions: sessionmaker[Session]
) -> None:
    add_call(sessions, "13800000001", recently(), "我家楼下工地夜间施工噪音", operator="1001")
    people["op1"].fetch("/calls", params={"q": "施工"})  # the transcript shown: logged
    log = people["aud1"].get("/api/audit?actor=op1")
    assert [(e["action"], e["byte_range"]) for e in log] == [("transcript", "calls list")]
    page = people["aud1"].fetch("/audit", params={"role": "话务员"})
    assert page.status_code == 200 and "调听日志哈希链完整" in page.text
    assert "来电记录列表" in page.text and "共 1 条记录" in page.text
    assert "没有符合条件的记录" in people["aud1"].fetch("/audit", params={"actor": "nobody"}).text
