"""The 红旗窗口 rule of seed 003 with known answers: 1, 2 and 3 complaints found 属实, one
found 不属实, 部分属实, pending reviews, merged, withdrawn and rejected complaints, and the
year boundary in Beijing time."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.cases.lifecycle import Action, Status
from dispatch.handling.steps import Finding
from dispatch.indicators import red_flag
from dispatch.indicators.rows import CaseEventRow, CaseFile, ReplyRow
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

A = Action
WINDOWS = ["W0", "W1", "W2", "W3", "W4"]


def complaint(
    case_id: str,
    window: str,
    *findings: str,
    received: dt.datetime | None = None,
    events: tuple[CaseEventRow, ...] = (),
    case_type: str = "complaint",
    review: str = "passed",
) -> CaseFile:
    """A complaint about ``window`` with one reviewed reply per finding, oldest first."""
    received = received or at(2025, 3, 10)
    replies = [
        ReplyRow(
            id=f"{case_id}-r{n}",
            unit_id=window,
            at=received + dt.timedelta(days=5 + 10 * n),
            finding=finding,
            review=review,
            reviewed_at=received + dt.timedelta(days=6 + 10 * n),
        )
        for n, finding in enumerate(findings)
    ]
    return case_file(
        case_id,
        received,
        events,
        replies=replies,
        complained_unit_id=window,
        case_type=case_type,
    )


TRUE, PARTLY, UNTRUE = Finding.TRUE.value, Finding.PARTLY_TRUE.value, Finding.UNTRUE.value

COMPLAINTS = [
    complaint("a1", "W1", TRUE),
    complaint("b1", "W2", TRUE),
    complaint("b2", "W2", TRUE),
    complaint("c1", "W3", TRUE),
    complaint("c2", "W3", TRUE),
    complaint("c3", "W3", PARTLY),
    # W4: one 属实, one found 不属实: only one counts.
    complaint("d1", "W4", TRUE),
    complaint("d2", "W4", UNTRUE),
]


def _by_window(standings: list[red_flag.WindowStanding]) -> dict[str, red_flag.WindowStanding]:
    return {standing.window_id: standing for standing in standings}


@pytest.mark.parametrize(
    ("window", "count", "eligible", "explanation", "verdict"),
    [
        ("W0", 0, True, False, "可参评"),  # never complained about
        ("W1", 1, True, False, "可参评"),
        ("W2", 2, False, False, "不得参评"),  # 二次以上（含二次）
        ("W3", 3, False, True, "不得参评，须书面说明并提出整改措施"),  # 三次以上（含三次）
        ("W4", 1, True, False, "可参评"),  # the 不属实 one does not count
    ],
)
def test_the_rule(window: str, count: int, eligible: bool, explanation: bool, verdict: str) -> None:
    standing = _by_window(red_flag.standings(COMPLAINTS, 2025, BEIJING, WINDOWS))[window]
    assert (standing.count, standing.eligible, standing.explanation_owed) == (
        count,
        eligible,
        explanation,
    )
    assert standing.verdict == verdict


def test_the_complaints_behind_each_standing_most_substantiated_first() -> None:
    standings = red_flag.standings(COMPLAINTS, 2025, BEIJING, WINDOWS)
    assert [s.window_id for s in standings] == ["W3", "W2", "W1", "W4", "W0"]
    w4 = _by_window(standings)["W4"]
    assert (w4.substantiated, w4.unsubstantiated, w4.pending) == (ids("d1"), ids("d2"), ())
    assert _by_window(standings)["W3"].substantiated == ids("c1", "c2", "c3")


def test_partly_true_counts_unless_told_otherwise() -> None:
    strict = _by_window(
        red_flag.standings(COMPLAINTS, 2025, BEIJING, WINDOWS, counting={Finding.TRUE})
    )
    assert (strict["W3"].count, strict["W3"].explanation_owed, strict["W3"].eligible) == (
        2,
        False,
        False,
    )
    assert strict["W3"].unsubstantiated == ids("c3")


def test_the_latest_reviewed_finding_decides() -> None:
    rows = [
        # Found 属实, reopened, found 不属实 on a second investigation: does not count.
        complaint("e1", "W1", TRUE, UNTRUE),
        # The other way round: counts.
        complaint("e2", "W1", UNTRUE, TRUE),
        # A reply returned by the review is no finding: pending.
        complaint("e3", "W1", TRUE, review="returned"),
    ]
    w1 = _by_window(red_flag.standings(rows, 2025, BEIJING, ["W1"]))["W1"]
    assert (w1.substantiated, w1.unsubstantiated, w1.pending) == (ids("e2"), ids("e1"), ids("e3"))
    # Before any review (as of the day after receipt), all three are pending.
    early = red_flag.standings(rows, 2025, BEIJING, ["W1"], as_of=at(2025, 3, 11))
    assert early[0].pending == ids("e1", "e2", "e3")
    assert early[0].count == 0


def test_merged_withdrawn_rejected_and_other_types_do_not_count() -> None:
    merged_away = (ev(A.ACCEPT, at(2025, 3, 10)), ev(A.MERGE, at(2025, 3, 11)))
    joined = (ev(A.ACCEPT, at(2025, 3, 10)), ev(A.MERGE, at(2025, 3, 11), Status.ACCEPTED))
    rows = [
        complaint("m1", "W2", TRUE, events=joined),  # another complaint was merged into it
        complaint("m2", "W2", TRUE, events=merged_away),  # merged into m1: counts there
        complaint("m3", "W2", TRUE, events=(ev(A.WITHDRAW, at(2025, 3, 12)),)),
        complaint("m4", "W2", TRUE, events=(ev(A.REJECT, at(2025, 3, 10)),)),
        complaint("m5", "W2", TRUE, case_type="consultation"),
    ]
    w2 = _by_window(red_flag.standings(rows, 2025, BEIJING, ["W2"]))["W2"]
    assert (w2.substantiated, w2.count, w2.eligible) == (ids("m1"), 1, True)


def test_the_year_is_the_local_year_of_the_complaint() -> None:
    rows = [
        # 23:30 on 31 December 2024 in Beijing: 2024's, though 15:30 UTC.
        complaint("y1", "W1", TRUE, received=at(2024, 12, 31, 23, 30)),
        # 00:30 on 1 January 2025 in Beijing: 2025's, though still 2024 in UTC.
        complaint("y2", "W1", TRUE, received=at(2025, 1, 1, 0, 30)),
        complaint("y3", "W1", TRUE, received=at(2025, 12, 31, 23, 59)),
    ]
    assert rows[1].case.received_at.year == 2024
    by_year = {
        year: _by_window(red_flag.standings(rows, year, BEIJING, ["W1"]))["W1"].substantiated
        for year in (2024, 2025)
    }
    assert by_year == {2024: ids("y1"), 2025: ids("y2", "y3")}


def test_without_a_list_of_windows_every_complained_unit_is_shown() -> None:
    standings = red_flag.standings(COMPLAINTS, 2025, BEIJING)
    assert sorted(s.window_id for s in standings) == ["W1", "W2", "W3", "W4"]
    # With a list, other units (a department complained about) are left out.
    listed = red_flag.standings(COMPLAINTS, 2025, BEIJING, ["W1"])
    assert [s.window_id for s in listed] == ["W1"]
