"""部门办理排名 with 红黑榜: each unit's figures for a period, graded in bands (等次) rather
than a bare rank (国办函〔2025〕66号: graded evaluation), and the red and black lists from
the thresholds in the settings. Pure: rows in, ``tables.Report`` out.

How a unit is graded (the page's footnote says the same):

- a unit's figures are the dashboard's per-unit figures (``overview`` by lead unit:
  ``breakdowns`` counts a case for every unit that was its lead, each row for the unit it
  names);
- it is judged on two measures, 按时办结率 and 满意率; a measure counts only when its
  denominator (clocks due, valid ratings) holds at least ``min_sample`` items. A unit with
  neither measure judged is listed as 样本不足, not graded;
- each judged measure gets a level: at or above the red-list threshold 优秀; at or above the
  midpoint between the black- and red-list thresholds 良好; at or above the black-list
  threshold 一般; below it 较差. The unit's 等次 is the lowest level of its judged measures;
- 优秀 needs both measures judged and no 红牌 in the period (otherwise at most 良好);
- 红榜: the units graded 优秀 (both measures at or above the red thresholds);
  黑榜: the units with a judged measure below its black threshold (graded 较差).

Within a band units are ordered by 按时办结率, then 满意率 (higher first), then name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from dispatch.indicators import catalogue, feedback, handling
from dispatch.indicators.breakdowns import Dimension
from dispatch.indicators.figures import Figure
from dispatch.indicators.periods import Period
from dispatch.reports.overview import (
    LINES as ALL_LINES,
)
from dispatch.reports.overview import (
    Basis,
    Breakdown,
    Linker,
    On,
    Ref,
    Rows,
    Subset,
    breakdown_figures,
    no_links,
)
from dispatch.reports.tables import Cell, Report, Table
from dispatch.reports.tables import figure as figure_cell

TITLE = "部门办理排名"
MIN_SAMPLE = 5
ON_TIME = handling.ON_TIME_RATE.key
SATISFACTION = feedback.SATISFACTION_RATE.key
RED_CARDS = handling.RED_CARDS.key

LINES = (
    handling.DISPATCHED.key,
    handling.CLOSED.key,
    handling.CLOSURE_RATE.key,
    ON_TIME,
    SATISFACTION,
    handling.OVERDUE.key,
    handling.RETURN_RATE.key,
    handling.REMINDERS.key,
    handling.YELLOW_CARDS.key,
    RED_CARDS,
)
SPEC = Breakdown("ranking", Dimension.LEAD_UNIT, LINES)


class Band(IntEnum):
    """等次, best first."""

    EXCELLENT = 1
    GOOD = 2
    FAIR = 3
    POOR = 4


BAND_LABELS = {Band.EXCELLENT: "优秀", Band.GOOD: "良好", Band.FAIR: "一般", Band.POOR: "较差"}
TOO_FEW = "样本不足"


@dataclass(frozen=True)
class Thresholds:
    """The 红黑榜's thresholds (``core.settings``: red_list_*, black_list_*) and the
    smallest denominator a measure is judged on."""

    red_on_time: float = 0.95
    red_satisfaction: float = 0.95
    black_on_time: float = 0.80
    black_satisfaction: float = 0.85
    min_sample: int = MIN_SAMPLE

    def __post_init__(self) -> None:
        if self.black_on_time > self.red_on_time or self.black_satisfaction > self.red_satisfaction:
            raise ValueError("a black-list threshold cannot be above the red-list one")
        if self.min_sample < 1:
            raise ValueError("min_sample must be at least 1")

    def limits(self, key: str) -> tuple[float, float]:
        """(red, black) for the measure ``key``."""
        if key == ON_TIME:
            return self.red_on_time, self.black_on_time
        return self.red_satisfaction, self.black_satisfaction


def level(value: float, red: float, black: float) -> Band:
    """One measure's level against its thresholds."""
    if value >= red:
        return Band.EXCELLENT
    if value >= (red + black) / 2:
        return Band.GOOD
    if value >= black:
        return Band.FAIR
    return Band.POOR


@dataclass(frozen=True)
class Graded:
    """One unit: its figures, its band (``None``: 样本不足), the lists it is on and why."""

    unit_id: str
    name: str
    figures: Mapping[str, Figure]
    band: Band | None
    red_list: bool = False
    black_list: bool = False
    reasons: tuple[str, ...] = field(default=())

    @property
    def band_label(self) -> str:
        return BAND_LABELS[self.band] if self.band is not None else TOO_FEW


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%".replace(".0%", "%")


def judged(figure: Figure, thresholds: Thresholds) -> bool:
    """Whether a measure counts: it has a value over at least ``min_sample`` items."""
    return figure.value is not None and (figure.denominator or 0) >= thresholds.min_sample


