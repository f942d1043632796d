"""A report's tables: the JSON a bulletin stores gives the same report back, a row with the
wrong number of cells is refused, and the .xlsx export holds one sheet per table with the
Chinese headers and the figures as numbers (rates as fractions shown as percentages)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from dispatch.indicators.figures import Definition, Figure, Measure, Subject
from dispatch.reports import xlsx
from dispatch.reports.tables import Report, Table, figure, from_json, number, text, to_json

RATE = Definition("on_time", "按时办结率", "按时办结量 ÷ 应办结量", Measure.RATE, Subject.CASE, "x")


def report() -> Report:
    on_time = Figure(RATE, 0.75, 3, 4, ("a", "b", "c"), ("a", "b", "c", "d"))
    none = Figure(RATE, None, 0, 0, ())
    units = Table(
        "units",
        "部门办理情况",
        ("单位", "受理量", "按时办结率"),
        (
            (text("市住建局"), number(4), figure(on_time, "/reports/cases?key=on_time")),
            (text("市水务局"), number(0), figure(none)),
        ),
        ("按时办结率＝按时办结量 ÷ 应办结量",),
    )
    # A title with characters Excel refuses in a sheet name, longer than 31 characters.
    long = Table("long", "分类/类别:统计[全部]" + "很长" * 20, ("分类",), ((text("噪声"),),))
    return Report("月度通报", "2037年10月", (units, long), ("数据截至2037年11月1日",))


def test_the_json_a_bulletin_stores_gives_the_same_report_back() -> None:
    assert from_json(to_json(report())) == report()


def test_a_row_must_have_a_cell_for_every_column() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table("t", "表", ("a", "b", "c"), ((text("x"), text("y")),))


def test_a_figures_cell_keeps_its_value_formula_and_link() -> None:
    cell = report().table("units").rows[0][2]
    assert (cell.text, cell.value, cell.percent) == ("75.0%", 0.75, True)
    assert cell.title == "按时办结率＝按时办结量 ÷ 应办结量"
    assert cell.href == "/reports/cases?key=on_time"
    with pytest.raises(KeyError):
        report().table("missing")


def test_the_workbook_has_a_sheet_per_table_with_numbers_as_numbers() -> None:
    book = load_workbook(io.BytesIO(xlsx.workbook(report())))
    assert len(book.sheetnames) == 2
    assert book.sheetnames[0] == "部门办理情况"
    second = book.sheetnames[1]
    assert len(second) <= 31 and not set("[]:*?/\\") & set(second)
    sheet = book["部门办理情况"]
    assert sheet["A1"].value == "月度通报（2037年10月）：部门办理情况"
    assert [c.value for c in sheet[2]] == ["单位", "受理量", "按时办结率"]
    assert [c.value for c in sheet[3]] == ["市住建局", 4, 0.75]
    assert sheet["C3"].number_format == "0.0%"
    assert [c.value for c in sheet[4]] == ["市水务局", 0, "—"]
    notes = [row[0].value for row in sheet.iter_rows(min_row=5) if row[0].value]
    assert notes == ["按时办结率＝按时办结量 ÷ 应办结量", "数据截至2037年11月1日"]


def test_sheet_names_stay_unique_when_titles_repeat() -> None:
    taken: set[str] = set()
    names = [xlsx.sheet_name("同一个标题" * 10, taken) for _ in range(3)]
    assert len(set(names)) == 3 and all(len(n) <= 31 for n in names)


def test_an_empty_report_is_still_a_workbook() -> None:
    book = load_workbook(io.BytesIO(xlsx.workbook(Report("日报", "2037年10月1日", ()))))
    assert book.sheetnames == ["无数据"]
