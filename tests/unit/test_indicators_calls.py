"""Call indicators on hand-built calls with known answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from dispatch.indicators import calls as ci
from dispatch.indicators import periods
from dispatch.indicators.rows import CallbackAttemptRow, CallbackRow, CallRow
from tests.unit.test_indicators_support import BEIJING, at, ids

S = dt.timedelta(seconds=1)
DAY = periods.day(dt.date(2025, 3, 5), BEIJING)


def answered(
    call_id: str, queued: dt.datetime, wait: int, talk: int | None, operator: str = "8001"
) -> CallRow:
    return CallRow(
        id=call_id,
        started_at=queued - 12 * S,  # the notice plays first
        queued_at=queued,
        answered_at=queued + wait * S,
        ended_at=None if talk is None else queued + (wait + talk) * S,
        outcome=None if talk is None else "answered",
        operator=operator,
    )


def unanswered(call_id: str, queued: dt.datetime | None, outcome: str) -> CallRow:
    start = (queued or at(2025, 3, 5, 23)) - 12 * S
    return CallRow(
        id=call_id,
        started_at=start,
        queued_at=queued,
        message_started_at=start + 60 * S if outcome == "message_left" else None,
        ended_at=start + 90 * S,
        outcome=outcome,
    )


# One day of calls on 5 March 2025 (Beijing), and two just outside it.
CALLS = [
    answered("c1", at(2025, 3, 5, 9), wait=10, talk=300),
    answered("c2", at(2025, 3, 5, 10), wait=15, talk=120, operator="8002"),  # 15 s is in time
    answered("c3", at(2025, 3, 5, 11), wait=40, talk=60),
    unanswered("c4", at(2025, 3, 5, 12), "abandoned"),
    unanswered("c5", at(2025, 3, 5, 13), "message_left"),  # nobody free: a message
    unanswered("c6", None, "message_left"),  # out of service hours: never queued
    unanswered("c7", None, "hung_up_during_notice"),
    unanswered("c8", at(2025, 3, 5, 14), "failed"),  # the line failed a queued caller
    answered("c9", at(2025, 3, 5, 15), wait=5, talk=None),  # still talking
    # 4 March 23:59:48 and 6 March 00:00:00 in Beijing: other days.
    answered("x1", at(2025, 3, 5, 0, 0, 0), wait=5, talk=60),
    answered("x2", at(2025, 3, 6, 0, 0, 12), wait=5, talk=60),
]


def test_volume_and_messages() -> None:
    assert ci.volume(CALLS, DAY).ids == ids(*(f"c{i}" for i in range(1, 10)))
    assert ci.volume(CALLS, DAY).value == 9
    assert ci.messages(CALLS, DAY).ids == ids("c5", "c6")


@pytest.mark.parametrize(
    ("compute", "hits", "base"),
    [
        # Asked for a person: the seven calls that joined the queue.
        (
            ci.answer_rate,
            ids("c1", "c2", "c3", "c9"),
            ids("c1", "c2", "c3", "c4", "c5", "c8", "c9"),
        ),
        (
            ci.answer_15s_rate,
            ids("c1", "c2", "c9"),
            ids("c1", "c2", "c3", "c4", "c5", "c8", "c9"),
        ),
        (ci.abandon_rate, ids("c4"), ids("c1", "c2", "c3", "c4", "c5", "c8", "c9")),
    ],
)
def test_rates_over_the_calls_that_asked_for_a_person(
    compute: object, hits: tuple[str, ...], base: tuple[str, ...]
) -> None:
    assert callable(compute)
    figure = compute(CALLS, DAY)
    assert (figure.ids, figure.base_ids) == (hits, base)
    assert figure.value == pytest.approx(len(hits) / len(base))


def test_the_answer_threshold_is_a_parameter_named_in_the_formula() -> None:
    figure = ci.answer_15s_rate(CALLS, DAY, seconds=10)
    assert figure.ids == ids("c1", "c9")
    assert "10秒" in figure.definition.formula


def test_average_wait_and_talk() -> None:
    wait = ci.average_wait(CALLS, DAY)
    assert wait.value == pytest.approx((10 + 15 + 40 + 5) / 4)
    assert wait.denominator == 4
    talk = ci.average_talk(CALLS, DAY)  # c9 is still talking: not yet a talk time
    assert talk.value == pytest.approx((300 + 120 + 60) / 3)
    assert talk.ids == ids("c1", "c2", "c3")
    nothing = periods.day(dt.date(2025, 3, 7), BEIJING)
    assert ci.average_wait(CALLS, nothing).value is None
    assert ci.answer_rate(CALLS, nothing).value is None


def test_calls_by_operator() -> None:
    groups = ci.by_operator(ci.started_in(CALLS, DAY))
    assert {name: [c.id for c in group] for name, group in groups.items()} == {
        "8001": ["c1", "c3", "c9"],
        "8002": ["c2"],
    }


# -- the worst continuous 24 hours ----------------------------------------------------------

THREE_DAYS = periods.custom(dt.date(2025, 3, 1), dt.date(2025, 3, 3), BEIJING)


def _hourly_answered() -> list[CallRow]:
    """A call answered on every hour of 1-3 March: any 24 hours hold exactly 24 of them."""
    start = at(2025, 3, 1, 0)
    return [
        answered(f"h{hour:02d}", start + dt.timedelta(hours=hour), wait=5, talk=60)
        for hour in range(72)
    ]


def test_the_worst_24_hours_hold_the_most_missed_calls() -> None:
    missed = [
        unanswered("m1", at(2025, 3, 1, 22, 30), "abandoned"),
        unanswered("m2", at(2025, 3, 2, 8, 30), "abandoned"),
        unanswered("m3", at(2025, 3, 2, 8, 30), "message_left"),
        unanswered("m4", at(2025, 3, 2, 22, 45), "abandoned"),
        unanswered("m5", at(2025, 3, 2, 22, 45), "abandoned"),
    ]
    window = ci.worst_24h(_hourly_answered() + missed, THREE_DAYS)
    assert window is not None
    # m2-m5 with 24 answered calls (m1 and m4 are more than 24 hours apart): 24 / 28. The
    # first such window starts just after 1 March 22:45 (m4's time less a day).
    assert (window.figure.numerator, window.figure.denominator) == (24, 28)
    assert set(window.figure.base_ids) - set(window.figure.ids) == {"m2", "m3", "m4", "m5"}
    assert window.start == at(2025, 3, 1, 22, 45) + dt.timedelta(microseconds=1)
    assert window.end - window.start == dt.timedelta(hours=24)
    assert not window.meets_target


def test_a_clean_period_meets_the_target_and_an_empty_one_has_no_window() -> None:
    window = ci.worst_24h(_hourly_answered(), THREE_DAYS)
    assert window is not None and window.figure.value == 1.0 and window.meets_target
    assert window.start == THREE_DAYS.start
    assert ci.worst_24h([], THREE_DAYS) is None
    # One day: the only window is the day itself.
    first_day = periods.day(dt.date(2025, 3, 1), BEIJING)
    day_window = ci.worst_24h(_hourly_answered(), first_day)
    assert day_window is not None and day_window.figure.denominator == 24


def _brute_force_worst(calls: list[CallRow], period: periods.Period) -> float | None:
    """Every window starting on a whole or half minute (calls are on whole minutes, so
    these starts see every set of calls any window can hold)."""
    worst = None
    start = period.start
    while start <= period.end - dt.timedelta(hours=24):
        inside = [
            call
            for call in calls
            if call.queued_at is not None
            and start <= call.queued_at < start + dt.timedelta(hours=24)
        ]
        if inside:
            value = sum(call.answered_at is not None for call in inside) / len(inside)
            worst = value if worst is None else min(worst, value)
        start += dt.timedelta(seconds=30)
    return worst


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_worst_24_hours_match_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    period = periods.custom(dt.date(2025, 3, 1), dt.date(2025, 3, 2), BEIJING)
    calls = []
    for number in range(60):
        queued = (
            at(2025, 3, 1) - dt.timedelta(hours=9) + dt.timedelta(minutes=rng.randrange(48 * 60))
        )
        if rng.random() < 0.7:
            calls.append(answered(f"r{number}", queued, wait=5, talk=30))
        else:
            calls.append(unanswered(f"r{number}", queued, "abandoned"))
    window = ci.worst_24h(calls, period)
    assert window is not None
    assert window.figure.value == pytest.approx(_brute_force_worst(calls, period))


# -- callbacks and repeats ------------------------------------------------------------------


def _request(call_id: str, created: dt.datetime, *attempts: tuple[dt.datetime, str]) -> CallbackRow:
    return CallbackRow(
        id=f"q-{call_id}",
        call_id=call_id,
        created_at=created,
        attempts=tuple(CallbackAttemptRow(when, outcome) for when, outcome in attempts),
    )


REQUESTS = [
    _request(
        "m1",
        at(2025, 3, 5, 9),
        (at(2025, 3, 5, 9, 30), "no_answer"),
        (at(2025, 3, 5, 10), "reached"),
    ),
    _request("m2", at(2025, 3, 5, 12), (at(2025, 3, 5, 12, 10), "busy")),
    _request("m3", at(2025, 3, 5, 13)),
    _request("m4", at(2025, 3, 5, 14), (at(2025, 3, 6, 9), "wrong_number")),
    _request("m0", at(2025, 3, 4, 23), (at(2025, 3, 5, 8), "reached")),  # the day before
]


@pytest.mark.parametrize(
    ("as_of", "done", "delay"),
    [
        # At the end of the day: only m1 is done; m1 and m2 were tried.
        (at(2025, 3, 5, 23, 59), ids("m1"), (1800 + 600) / 2),
        # The next day m4 was found to be a wrong number: done, after 19 hours.
        (at(2025, 3, 6, 18), ids("m1", "m4"), (1800 + 600 + 19 * 3600) / 3),
    ],
)
def test_callbacks_done_and_time_to_call_back(
    as_of: dt.datetime, done: tuple[str, ...], delay: float
) -> None:
    figure = ci.callback_done_rate(REQUESTS, DAY, as_of)
    assert (figure.ids, figure.base_ids) == (done, ids("m1", "m2", "m3", "m4"))
    assert ci.callback_delay(REQUESTS, DAY, as_of).value == pytest.approx(delay)


def test_repeat_calls_within_seven_days() -> None:
    def call(call_id: str, number: str, when: dt.datetime) -> CallRow:
        return dataclasses.replace(unanswered(call_id, when, "abandoned"), caller_number=number)

    rows = [
        call("n0", "13800000001", at(2025, 3, 1, 10)),  # before the day, within 7 days
        call("n1", "13800000001", at(2025, 3, 5, 9)),
        call("n2", "13800000001", at(2025, 3, 5, 10)),
        call("m1", "13900000002", at(2025, 3, 5, 11)),
        call("k0", "13700000003", at(2025, 2, 25, 10)),  # 8 days before: too long ago
        call("k1", "13700000003", at(2025, 3, 5, 12)),
        call("w1", "", at(2025, 3, 5, 13)),  # withheld: not counted at all
    ]
    figure = ci.repeat_rate(rows, DAY)
    assert (figure.ids, figure.base_ids) == (ids("n1", "n2"), ids("n1", "n2", "m1", "k1"))
    longer = ci.repeat_rate(rows, DAY, window=dt.timedelta(days=10))
    assert longer.ids == ids("n1", "n2", "k1")
    assert "240小时" in longer.definition.formula
