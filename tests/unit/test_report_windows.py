"""红旗窗口's report (dispatch.reports.windows.report) from a hand-built year: each window's
standing with the counts linked to the cases behind them, the explanations owed and
received, every complaint with its finding; and the years the page accepts."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.cases.registration import Invalid
from dispatch.indicators import red_flag
from dispatch.reports import windows
from dispatch.reports.window_explanations import Explanation
from tests.unit.test_indicators_red_flag import COMPLAINTS
from tests.unit.test_indicators_support import BEIJING, at

AS_OF = at(2025, 12, 31, 18)


def year_of(received: dict[str, Explanation] | None = None) -> windows.WindowsYear:
    standings = red_flag.standings(COMPLAINTS, 2025, BEIJING, ["W0", "W1", "W2", "W3", "W4"])
    by_id = {f.id: f for f in COMPLAINTS}
    complaints = {}
    made = []
    for s in standings:
        for case_id in (*s.substantiated, *s.unsubstantiated, *s.pending):
            case = by_id[case_id].case
            complaints[case_id] = windows.Complaint(
                case_id,
                case.number,
                case.received_at,
                f"{case_id}的标题",
                "",
                s.window_id,
                red_flag.finding(by_id[case_id]),
                case_id in s.substantiated,
            )
        made.append(
            windows.Window(s, f"窗口{s.window_id}", "window", (), (received or {}).get(s.window_id))
        )
    return windows.WindowsYear(2025, AS_OF, BEIJING, tuple(made), complaints)


def links(ids: object) -> str:
    return "ids:" + ",".join(ids)  # type: ignore[arg-type]


def test_the_report_shows_each_window_with_the_cases_behind_its_counts() -> None:
    report = windows.report(year_of(), lambda i: f"case:{i}", links)
    table = report.table("windows")
    rows = {row[0].text: row for row in table.rows}
    w3, w4, w0 = rows["窗口W3"], rows["窗口W4"], rows["窗口W0"]
    assert [c.text for c in w3[3:]] == [
        "3",
        "0",
        "0",
        "不得参评，须书面说明并提出整改措施",
        "待收到",
    ]
    assert w3[3].href == "ids:c1,c2,c3" and "红旗窗口评比资格" in w3[3].title
    assert [c.text for c in w4[3:]] == ["1", "1", "0", "可参评", "无须"]
    assert w4[4].href == "ids:d2"
    assert (w0[3].text, w0[3].href, w0[6].text) == ("0", "", "可参评")
    assert rows["窗口W2"][6].text == "不得参评"
    owing = report.table("explanations").rows
    assert [(r[0].text, r[1].text, r[2].text) for r in owing] == [("窗口W3", "3", "待收到")]
    details = report.table("complaints").rows
    assert [
        (r[0].text, r[1].text, r[5].text, r[6].text) for r in details if r[0].text == "窗口W4"
    ] == [
        ("窗口W4", "TS-d1", "属实", "计入"),
        ("窗口W4", "TS-d2", "不属实", "不计"),
    ]
    assert details[0][1].href.startswith("case:")
    assert report.period == "2025年" and report.notes == ("截至 2025-12-31 18:00",)


def test_a_received_explanation_shows_who_recorded_it_and_when() -> None:
    given = Explanation(
        1,
        "W3",
        2025,
        dt.date(2025, 12, 20),
        "李主任",
        "加强培训",
        "",
        "sup1",
        "张督查",
        at(2025, 12, 21, 10, 30),
    )
    report = windows.report(year_of({"W3": given}), lambda i: i, links)
    (row,) = report.table("explanations").rows
    assert [c.text for c in row] == [
        "窗口W3",
        "3",
        "2025-12-20",
        "李主任",
        "加强培训",
        "—",
        "张督查",
        "2025-12-21 10:30",
    ]
    standing = {r[0].text: r for r in report.table("windows").rows}["窗口W3"]
    assert standing[7].text == "已收到（2025-12-20）"


@pytest.mark.parametrize(("year", "ok"), [(1999, False), (2000, True), (2025, True), (2026, False)])
def test_the_years_the_page_shows(year: int, ok: bool) -> None:
    now = at(2025, 12, 31, 23, 59)  # still 2025 in Beijing, 2025-12-31 15:59 UTC
    if ok:
        assert windows.check_year(year, now, BEIJING) == year
    else:
        with pytest.raises(Invalid) as refused:
            windows.check_year(year, now, BEIJING)
        assert refused.value.errors["year"].zh == "年份须在2000年至2025年之间"
    assert windows.check_year(2026, at(2026, 1, 1, 0, 1), BEIJING) == 2026  # Beijing's new year
