"""The dashboard's SVG charts: well-formed SVG, bars scaled to their values and to 100 %,
the target line where the threshold is, values on hover, links to the cases behind a bar or
a point, labels escaped, and a plain sentence when there is nothing to draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from api import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_bars_are_scaled_and_linked_with_a_target_line() -> None:
    items = [
        charts.Bar("住建局", 1.0, "100.0%", "/reports/cases?figure=a&group=U1"),
        charts.Bar("城管局", 0.5, "50.0%"),
        charts.Bar("教育局", None, "—"),
    ]
    svg = parse(
        charts.bars(items, "各单位按时办结率", percent=True, target=0.95, target_label="红榜线")
    )
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    rects = svg.findall(f".//{SVG}rect")
    widths = [float(r.get("width", "0")) for r in rects]
    span = charts.BARS_WIDTH - 110 - 56 - 10
    assert widths == pytest.approx([span, span / 2, 0])
    links = svg.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == ["/reports/cases?figure=a&group=U1"]
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "住建局：100.0%" in titles and "教育局：—" in titles
    target = svg.find(f".//{SVG}g[@class='target']/{SVG}line")
    assert target is not None
    assert float(target.get("x1", "0")) == pytest.approx(110 + 0.95 * span)


def test_counts_scale_to_the_largest_and_labels_are_escaped() -> None:
    items = [charts.Bar("<b>供水</b>", 8, "8"), charts.Bar("一个非常非常长的类别名称啊", 2, "2")]
    markup = str(charts.bars(items, "类别", css="counts"))
    assert "<b>" not in markup and "&lt;b&gt;" in markup
    svg = parse(markup)
    widths = [float(r.get("width", "0")) for r in svg.findall(f".//{SVG}rect")]
    assert widths[0] == pytest.approx(4 * widths[1])
    labels = [t.text for t in svg.findall(f".//{SVG}text[@class='label']")]
    assert labels[1] == "一个非常非常长…"  # clipped, the whole on hover
    assert "counts" in (svg.get("class") or "")


def test_nothing_to_draw_is_said_in_words() -> None:
    assert (
        str(charts.bars([], "各单位满意率")) == '<p class="chart-empty">各单位满意率：暂无数据</p>'
    )
    assert "暂无数据" in str(charts.line([], [], "趋势"))


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (12, 20), (49, 50), (51, 100)]
)
def test_the_axis_top_is_a_round_number(value: float, top: float) -> None:
    assert charts.nice_top(value) == pytest.approx(top)


def test_lines_have_a_point_per_value_with_its_link() -> None:
    labels = ["2026-11-01", "2026-11-02", "2026-11-03"]
    series = [
        charts.Series("来电量", [4, 0, 10], "series-1", ["/a", "", "/c"]),
        charts.Series("受理量", [1, None, 2], "series-2"),
    ]
    svg = parse(charts.line(labels, series, "每日趋势"))
    dots = svg.findall(f".//{SVG}circle")
    assert len(dots) == 5
    lines = svg.findall(f".//{SVG}polyline")
    assert len(lines) == 2 and len(lines[1].get("points", "").split()) == 2
    assert [a.get("href") for a in svg.findall(f"{SVG}a")] == ["/a", "/c"]
    hover = [t.text for t in svg.iter(f"{SVG}title")]
    assert "2026-11-03 来电量：10" in hover
    ys = [float(c.get("cy", "0")) for c in dots[:3]]
    assert ys[2] < ys[0] < ys[1]  # 10 is highest on the page, 0 lowest
    ticks = [t.text for t in svg.findall(f".//{SVG}text[@class='tick']")]
    assert ticks[0] == "11-01"
