"""部门办理排名 and 红黑榜 on hand-built units with known figures: the bands from the
thresholds, a unit with too few cases listed as 样本不足 (not ranked), a 红牌 keeping a unit
off the red list, the tables as the page and the .xlsx show them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators import periods
from dispatch.indicators.rows import (
    AssignmentRow,
    CaseFile,
    DeadlineRow,
    FeedbackRow,
    SupervisionRow,
)
from dispatch.reports import ranking
from dispatch.reports.overview import Basis, Ref, Subset
from dispatch.reports.ranking import Band, Thresholds
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev

A = Action
CAL = WorkingCalendar(warn_unknown_years=False)
NOVEMBER = periods.month(2025, 11, BEIJING)
BASIS = Basis(at(2025, 12, 3, 10), CAL)
THRESHOLDS = Thresholds(
    red_on_time=0.95, red_satisfaction=0.95, black_on_time=0.80, black_satisfaction=0.85
)
_ids = itertools.count(1)


def cases(unit: str, on_time: int, late: int, happy: int, unhappy: int) -> list[CaseFile]:
    """``on_time + late`` cases of ``unit`` due in November (closed on time, or never), the
    first ``happy + unhappy`` of them rated."""
    found = []
    ratings = ["satisfied"] * happy + ["dissatisfied"] * unhappy
    for index in range(max(on_time + late, happy + unhappy)):
        case_id = f"{unit}-{index}"
        accepted = at(2025, 11, 3, 9) + dt.timedelta(minutes=index)
        met = index < on_time
        closed = accepted + dt.timedelta(days=1)
        rated = ratings[index] if index < len(ratings) else ""
        found.append(
            case_file(
                case_id,
                accepted,
                [ev(A.ACCEPT, accepted), *([ev(A.CLOSE, closed)] if met or rated else [])],
                assignments=[AssignmentRow(f"{case_id}-a", unit, "lead", "transfer", accepted)],
                deadlines=[
                    DeadlineRow(
                        next(_ids),
                        Stage.HANDLING.value,
                        dt.date(2025, 11, 3),
                        dt.date(2025, 11, 6),
                        unit,
                        met_at=closed if met else None,
                    )
                ]
                if index < on_time + late
                else [],
                feedback=[FeedbackRow(next(_ids), closed, "phone", rated)] if rated else [],
            )
        )
    return found


def red_card(file: CaseFile) -> CaseFile:
    deadline = file.deadlines[0]
    card = SupervisionRow(
        next(_ids), deadline.id, "red", deadline.due_on, at(2025, 11, 20), deadline.unit_id
    )
    return dataclasses.replace(file, supervision=(card,))


UNITS = {
    "U1": "住建局",  # 10/10 on time, 10 of 10 satisfied: 优秀, 红榜
    "U2": "城管局",  # 9/10 on time (良好), 9 of 10 (良好): 良好
    "U3": "教育局",  # 8/10 (一般), 6 of 10 (较差): 较差, 黑榜
    "U4": "水务局",  # 2 cases: 样本不足
    "U5": "卫健委",  # nothing in the period: 样本不足
    "U6": "交通局",  # 优秀 figures but a 红牌: 良好
    "U7": "民政局",  # 10/10 on time, 3 ratings only: one measure judged, at most 良好
}
FILES = [
    *cases("U1", 10, 0, 10, 0),
    *cases("U2", 9, 1, 9, 1),
    *cases("U3", 8, 2, 6, 4),
    *cases("U4", 2, 0, 1, 0),
    red_card(cases("U6", 10, 0, 10, 0)[0]),
    *cases("U6", 10, 0, 10, 0)[1:],
    *cases("U7", 10, 0, 3, 0),
]


def graded() -> dict[str, ranking.Graded]:
    rows = Subset((), (), FILES)
    return {g.unit_id: g for g in ranking.assess(rows, NOVEMBER, BASIS, UNITS, THRESHOLDS)}


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (1.0, Band.EXCELLENT),
        (0.95, Band.EXCELLENT),
        (0.9499, Band.GOOD),
        (0.875, Band.GOOD),  # the midpoint of 80 % and 95 %
        (0.8749, Band.FAIR),
        (0.80, Band.FAIR),
        (0.7999, Band.POOR),
        (0.0, Band.POOR),
    ],
)
def test_a_measure_level_against_its_thresholds(value: float, band: Band) -> None:
    assert ranking.level(value, 0.95, 0.80) is band


def test_units_are_graded_in_bands_and_listed() -> None:
    found = graded()
    assert {unit: g.band_label for unit, g in found.items()} == {
        "U1": "优秀",
        "U2": "良好",
        "U3": "较差",
        "U4": "样本不足",
        "U5": "样本不足",
        "U6": "良好",
        "U7": "良好",
    }
    assert [u for u, g in found.items() if g.red_list] == ["U1"]
    assert [u for u, g in found.items() if g.black_list] == ["U3"]
    assert found["U3"].reasons == ("满意率 60.0% 低于 85%",)
    assert "红牌 1 次" in found["U6"].reasons[-1]
    assert "只有一项指标参与评定" in found["U7"].reasons[-1]
    assert "样本不足（2 件，少于 5 件" in found["U4"].reasons[0]
    assert found["U1"].figures["cases.on_time_rate"].text == "100.0%"


def test_the_order_is_by_band_then_on_time_then_satisfaction() -> None:
    rows = Subset((), (), FILES)
    order = [g.unit_id for g in ranking.assess(rows, NOVEMBER, BASIS, UNITS, THRESHOLDS)]
    # 良好: U6 and U7 at 100 % on time (U6 rated 100 %, U7 with 3 ratings 100 %: by name),
    # then U2 at 90 %.
    assert order[0] == "U1"
    assert order[1:4] == ["U6", "U7", "U2"] or order[1:4] == ["U7", "U6", "U2"]
    assert order[4] == "U3"
    assert set(order[5:]) == {"U4", "U5"}


def test_a_stricter_minimum_sample_leaves_more_units_unjudged() -> None:
    rows = Subset((), (), FILES)
    strict = Thresholds(min_sample=11)
    found = ranking.assess(rows, NOVEMBER, BASIS, UNITS, strict)
    assert {g.band_label for g in found} == {"样本不足"}
    with pytest.raises(ValueError, match="black-list threshold"):
        Thresholds(red_on_time=0.8, black_on_time=0.9)


def test_the_report_tables() -> None:
    rows = Subset((), (), FILES)
    links: list[Ref] = []

    def link(ref: Ref) -> str:
        links.append(ref)
        return f"/drill/{ref.key}/{ref.group}"

    report = ranking.report(
        ranking.assess(rows, NOVEMBER, BASIS, UNITS, THRESHOLDS), NOVEMBER, THRESHOLDS, link
    )
    assert [t.key for t in report.tables] == ["ranking", "red_list", "black_list", "too_few"]
    table = report.table("ranking")
    assert table.columns[:4] == ("等次", "单位", "交办量", "办结量")
    assert (table.rows[0][0].text, table.rows[0][1].text) == ("优秀", "住建局")
    assert len(table.rows) == 5
    assert [r[0].text for r in report.table("red_list").rows] == ["住建局"]
    assert [r[0].text for r in report.table("black_list").rows] == ["教育局"]
    assert [r[1].text for r in report.table("black_list").rows] == ["80.0%"]
    assert {r[0].text for r in report.table("too_few").rows} == {"水务局", "卫健委"}
    on_time = table.columns.index("按时办结率")
    assert table.rows[0][on_time].href == "/drill/cases.on_time_rate/U1"
    assert all(ref.dimension == "lead_unit" and ref.period == NOVEMBER for ref in links)
    assert any("红榜线 95%" in note for note in table.notes)
    assert table.rows[0][0].title  # the reasons on hover