def grade(unit_id: str, name: str, figures: Mapping[str, Figure], thresholds: Thresholds) -> Graded:
    """A unit's band and lists from its figures (see the module's rules)."""
    levels: dict[str, Band] = {}
    reasons: list[str] = []
    for key in (ON_TIME, SATISFACTION):
        found = figures[key]
        if not judged(found, thresholds):
            reasons.append(
                f"{found.definition.name}样本不足（{found.denominator or 0} 件，少于 "
                f"{thresholds.min_sample} 件，不参与评定）"
            )
            continue
        assert found.value is not None
        red, black = thresholds.limits(key)
        levels[key] = level(found.value, red, black)
        if levels[key] is Band.POOR:
            reasons.append(f"{found.definition.name} {found.text} 低于 {_percent(black)}")
        elif levels[key] is Band.EXCELLENT:
            reasons.append(f"{found.definition.name} {found.text} 不低于 {_percent(red)}")
    if not levels:
        return Graded(unit_id, name, figures, None, reasons=tuple(reasons))
    band = max(levels.values())
    reds = figures[RED_CARDS].value or 0
    if band is Band.EXCELLENT and len(levels) < 2:
        band = Band.GOOD
        reasons.append("只有一项指标参与评定，最高评为良好")
    if band is Band.EXCELLENT and reds:
        band = Band.GOOD
        reasons.append(f"期内被发红牌 {reds:.0f} 次，不评为优秀")
    return Graded(
        unit_id,
        name,
        figures,
        band,
        red_list=band is Band.EXCELLENT,
        black_list=band is Band.POOR,
        reasons=tuple(reasons),
    )


def _order(item: Graded) -> tuple[int, float, float, str]:
    on_time = item.figures[ON_TIME].value
    satisfaction = item.figures[SATISFACTION].value
    return (
        item.band if item.band is not None else len(Band) + 1,
        -(on_time if on_time is not None else -1.0),
        -(satisfaction if satisfaction is not None else -1.0),
        item.name,
    )


def assess(
    rows: Rows,
    period: Period,
    basis: Basis,
    units: Mapping[str, str],
    thresholds: Thresholds,
) -> list[Graded]:
    """Every unit of ``units`` (id → name; those with no case in the period are 样本不足)
    and every unit that led a case, graded and in order: bands best first, 样本不足 last."""
    found = breakdown_figures(SPEC, rows, period, basis)
    for unit_id in units:
        if unit_id not in found:
            found[unit_id] = {key: _blank(key, period, basis) for key in LINES}
    graded = [
        grade(unit_id, units.get(unit_id, unit_id), figures, thresholds)
        for unit_id, figures in found.items()
    ]
    return sorted(graded, key=_order)


def _blank(key: str, period: Period, basis: Basis) -> Figure:
    """A figure over no rows (a unit with no case in the period)."""
    return ALL_LINES[key](On(Subset((), (), ()), period, basis))


COLUMNS = ("等次", "单位")


def _row(item: Graded, period: Period, link: Linker) -> tuple[Cell, ...]:
    return (
        Cell(item.band_label, title="；".join(item.reasons)),
        Cell(item.name),
        *(
            figure_cell(
                item.figures[key], link(Ref(key, period, Dimension.LEAD_UNIT, item.unit_id))
            )
            for key in LINES
        ),
    )


def _list_table(key: str, title: str, items: list[Graded], period: Period, link: Linker) -> Table:
    return Table(
        key,
        title,
        ("单位", "按时办结率", "满意率", "说明"),
        tuple(
            (
                Cell(item.name),
                figure_cell(
                    item.figures[ON_TIME],
                    link(Ref(ON_TIME, period, Dimension.LEAD_UNIT, item.unit_id)),
                ),
                figure_cell(
                    item.figures[SATISFACTION],
                    link(Ref(SATISFACTION, period, Dimension.LEAD_UNIT, item.unit_id)),
                ),
                Cell("；".join(item.reasons)),
            )
            for item in items
        ),
    )


def rules_notes(thresholds: Thresholds) -> tuple[str, ...]:
    t = thresholds
    return (
        f"评定指标：按时办结率、满意率；分母（到期件数、有效评价数）少于 {t.min_sample} 件的指标"
        "不参与评定，两项都不参与评定的单位列为“样本不足”。",
        f"各项等次：达到红榜线为优秀；达到红榜线与黑榜线的中点为良好；达到黑榜线为一般；"
        f"低于黑榜线为较差。按时办结率红榜线 {_percent(t.red_on_time)}、黑榜线 "
        f"{_percent(t.black_on_time)}；满意率红榜线 {_percent(t.red_satisfaction)}、黑榜线 "
        f"{_percent(t.black_satisfaction)}。",
        "单位等次取参与评定各项中最低的等次；评为优秀须两项均参与评定且期内无红牌。",
        "红榜：等次为优秀的单位；黑榜：有一项低于黑榜线（等次为较差）的单位。",
        "同一等次内按按时办结率、满意率从高到低排列。",
    )


def report(
    graded: list[Graded],
    period: Period,
    thresholds: Thresholds,
    link: Linker = no_links,
    title: str = TITLE,
) -> Report:
    """The ranking, the red list, the black list and the units too small to judge."""
    names = tuple(catalogue.definition(key).name for key in LINES)
    ranked = [item for item in graded if item.band is not None]
    notes = rules_notes(thresholds)
    return Report(
        title,
        period.label,
        (
            Table(
                "ranking",
                "部门办理排名（分等次）",
                (*COLUMNS, *names),
                tuple(_row(item, period, link) for item in ranked),
                notes,
            ),
            _list_table("red_list", "红榜", [i for i in ranked if i.red_list], period, link),
            _list_table("black_list", "黑榜", [i for i in ranked if i.black_list], period, link),
            Table(
                "too_few",
                "样本不足（不参与评定）",
                ("单位", *names),
                tuple(
                    (
                        Cell(item.name),
                        *(
                            figure_cell(
                                item.figures[key],
                                link(Ref(key, period, Dimension.LEAD_UNIT, item.unit_id)),
                            )
                            for key in LINES
                        ),
                    )
                    for item in graded
                    if item.band is None
                ),
            ),
        ),
    )
