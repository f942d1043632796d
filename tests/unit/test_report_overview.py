"""统计总览 assembled from hand-built rows with known answers: the figures with 环比 and 同比,
the links every figure cell carries, the breakdowns (a case returned by one unit and closed by
another), the trend by day and by month, and the one way to get a figure again
(``overview.compute``) giving exactly the cells' numbers."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from dataclasses import dataclass

from openpyxl import load_workbook

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators import periods
from dispatch.indicators.figures import Change
from dispatch.indicators.rows import (
    AssignmentRow,
    CallbackAttemptRow,
    CallbackRow,
    CallRow,
    CaseFile,
    DeadlineRow,
    FeedbackRow,
)
from dispatch.reports import overview, xlsx
from dispatch.reports.overview import Basis, Names, Ref, Subset
from dispatch.reports.tables import Report, Table
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev

A = Action
S = dt.timedelta(seconds=1)
CAL = WorkingCalendar(warn_unknown_years=False)
NOVEMBER = periods.month(2025, 11, BEIJING)
OCTOBER = periods.month(2025, 10, BEIJING)
NOVEMBER_2024 = periods.month(2024, 11, BEIJING)
AS_OF = at(2025, 12, 3, 10)
BASIS = Basis(AS_OF, CAL)
_CLOCK_IDS = itertools.count(1)
NAMES = Names({"U1": "住建局", "U2": "城管局", "U3": "教育局"}, {"op1": "话务员甲"})


def call(call_id: str, queued: dt.datetime, wait: int | None, operator: str = "op1") -> CallRow:
    """A queued call answered after ``wait`` seconds (``None``: the caller gave up)."""
    return CallRow(
        id=call_id,
        started_at=queued - 10 * S,
        caller_number=f"1380000{call_id[-4:]}",
        queued_at=queued,
        answered_at=None if wait is None else queued + wait * S,
        ended_at=queued + 200 * S,
        outcome="answered" if wait is not None else "abandoned",
        operator=operator if wait is not None else None,
    )


def lead(
    row_id: str, unit: str, when: dt.datetime, returned: dt.datetime | None = None
) -> AssignmentRow:
    return AssignmentRow(
        row_id, unit, "lead", "transfer", when, active=returned is None, returned_at=returned
    )


def handled(
    case_id: str,
    unit: str,
    accepted: dt.datetime,
    closed: dt.datetime | None,
    due: dt.date,
    rating: str = "",
    **fields: str,
) -> CaseFile:
    """Accepted, dispatched to ``unit`` an hour later, closed (and its handling clock met)
    at ``closed``; rated ``rating`` when closed."""
    events = [ev(A.ACCEPT, accepted), ev(A.DISPATCH, accepted + dt.timedelta(hours=1))]
    if closed is not None:
        events.append(ev(A.CLOSE, closed))
    return case_file(
        case_id,
        accepted,
        events,
        assignments=[lead(f"{case_id}-a", unit, accepted + dt.timedelta(hours=1))],
        deadlines=[
            DeadlineRow(
                next(_CLOCK_IDS),
                Stage.HANDLING.value,
                accepted.astimezone(BEIJING).date(),
                due,
                unit,
                met_at=closed,
            )
        ],
        feedback=[FeedbackRow(1, closed, "phone", rating)] if closed and rating else [],
        **fields,
    )


@dataclass(frozen=True)
class Rows:
    calls: tuple[CallRow, ...] = ()
    callbacks: tuple[CallbackRow, ...] = ()
    files: tuple[CaseFile, ...] = ()


# November 2025: four queued calls, three answered (one after 20 s); a missed call called
# back. October: two, both answered in time. November 2024: one, answered.
NOVEMBER_CALLS = (
    call("n001", at(2025, 11, 3, 9), 5),
    call("n002", at(2025, 11, 3, 10), 20),
    call("n003", at(2025, 11, 4, 9), 8, operator="op2"),
    call("n004", at(2025, 11, 20, 9), None),
)
CALLBACKS = (
    CallbackRow(
        "cb1",
        "n004",
        at(2025, 11, 20, 9, 1),
        "done",
        (CallbackAttemptRow(at(2025, 11, 20, 9, 31), "reached"),),
    ),
)
OCTOBER_CALLS = (call("o001", at(2025, 10, 9, 9), 3), call("o002", at(2025, 10, 9, 10), 4))
LAST_YEAR_CALLS = (call("y001", at(2024, 11, 5, 9), 3),)

# Cases of November 2025: k1 and k2 closed on time by U1 (rated 满意, 不满意); k3 returned by
# U2 and closed by U1; k4 open at U2 past its due date (late); k5 answered on the spot.
K3 = case_file(
    "k3",
    at(2025, 11, 5, 9),
    [
        ev(A.ACCEPT, at(2025, 11, 5, 9)),
        ev(A.DISPATCH, at(2025, 11, 5, 10)),
        ev(A.UNIT_RETURN, at(2025, 11, 5, 15)),
        ev(A.DISPATCH, at(2025, 11, 6, 9)),
        ev(A.CLOSE, at(2025, 11, 7, 9)),
    ],
    category="供水",
    assignments=[
        lead("k3-a", "U2", at(2025, 11, 5, 10), returned=at(2025, 11, 5, 15)),
        lead("k3-b", "U1", at(2025, 11, 6, 9)),
    ],
)
NOVEMBER_FILES = (
    handled(
        "k1",
        "U1",
        at(2025, 11, 3, 9),
        at(2025, 11, 4, 9),
        dt.date(2025, 11, 6),
        "satisfied",
        category="供水",
    ),
    handled(
        "k2",
        "U1",
        at(2025, 11, 3, 11),
        at(2025, 11, 5, 9),
        dt.date(2025, 11, 6),
        "dissatisfied",
        category="道路",
    ),
    K3,
    handled("k4", "U2", at(2025, 11, 10, 9), None, dt.date(2025, 11, 13), category="供水"),
    case_file(
        "k5",
        at(2025, 11, 20, 9),
        [ev(A.ANSWER_ON_SPOT, at(2025, 11, 20, 9, 5))],
        channel="web",
        case_type="consultation",
    ),
)
OCTOBER_FILES = (
    handled(
        "o1", "U1", at(2025, 10, 9, 9), at(2025, 10, 10, 9), dt.date(2025, 10, 13), "very_satisfied"
    ),
)
CURRENT = Rows(NOVEMBER_CALLS, CALLBACKS, NOVEMBER_FILES)
PREVIOUS = Rows(OCTOBER_CALLS, (), OCTOBER_FILES)
LAST_YEAR = Rows(LAST_YEAR_CALLS, (), ())


def link(ref: Ref) -> str:
    return f"/drill?key={ref.key}&first={ref.period.first}&dim={ref.dimension}&group={ref.group}"


def build() -> Report:
    return overview.build(CURRENT, PREVIOUS, LAST_YEAR, NOVEMBER, BASIS, NAMES, link)


def row(table: Table, name: str) -> list[str]:
    for cells in table.rows:
        if cells[0].text == name:
            return [cell.text for cell in cells]
    raise AssertionError(f"no row {name!r} in {table.key}: {[r[0].text for r in table.rows]}")


def test_the_calls_figures_with_month_on_month_and_year_on_year() -> None:
    calls = build().table("calls")
    assert calls.columns == ("指标", "本期", "上期", "环比", "去年同期", "同比")
    assert row(calls, "来电量") == ["来电量", "4", "2", "+100.0%", "1", "+300.0%"]
    # 3 of 4 answered; October 2 of 2: 25 points down.
    assert row(calls, "人工接通率") == ["人工接通率", "75.0%", "100.0%", "-25.0个百分点",
                                        "100.0%", "-25.0个百分点"]  # fmt: skip
    assert row(calls, "15秒接通率")[1] == "50.0%"
    assert row(calls, "放弃率")[1:3] == ["25.0%", "0.0%"]
    assert row(calls, "平均等待时长")[1] == f"{(5 + 20 + 8) / 3:.1f}秒"
    assert row(calls, "漏接回拨完成率")[1:4] == ["100.0%", "—", "—"]  # none in October
    assert row(calls, "平均回拨用时")[1] == "1800.0秒"
    assert any("最低的连续24小时" in note for note in calls.notes)
    assert any(note.startswith("人工接通率：人工接通率 =") for note in calls.notes)


def test_the_case_figures() -> None:
    cases = build().table("cases")
    assert row(cases, "受理量")[1:3] == ["5", "1"]
    assert row(cases, "直接办结率")[1] == "20.0%"
    assert row(cases, "交办量")[1] == "4"  # k1, k2, k3 (twice: counted once), k4
    assert row(cases, "退回率")[1] == "20.0%"  # 1 of 5 dispatches
    assert row(cases, "改派量")[1] == "1"
    assert row(cases, "办结量")[1] == "4"  # k1, k2, k3, k5
    assert row(cases, "办结率")[1] == "80.0%"
    # Clocks due in November: k1, k2 met in time; k4 late (due 13 November, unmet).
    assert row(cases, "按时办结率")[1] == "66.7%"
    assert row(cases, "超期量")[1] == "1"
    feedback = build().table("feedback")
    assert row(feedback, "满意率")[1:4] == ["50.0%", "100.0%", "-50.0个百分点"]
    assert row(feedback, "满意占比")[1] == "50.0%"
    assert row(feedback, "不满意占比")[1] == "50.0%"
    assert row(feedback, "非常满意占比")[1:3] == ["0.0%", "100.0%"]


def test_every_figure_cell_links_to_its_own_figure_and_carries_its_formula() -> None:
    report = build()
    cells = report.table("calls").rows[0]
    assert cells[1].href == f"/drill?key=calls.volume&first={NOVEMBER.first}&dim=&group="
    assert cells[2].href == f"/drill?key=calls.volume&first={OCTOBER.first}&dim=&group="
    assert cells[4].href == f"/drill?key=calls.volume&first={NOVEMBER_2024.first}&dim=&group="
    assert cells[1].title.startswith("来电量＝")
    assert cells[3].href == ""  # a change is no figure
    for table in report.tables:
        for line in table.rows:
            for cell in line[1:]:
                assert cell.href or cell.text == "—" or not cell.title, (table.key, cell)


def test_a_figure_again_is_the_cells_figure_with_its_ids() -> None:
    """The drill-down's figure: the same number as the page, and the ids behind it."""
    closed = overview.compute("cases.closed", CURRENT, NOVEMBER, BASIS)
    assert closed.ids == ("k1", "k2", "k3", "k5")
    on_time = overview.compute("cases.on_time_rate", CURRENT, NOVEMBER, BASIS)
    assert (on_time.ids, on_time.base_ids) == (("k1", "k2"), ("k1", "k2", "k4"))
    u1 = overview.compute("cases.closed", CURRENT, NOVEMBER, BASIS, "lead_unit", "U1")
    assert u1.ids == ("k1", "k2", "k3")
    u2_returns = overview.compute("cases.return_rate", CURRENT, NOVEMBER, BASIS, "lead_unit", "U2")
    assert (u2_returns.ids, u2_returns.value) == (("k3",), 0.5)
    answered = overview.compute("calls.volume", CURRENT, NOVEMBER, BASIS, "answered_by", "op1")
    assert answered.ids == ("n001", "n002")
    assert overview.compute("cases.closed", CURRENT, NOVEMBER, BASIS, "lead_unit", "U9").ids == ()


