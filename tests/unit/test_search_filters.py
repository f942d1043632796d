"""A list's filters read from its query string: local dates as UTC instants, statuses and
their groups, choices checked, English and Chinese messages for each wrong field."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from custody import audit_search, call_search
from dispatch.cases.lifecycle import AT_UNIT
from dispatch.search import filters
from dispatch.search.filters import BadFilters

ZONE = ZoneInfo("Asia/Shanghai")


def test_no_parameters_no_filters_first_page() -> None:
    found, paging = filters.case_filters({}, ZONE)
    assert found == filters.CaseFilters()
    assert (paging.page, paging.limit, paging.offset) == (1, filters.DEFAULT_LIMIT, 0)


def test_the_period_is_whole_local_days() -> None:
    found, _ = filters.case_filters({"from": "2026-11-01", "to": "2026-11-30"}, ZONE)
    assert found.period.start == dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC)
    assert found.period.end == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)


def test_a_status_group_is_its_statuses() -> None:
    found, _ = filters.case_filters({"status": "at_unit"}, ZONE)
    assert found.statuses == {s.value for s in AT_UNIT}
    single, _ = filters.case_filters({"status": "closed"}, ZONE)
    assert single.statuses == {"closed"}


def test_every_filter_is_read() -> None:
    unit = "a" * 32
    found, paging = filters.case_filters(
        {
            "q": "  小区 噪音 ",
            "unit": unit,
            "category": "城乡建设",
            "type": "complaint",
            "channel": "phone",
            "phone": "13800138000",
            "operator": "op1",
            "overdue": "1",
            "sort": "oldest",
            "page": "3",
            "limit": "20",
        },
        ZONE,
    )
    assert found.query.terms == ("小区", "噪音")
    assert (found.unit_id, found.category, found.case_type, found.channel) == (
        unit,
        "城乡建设",
        "complaint",
        "phone",
    )
    assert "13800138000" in found.phone_forms and found.operator == "op1"
    assert found.overdue and found.sort == "oldest"
    assert (paging.page, paging.limit, paging.offset) == (3, 20, 40)


def test_wrong_filters_are_named_in_english_and_chinese() -> None:
    with pytest.raises(BadFilters) as refused:
        filters.case_filters(
            {
                "from": "2026-13-01",
                "status": "lost",
                "unit": "../etc",
                "type": "rumour",
                "phone": "12",
                "overdue": "maybe",
                "page": "0",
                "limit": "100000",
                "q": "字" * 300,
            },
            ZONE,
        )
    problems = refused.value.problems
    assert set(problems) == {
        "from",
        "status",
        "unit",
        "type",
        "phone",
        "overdue",
        "page",
        "limit",
        "q",
    }
    assert problems["from"].zh == "日期格式应为 年-月-日" and "YYYY-MM-DD" in problems["from"].en
    assert "电话" in problems["phone"].zh
    assert "from 1 to" in problems["page"].en


def test_the_period_must_not_end_before_it_begins() -> None:
    with pytest.raises(BadFilters) as refused:
        filters.case_filters({"from": "2026-11-02", "to": "2026-11-01"}, ZONE)
    assert refused.value.problems["to"].zh == "结束日期不能早于开始日期"
    with pytest.raises(BadFilters):
        filters.case_filters({"from": "0001-01-01"}, ZONE)  # no overflow at the edges


def test_call_filters() -> None:
    found, paging = call_search.call_filters(
        {"q": "噪音", "status": "up", "phone": "021-62345678", "operator": "op1"}, ZONE
    )
    assert found.query.terms == ("噪音",) and found.statuses == {"up"}
    assert "02162345678" in found.phone_forms and found.operator == "op1"
    assert paging.limit == filters.DEFAULT_LIMIT
    with pytest.raises(BadFilters) as refused:
        call_search.call_filters({"status": "registered"}, ZONE)
    assert set(refused.value.problems) == {"status"}


def test_audit_filters_take_a_role_by_its_code_or_its_chinese_name() -> None:
    by_code, paging = audit_search.audit_filters({"role": "supervisor"}, ZONE)
    by_name, _ = audit_search.audit_filters({"role": "督查员"}, ZONE)
    assert by_code.role == by_name.role == "supervisor"
    assert paging.limit == 100
    found, _ = audit_search.audit_filters({"case": "ts 2026 1121 0001", "action": "play"}, ZONE)
    assert "TS202611210001" in found.case_keys and found.action == "play"
    with pytest.raises(BadFilters) as refused:
        audit_search.audit_filters(
            {"role": "boss", "action": "DROP TABLE", "status": "ok", "case": "小区"}, ZONE
        )
    assert set(refused.value.problems) == {"role", "action", "status", "case"}
