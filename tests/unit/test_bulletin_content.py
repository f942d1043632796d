"""Bulletins (通报): which are due at a moment (the last closed day, ISO week and month in
Beijing, whatever the UTC date), idempotence of the schedule, and a bulletin's tables on
hand-built rows with known answers: each unit's 受理数, 办结数, 按时办结率, 满意率 with
its 等次 and 红黑榜 as the 部门办理排名 grades them, 环比 and 同比, the categories and the
five levels, the links."""

from __future__ import annotations

import datetime as dt

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators import periods
from dispatch.indicators.periods import PeriodKind
from dispatch.indicators.rows import AssignmentRow, CaseFile, DeadlineRow, FeedbackRow
from dispatch.reports import bulletins
from dispatch.reports.bulletins import BLACK, RED
from dispatch.reports.overview import Basis, Ref
from dispatch.reports.ranking import Thresholds
from dispatch.reports.reader import Data as Rows
from dispatch.reports.tables import Report, Table
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev

A = Action
D = dt.date
LIMITS = Thresholds(
    red_satisfaction=0.95,
    red_on_time=0.95,
    black_satisfaction=0.85,
    black_on_time=0.80,
    min_sample=1,
)
CENTRE = "唐河县12345热线"


# -- the schedule --------------------------------------------------------------------------


def _keys(found: list[periods.Period]) -> list[tuple[str, D, D]]:
    return [bulletins.key_of(period) for period in found]


def test_just_before_midnight_in_beijing_the_day_is_not_yet_closed() -> None:
    # Monday 30 November 2026, 23:59:59 in Beijing.
    now = at(2026, 11, 30, 23, 59, 59)
    assert _keys(bulletins.last_closed(now, BEIJING)) == [
        ("day", D(2026, 11, 29), D(2026, 11, 29)),
        ("week", D(2026, 11, 23), D(2026, 11, 29)),
        ("month", D(2026, 10, 1), D(2026, 10, 31)),
    ]


def test_at_midnight_in_beijing_the_day_and_month_close_while_utc_is_still_in_november() -> None:
    now = at(2026, 12, 1, 0, 0, 0)
    assert now.month == 11 and now.hour == 16  # UTC: still 30 November
    assert _keys(bulletins.last_closed(now, BEIJING)) == [
        ("day", D(2026, 11, 30), D(2026, 11, 30)),
        ("week", D(2026, 11, 23), D(2026, 11, 29)),  # the week of 30 November runs on
        ("month", D(2026, 11, 1), D(2026, 11, 30)),
    ]


def test_the_week_closes_on_monday_at_midnight_across_the_new_year() -> None:
    now = at(2027, 1, 4, 0, 0, 1)  # Monday of ISO week 1 of 2027
    assert _keys(bulletins.last_closed(now, BEIJING)) == [
        ("day", D(2027, 1, 3), D(2027, 1, 3)),
        ("week", D(2026, 12, 28), D(2027, 1, 3)),  # ISO week 53 of 2026
        ("month", D(2026, 12, 1), D(2026, 12, 31)),
    ]
    week = bulletins.last_closed(now, BEIJING)[1]
    assert week.label == "2026年第53周（12月28日至1月3日）"


def test_what_is_missing_is_only_what_has_no_bulletin_and_nothing_when_all_are_made() -> None:
    now = at(2026, 12, 1, 8)
    due = bulletins.last_closed(now, BEIJING)
    assert bulletins.missing(now, BEIJING, set()) == due
    made = {bulletins.key_of(due[2])}  # the month's is made
    assert bulletins.missing(now, BEIJING, made) == due[:2]
    assert bulletins.missing(now, BEIJING, set(_keys(due))) == []
    # A bulletin of another kind with the same first day is not this one.
    other = {("custom", due[0].first, due[0].last)}
    assert bulletins.missing(now, BEIJING, other) == due


def test_a_supervisor_names_a_period_by_its_kind_and_a_day_in_it() -> None:
    quarter = bulletins.period_for(PeriodKind.QUARTER, D(2026, 8, 15), D(2026, 8, 15), BEIJING)
    assert (quarter.first, quarter.last) == (D(2026, 7, 1), D(2026, 9, 30))
    spell = bulletins.period_for(PeriodKind.CUSTOM, D(2026, 8, 3), D(2026, 8, 9), BEIJING)
    assert (spell.kind, spell.days) == (PeriodKind.CUSTOM, 7)
    assert bulletins.full_title("12345热线", periods.month(2026, 11, BEIJING)) == (
        "12345热线月度通报（2026年11月）"
    )


# -- a month's bulletin on hand-built rows -------------------------------------------------

NOVEMBER = periods.month(2026, 11, BEIJING)
_clock_ids = iter(range(1, 1000))


def handled(
    case_id: str,
    accepted: dt.datetime,
    unit: str,
    due: D,
    replied: dt.datetime | None,
    rating: str = "",
    category: str = "环境保护",
) -> CaseFile:
    """Accepted and dispatched to ``unit`` at once, its handling clock due ``due`` and met
    at ``replied``; closed and rated a day after the reply."""
    events = [ev(A.ACCEPT, accepted)]
    feedback = []
    if replied is not None:
        events.append(ev(A.CLOSE, replied + dt.timedelta(days=1)))
        if rating:
            feedback.append(FeedbackRow(1, replied + dt.timedelta(days=1), "phone", rating))
    return case_file(
        case_id,
        accepted,
        events,
        category=category,
        assignments=[
            AssignmentRow(f"{case_id}-a", unit, "lead", "transfer", accepted, signed_at=accepted)
        ],
        deadlines=[
            DeadlineRow(
                next(_clock_ids),
                Stage.HANDLING.value,
                accepted.astimezone(BEIJING).date(),
                due,
                unit,
                replied,
            )
        ],
        feedback=feedback,
    )