def test_breakdowns_count_each_row_for_the_unit_it_names() -> None:
    report = build()
    units = report.table("by_unit")
    assert units.columns[0] == "主办单位"
    assert [r[0].text for r in units.rows] == ["住建局", "城管局"]  # by 交办量
    assert row(units, "住建局")[1:6] == ["3", "3", "100.0%", "100.0%", "0"]
    assert row(units, "城管局")[1:7] == ["2", "0", "0.0%", "0.0%", "1", "50.0%"]
    assert units.rows[0][2].href.endswith("&dim=lead_unit&group=U1")
    categories = report.table("by_category")
    assert [r[0].text for r in categories.rows] == ["供水", "未分类", "道路"]  # by 受理量
    assert row(categories, "供水")[1] == "3"
    channels = report.table("by_channel")
    assert row(channels, "网络")[1:3] == ["1", "1"]
    operators = report.table("calls_by_operator")
    assert [r[0].text for r in operators.rows] == ["话务员甲", "op2"]
    assert row(operators, "话务员甲")[1:3] == ["2", "12.5秒"]


def test_the_trend_by_day_counts_each_act_on_its_day() -> None:
    trend = build().table("trend")
    assert trend.title == "每日趋势" and len(trend.rows) == 30
    assert row(trend, "2025-11-03")[1:] == ["2", "2", "2", "0"]
    assert row(trend, "2025-11-04")[1:] == ["1", "0", "0", "1"]  # k1 closed
    assert row(trend, "2025-11-07")[1:] == ["0", "0", "0", "1"]  # k3 closed
    assert row(trend, "2025-11-20")[1:] == ["1", "1", "1", "1"]  # k5 on the spot
    totals = [sum(float(r[i].text) for r in trend.rows) for i in range(1, 5)]
    assert totals == [4, 5, 5, 4]  # the month's 来电量, 登记量, 受理量, 办结量
    assert trend.rows[0][1].href == "/drill?key=calls.volume&first=2025-11-01&dim=&group="


