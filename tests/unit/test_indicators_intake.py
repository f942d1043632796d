"""Intake indicators: each act in the period it happened in; merged and withdrawn cases."""

from __future__ import annotations

import dataclasses

from dispatch.cases.lifecycle import Action, Status
from dispatch.indicators import intake, periods
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

A = Action
MARCH = periods.month(2025, 3, BEIJING)
APRIL = periods.month(2025, 4, BEIJING)

FILES = [
    case_file("k1", at(2025, 3, 3), [ev(A.ACCEPT, at(2025, 3, 3, 10))]),
    case_file("k2", at(2025, 3, 4), [ev(A.ANSWER_ON_SPOT, at(2025, 3, 4, 9, 5))]),
    case_file("k3", at(2025, 3, 5), [ev(A.REJECT, at(2025, 3, 5, 10))]),
    # Registered at 23:50 on 31 March, accepted ten minutes after midnight: April's.
    case_file("k4", at(2025, 3, 31, 23, 50), [ev(A.ACCEPT, at(2025, 4, 1, 0, 10))]),
    # Registered in February, accepted on 1 March.
    case_file("k5", at(2025, 2, 28, 23), [ev(A.ACCEPT, at(2025, 3, 1, 8))]),
    # Merged into k1 before acceptance; k1 gets a 并单 entry too, keeping its status.
    case_file("k6", at(2025, 3, 6), [ev(A.MERGE, at(2025, 3, 6, 10))], merged_into_id="k1"),
    case_file(
        "k7", at(2025, 3, 7), [ev(A.ACCEPT, at(2025, 3, 7, 10)), ev(A.WITHDRAW, at(2025, 3, 8))]
    ),
]
FILES[0] = dataclasses.replace(
    FILES[0], events=(*FILES[0].events, ev(A.MERGE, at(2025, 3, 6, 10), Status.ACCEPTED))
)


def test_march_and_april() -> None:
    assert intake.registered(FILES, MARCH).ids == ids("k1", "k2", "k3", "k4", "k6", "k7")
    assert intake.accepted(FILES, MARCH).ids == ids("k1", "k2", "k5", "k7")
    assert intake.accepted(FILES, APRIL).ids == ids("k4")
    assert intake.rejected(FILES, MARCH).ids == ids("k3")
    assert intake.registered(FILES, APRIL).value == 0


def test_rejection_and_on_the_spot_rates() -> None:
    rejection = intake.rejection_rate(FILES, MARCH)
    assert (rejection.numerator, rejection.denominator) == (1, 5)
    on_spot = intake.on_spot_rate(FILES, MARCH)
    assert (on_spot.ids, on_spot.base_ids) == (ids("k2"), ids("k1", "k2", "k5", "k7"))
    assert intake.on_spot_rate(FILES, APRIL).value == 0
    assert intake.on_spot_rate(FILES, periods.month(2025, 5, BEIJING)).value is None


def test_merged_counts_the_case_merged_not_the_case_it_joined() -> None:
    assert intake.merged(FILES, MARCH).ids == ids("k6")
    assert intake.withdrawn(FILES, MARCH).ids == ids("k7")