UNITS = {"u-env": "市生态环境局", "u-water": "市水务局", "u-idle": "市档案馆"}
NOVEMBER_FILES = (
    # 市生态环境局: one on time and 满意, one late and 不满意 → 50 %, 50 %: 黑榜.
    handled("c1", at(2026, 11, 2), "u-env", D(2026, 11, 5), at(2026, 11, 4), "satisfied"),
    handled("c2", at(2026, 11, 3), "u-env", D(2026, 11, 6), at(2026, 11, 9), "dissatisfied"),
    # 市水务局: two on time, 非常满意 and 基本满意 → 100 %, 100 %: 红榜.
    handled(
        "c3", at(2026, 11, 9), "u-water", D(2026, 11, 12), at(2026, 11, 12, 20), "very_satisfied",
        category="供水",
    ),
    handled(
        "c4", at(2026, 11, 10), "u-water", D(2026, 11, 13), at(2026, 11, 11),
        "basically_satisfied", category="供水",
    ),
    # Accepted on 30 November, still running at the end of the month: not yet due.
    handled("c5", at(2026, 11, 30, 10), "u-water", D(2026, 12, 3), None, category="供水"),
)  # fmt: skip
OCTOBER_FILES = (
    handled("o1", at(2026, 10, 12), "u-env", D(2026, 10, 15), at(2026, 10, 14), "satisfied"),
)


def rows(files: tuple[CaseFile, ...]) -> Rows:
    return Rows(calls=(), callbacks=(), files=files, units=UNITS, operators={}, unit_kinds={})


BASIS = Basis(at(2026, 12, 1, 1), WorkingCalendar(warn_unknown_years=False))


def november_bulletin() -> Report:
    given = {
        NOVEMBER: rows(NOVEMBER_FILES),
        periods.previous(NOVEMBER): rows(OCTOBER_FILES),
        periods.year_earlier(NOVEMBER): rows(()),
    }
    return bulletins.content(CENTRE, NOVEMBER, given, BASIS, LIMITS)


def texts(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row] for row in table.rows]


def test_the_title_and_the_units_in_seed_000s_words_graded_as_the_ranking_grades_them() -> None:
    report = november_bulletin()
    assert (report.title, report.period) == (f"{CENTRE}月度通报", "2026年11月")
    units = report.table("units")
    assert units.columns == (
        "单位", "等次", "受理数", "办结数", "按时办结率", "群众满意率", "红黑榜"
    )  # fmt: skip
    assert texts(units) == [
        ["市水务局", "优秀", "3", "2", "100.0%", "100.0%", RED],
        ["市生态环境局", "较差", "2", "2", "50.0%", "50.0%", BLACK],
        ["市档案馆", "样本不足", "0", "0", "—", "—", ""],  # a unit with nothing: not graded
    ]
    on_time = units.rows[1][4]
    assert on_time.value == 0.5 and on_time.percent
    assert on_time.title.startswith("按时办结率＝按时办结率 =")
    assert "低于 80%" in units.rows[1][1].title  # why 较差, on hover


def test_the_red_and_black_lists_are_the_rankings() -> None:
    report = november_bulletin()
    assert [row[0].text for row in report.table("red_list").rows] == ["市水务局"]
    assert [row[0].text for row in report.table("black_list").rows] == ["市生态环境局"]


def test_the_line_figures_with_month_on_month_and_year_on_year() -> None:
    line = {row[0].text: row for row in november_bulletin().table("line").rows}
    accepted = line["受理量"]
    assert [c.text for c in accepted[1:]] == ["5", "1", "+400.0%", "0", "—"]
    satisfied = line["满意率"]
    # November: 3 of 4 ratings satisfied (非常满意, 满意, 基本满意; one 不满意); October 1 of 1.
    assert [c.text for c in satisfied[1:]] == ["75.0%", "100.0%", "-25.0个百分点", "—", "—"]
    assert satisfied[3].value == -0.25 and satisfied[3].percent
    assert "来电量" in line and line["来电量"][1].text == "0"
    assert line["任意连续24小时最低接通率"][1].text == "—"  # no call asked for a person


def test_the_categories_and_the_five_levels() -> None:
    report = november_bulletin()
    assert texts(report.table("categories")) == [
        ["供水", "3", "60%", "0", "—"],
        ["环境保护", "2", "40%", "1", "+100.0%"],
    ]
    assert texts(report.table("ratings")) == [
        ["非常满意", "1", "25.0%"],
        ["满意", "1", "25.0%"],
        ["基本满意", "1", "25.0%"],
        ["不满意", "1", "25.0%"],
        ["非常不满意", "0", "0.0%"],
    ]


def test_links_name_the_figure_the_period_and_the_group() -> None:
    seen: list[Ref] = []

    def link(ref: Ref) -> str:
        seen.append(ref)
        return f"/reports/cases?figure={ref.key}&group={ref.group}"

    given = {
        p: rows(NOVEMBER_FILES if p == NOVEMBER else ()) for p in bulletins.comparisons(NOVEMBER)
    }
    report = bulletins.content(CENTRE, NOVEMBER, given, BASIS, LIMITS, link)
    water = report.table("units").rows[0]
    assert water[3].href == "/reports/cases?figure=cases.closed&group=u-water"
    assert Ref("cases.on_time_rate", NOVEMBER, "lead_unit", "u-env") in seen
    line = report.table("line").rows[0]
    assert line[2].href == "/reports/cases?figure=calls.volume&group="  # 上期 links too
    assert Ref("calls.volume", NOVEMBER) in seen