def test_a_long_period_trends_by_month_and_a_custom_one_keeps_its_ends() -> None:
    span = periods.custom(dt.date(2025, 9, 15), dt.date(2025, 11, 30), BEIJING)
    points = overview.trend_periods(span)
    assert [(p.first, p.last) for p in points] == [
        (dt.date(2025, 9, 15), dt.date(2025, 9, 30)),
        (dt.date(2025, 10, 1), dt.date(2025, 10, 31)),
        (dt.date(2025, 11, 1), dt.date(2025, 11, 30)),
    ]
    both = Rows(OCTOBER_CALLS + NOVEMBER_CALLS, CALLBACKS, OCTOBER_FILES + NOVEMBER_FILES)
    trend = overview.build(both, Rows(), Rows(), span, BASIS, NAMES).table("trend")
    assert trend.title == "每月趋势"
    assert [r[0].text for r in trend.rows] == ["2025-09-15至2025-09-30", "2025-10", "2025-11"]
    assert [r[1].text for r in trend.rows] == ["0", "2", "4"]


def test_changes_and_missing_values() -> None:
    empty = overview.compute("feedback.satisfaction_rate", Rows(), NOVEMBER, BASIS)
    some = overview.compute("feedback.satisfaction_rate", CURRENT, NOVEMBER, BASIS)
    assert overview.change_cell(Change(some, empty)).text == "—"
    none = overview.compute("calls.volume", Rows(), OCTOBER, BASIS)
    four = overview.compute("calls.volume", CURRENT, NOVEMBER, BASIS)
    assert overview.change_cell(Change(four, none)).text == "—"  # growth from 0: none
    assert overview.change_cell(Change(none, four)).text == "-100.0%"
    report = overview.build(Rows(), Rows(), Rows(), NOVEMBER, BASIS, NAMES)
    assert row(report.table("feedback"), "满意率")[1:] == ["—"] * 5
    assert report.table("by_unit").rows == ()
    assert any(
        "最低的连续24小时" not in n and "没有可计算" in n for n in report.table("calls").notes
    )


