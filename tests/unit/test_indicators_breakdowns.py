"""Breakdowns by channel, type, category, lead unit, window and operator, with known
answers; the parts add up to the whole where a case falls in one group."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.cases.lifecycle import Action
from dispatch.indicators import handling, intake, periods
from dispatch.indicators.breakdowns import Dimension, breakdown, group, key_label
from dispatch.indicators.rows import AssignmentRow, CaseFile
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

A = Action
MARCH = periods.month(2025, 3, BEIJING)
AS_OF = at(2025, 4, 30)


def lead(
    row_id: str, unit: str, when: dt.datetime, returned: dt.datetime | None = None
) -> AssignmentRow:
    return AssignmentRow(row_id, unit, "lead", "transfer", when, returned_at=returned)


def accepted(
    case_id: str, *, closed: bool = False, units: tuple[AssignmentRow, ...] = (), **fields: object
) -> CaseFile:
    events = [ev(A.ACCEPT, at(2025, 3, 3))]
    if closed:
        events.append(ev(A.CLOSE, at(2025, 3, 20)))
    return case_file(case_id, at(2025, 3, 3), events, assignments=units, **fields)


FILES = [
    accepted(
        "a",
        channel="phone",
        case_type="complaint",
        category="住房",
        registered_by="op1",
        closed=True,
        complained_unit_id="W1",
        units=(lead("a1", "U1", at(2025, 3, 3, 10)),),
    ),
    accepted(
        "b",
        channel="phone",
        case_type="consultation",
        category="交通",
        registered_by="op2",
        units=(lead("b1", "U2", at(2025, 3, 3, 10)),),
    ),
    accepted(
        "c",
        channel="web",
        case_type="complaint",
        category="住房",
        registered_by="op1",
        closed=True,
        complained_unit_id="W1",
        units=(
            lead("c1", "U1", at(2025, 3, 3, 10), returned=at(2025, 3, 4)),
            lead("c2", "U2", at(2025, 3, 5)),
        ),
    ),
    accepted("d", channel="letter", case_type="help", category="", registered_by="op2"),
]


@pytest.mark.parametrize(
    ("dimension", "groups"),
    [
        (Dimension.CHANNEL, {"letter": ids("d"), "phone": ids("a", "b"), "web": ids("c")}),
        (Dimension.TYPE, {"complaint": ids("a", "c"), "consultation": ids("b"), "help": ids("d")}),
        (Dimension.CATEGORY, {"": ids("d"), "交通": ids("b"), "住房": ids("a", "c")}),
        # c was lead at U1 (returned) and at U2; d never reached a unit.
        (Dimension.LEAD_UNIT, {"U1": ids("a", "c"), "U2": ids("b", "c")}),
        (Dimension.WINDOW, {"": ids("b", "d"), "W1": ids("a", "c")}),
        (Dimension.OPERATOR, {"op1": ids("a", "c"), "op2": ids("b", "d")}),
    ],
)
def test_groups(dimension: Dimension, groups: dict[str, tuple[str, ...]]) -> None:
    found = group(FILES, dimension)
    assert {key: ids(*(f.id for f in files)) for key, files in found.items()} == groups


def test_the_parts_add_up_to_the_whole() -> None:
    whole = intake.accepted(FILES, MARCH)
    by_channel = breakdown(
        FILES, Dimension.CHANNEL, lambda files, _unit: intake.accepted(files, MARCH)
    )
    assert sum(figure.value or 0 for figure in by_channel.values()) == whole.value == 4


def test_by_lead_unit_each_row_counts_for_the_unit_it_names() -> None:
    returns = breakdown(
        FILES,
        Dimension.LEAD_UNIT,
        lambda files, unit: handling.return_rate(files, MARCH, AS_OF, unit),
    )
    assert {unit: (f.numerator, f.denominator) for unit, f in returns.items()} == {
        "U1": (1, 2),  # c returned by U1
        "U2": (0, 2),
    }
    closed = breakdown(
        FILES,
        Dimension.LEAD_UNIT,
        lambda files, unit: handling.closure_rate(files, MARCH, AS_OF, unit),
    )
    # c's closing counts for U2, its lead unit at the end.
    assert {unit: (f.ids, f.base_ids) for unit, f in closed.items()} == {
        "U1": (ids("a"), ids("a")),
        "U2": (ids("c"), ids("b", "c")),
    }


@pytest.mark.parametrize(
    ("dimension", "key", "label"),
    [
        (Dimension.CHANNEL, "phone", "电话"),
        (Dimension.CHANNEL, "transferred", "上级转办"),
        (Dimension.TYPE, "report", "举报"),
        (Dimension.CATEGORY, "", "未分类"),
        (Dimension.WINDOW, "", "未指定"),
        (Dimension.CATEGORY, "住房", "住房"),
        (Dimension.LEAD_UNIT, "U1", "U1"),
    ],
)
def test_key_labels(dimension: Dimension, key: str, label: str) -> None:
    assert key_label(dimension, key) == label