def test_the_petition_profile_counts_days_by_the_profile() -> None:
    working = Basis(AS_OF, CAL, DayUnit.WORKING)
    calendar_days = row(build().table("petitions"), "平均办理用时")
    working_days = row(
        overview.build(CURRENT, PREVIOUS, LAST_YEAR, NOVEMBER, working, NAMES).table("petitions"),
        "平均办理用时",
    )
    # k1: 3 → 4 November, k2: 3 → 5, k3: 5 → 7 (calendar and working days alike here).
    assert calendar_days[1] == f"{(1 + 2 + 2) / 3:.1f}天"
    assert working_days[1] == f"{(1 + 2 + 2) / 3:.1f}个工作日"


def test_the_report_writes_to_a_workbook_with_the_same_numbers() -> None:
    report = build()
    book = load_workbook(io.BytesIO(xlsx.workbook(report)))
    assert len(book.sheetnames) == len(report.tables)
    sheet = book[book.sheetnames[0]]
    assert [c.value for c in sheet[3]][:3] == ["来电量", 4, 2]
    assert sheet.cell(4, 2).value == 0.75  # 人工接通率 as a fraction shown as 75.0%


def test_periods_of_the_report_are_named() -> None:
    report = build()
    assert report.title == "统计总览" and report.period == "2025年11月"
    assert report.notes[0].startswith("统计期：2025年11月；上期（环比）：2025年10月；去年同期")
    assert Subset((), (), ()).files == ()
