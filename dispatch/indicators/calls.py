"""Call indicators: 来电量, 人工接通率, 15秒接通率 and the worst continuous 24 hours against
the 95 % of GB/T 33358-2016, 放弃率, 留言量, average wait and talk time, 漏接回拨完成率 and
the time to call back, 重复来电率. Pure: rows in (``rows.CallRow``, ``rows.CallbackRow``),
figures out.

A call belongs to the period its ``started_at`` falls in. A call *asked for a person* once it
joined the operators' queue (``queued_at``; a call out of service hours goes straight to the
message and never asks); one answered without a queue time counts as asking too.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dispatch.indicators.figures import Definition, Figure, Measure, Subject, count, mean, rate
from dispatch.indicators.periods import Period
from dispatch.indicators.rows import CallbackRow, CallRow
from dispatch.intake.call_queue import FINAL_OUTCOMES
from ivr.call_state import OVERFLOW_OUTCOMES, Outcome

M = __name__
ANSWER_SECONDS = 15  # GB/T 33358-2016: answered by a person within 15 s
TARGET_24H = 0.95  # GB/T 33358-2016: 呼叫接通率 ≥ 95 % over any continuous 24 hours
REPEAT_WINDOW = dt.timedelta(days=7)
_DAY = dt.timedelta(hours=24)
_GRAIN = dt.timedelta(microseconds=1)

VOLUME = Definition(
    "calls.volume",
    "来电量",
    "期内呼入的电话数（含留言、放弃及未听完告知即挂断的来电）",
    Measure.COUNT,
    Subject.CALL,
    M,
)
ANSWER_RATE = Definition(
    "calls.answer_rate",
    "人工接通率",
    "人工接通率 = 话务员接听的来电数 ÷ 进入人工排队的来电数（服务时间外转留言的来电不计入）",
    Measure.RATE,
    Subject.CALL,
    M,
)
ANSWER_15S_RATE = Definition(
    "calls.answer_15s_rate",
    "15秒接通率",
    "15秒接通率 = 进入排队后15秒内由话务员接听的来电数 ÷ 进入人工排队的来电数",
    Measure.RATE,
    Subject.CALL,
    M,
)
WORST_24H = Definition(
    "calls.worst_24h",
    "任意连续24小时最低接通率",
    "期内任意连续24小时的人工接通率（接听数 ÷ 排队数，按进入排队时刻计）中的最低值；"
    "GB/T 33358-2016 要求不低于95%",
    Measure.RATE,
    Subject.CALL,
    M,
)
ABANDON_RATE = Definition(
    "calls.abandon_rate",
    "放弃率",
    "放弃率 = 排队中来电人挂断（未接听、未留言）的来电数 ÷ 进入人工排队的来电数",
    Measure.RATE,
    Subject.CALL,
    M,
)
MESSAGES = Definition(
    "calls.messages",
    "留言量",
    "期内来电人留言的来电数（无人接听或服务时间外）",
    Measure.COUNT,
    Subject.CALL,
    M,
)
AVERAGE_WAIT = Definition(
    "calls.average_wait",
    "平均等待时长",
    "平均等待时长 = Σ（接听时刻 − 进入排队时刻）÷ 话务员接听的来电数",
    Measure.SECONDS,
    Subject.CALL,
    M,
)
AVERAGE_TALK = Definition(
    "calls.average_talk",
    "平均通话时长",
    "平均通话时长 = Σ（挂断时刻 − 接听时刻）÷ 已结束的接听来电数",
    Measure.SECONDS,
    Subject.CALL,
    M,
)
CALLBACK_DONE_RATE = Definition(
    "calls.callback_done_rate",
    "漏接回拨完成率",
    "漏接回拨完成率 = 已完成回拨（已接通、空号错号或来电人表示无需处理）的漏接来电数 ÷ "
    "期内产生的漏接回拨数",
    Measure.RATE,
    Subject.CALL,
    M,
)
CALLBACK_DELAY = Definition(
    "calls.callback_delay",
    "平均回拨用时",
    "平均回拨用时 = Σ（首次回拨时刻 − 漏接登记时刻）÷ 已回拨的漏接来电数",
    Measure.SECONDS,
    Subject.CALL,
    M,
)
REPEAT_RATE = Definition(
    "calls.repeat_rate",
    "重复来电率",
    "重复来电率 = 同一号码在7日内再次来电的来电数 ÷ 有来电号码的来电数",
    Measure.RATE,
    Subject.CALL,
    M,
)

DEFINITIONS = (
    VOLUME, ANSWER_RATE, ANSWER_15S_RATE, WORST_24H, ABANDON_RATE, MESSAGES, AVERAGE_WAIT,
    AVERAGE_TALK, CALLBACK_DONE_RATE, CALLBACK_DELAY, REPEAT_RATE,
)  # fmt: skip


def asked_at(call: CallRow) -> dt.datetime | None:
    """When the call asked for a person (joined the queue), or ``None`` if it never did."""
    if call.queued_at is not None:
        return call.queued_at
    return call.started_at if call.answered_at is not None else None


def is_overflow_leg(call: CallRow) -> bool:
    """A node's row for another node's waiting caller (overflow, Issue 18): that citizen's
    call is the first node's row, counted there once. (The reader leaves legs out already;
    an ended leg given here is never counted either.)"""
    return call.outcome in OVERFLOW_OUTCOMES


def started_in(calls: Sequence[CallRow], period: Period) -> list[CallRow]:
    """The calls that started in the period (overflow legs are not calls of their own)."""
    return [
        call for call in calls if period.contains(call.started_at) and not is_overflow_leg(call)
    ]


def _asked(calls: Sequence[CallRow], period: Period) -> list[CallRow]:
    return [call for call in started_in(calls, period) if asked_at(call) is not None]


def volume(calls: Sequence[CallRow], period: Period) -> Figure:
    return count(VOLUME, (call.id for call in started_in(calls, period)))


def answer_rate(calls: Sequence[CallRow], period: Period) -> Figure:
    asked = _asked(calls, period)
    return rate(
        ANSWER_RATE,
        (call.id for call in asked if call.answered_at is not None),
        (call.id for call in asked),
    )


def answered_within(call: CallRow, seconds: float = ANSWER_SECONDS) -> bool:
    start = asked_at(call)
    return (
        call.answered_at is not None
        and start is not None
        and (call.answered_at - start).total_seconds() <= seconds
    )


def answer_15s_rate(
    calls: Sequence[CallRow], period: Period, seconds: float = ANSWER_SECONDS
) -> Figure:
    asked = _asked(calls, period)
    definition = ANSWER_15S_RATE
    if seconds != ANSWER_SECONDS:
        definition = replace(
            definition, formula=definition.formula.replace("15秒", f"{seconds:g}秒")
        )
    return rate(
        definition,
        (call.id for call in asked if answered_within(call, seconds)),
        (call.id for call in asked),
    )


@dataclass(frozen=True)
class Window:
    """The worst continuous 24 hours of a period: where it starts, its figure, and whether
    it meets the target."""

    start: dt.datetime
    end: dt.datetime
    figure: Figure
    target: float

    @property
    def meets_target(self) -> bool:
        return self.figure.value is not None and self.figure.value >= self.target


def worst_24h(
    calls: Sequence[CallRow], period: Period, target: float = TARGET_24H
) -> Window | None:
    """The continuous 24 hours inside the period with the lowest 人工接通率 (calls counted
    by the moment they joined the queue); ``None`` when no 24 hours inside it hold a call
    that asked for a person.

    Every window ``[t, t + 24 h)`` with ``period.start <= t <= period.end - 24 h`` is
    considered. The calls in it change only as ``t`` passes a call's time (the call
    leaves) or a call's time minus 24 h (it joins); so the windows starting at the
    period's start and one microsecond (the clock's grain) after each of those moments
    hold every set of calls any window can hold. Of equally bad windows, the first."""
    latest = period.end - _DAY
    if latest < period.start:
        return None
    timed = sorted(
        (
            (moment, call)
            for call in calls
            if (moment := asked_at(call)) is not None
            and period.start <= moment < period.end
            and not is_overflow_leg(call)
        ),
        key=lambda pair: pair[0],
    )
    # Work in whole microseconds from the period's start: exact, and quick.
    times = [(moment - period.start) // _GRAIN for moment, _ in timed]
    day, last = _DAY // _GRAIN, (latest - period.start) // _GRAIN
    prefix = [0]  # prefix[i]: answered calls among the first i
    for _, call in timed:
        prefix.append(prefix[-1] + (call.answered_at is not None))
    moments = sorted(set(times) | {t - day for t in times})
    starts = [0] + [t + 1 for t in moments if 0 <= t < last]
    best: tuple[float, int, int, int] | None = None
    low = high = 0  # times[low:high] are in the window
    for first in starts:
        while low < len(times) and times[low] < first:
            low += 1
        high = max(high, low)
        while high < len(times) and times[high] < first + day:
            high += 1
        if high == low:
            continue
        value = (prefix[high] - prefix[low]) / (high - low)
        if best is None or value < best[0]:
            best = (value, low, high, first)
    if best is None:
        return None
    _, low, high, offset = best
    start = period.start + offset * _GRAIN
    inside = [call for _, call in timed[low:high]]
    figure = rate(
        WORST_24H,
        (call.id for call in inside if call.answered_at is not None),
        (call.id for call in inside),
    )
    return Window(start, start + _DAY, figure, target)


def abandon_rate(calls: Sequence[CallRow], period: Period) -> Figure:
    asked = _asked(calls, period)
    return rate(
        ABANDON_RATE,
        (call.id for call in asked if call.outcome == Outcome.ABANDONED),
        (call.id for call in asked),
    )


def messages(calls: Sequence[CallRow], period: Period) -> Figure:
    return count(
        MESSAGES,
        (call.id for call in started_in(calls, period) if call.outcome == Outcome.MESSAGE_LEFT),
    )


def average_wait(calls: Sequence[CallRow], period: Period) -> Figure:
    samples = []
    for call in started_in(calls, period):
        start = asked_at(call)
        if call.answered_at is not None and start is not None:
            samples.append((call.id, (call.answered_at - start).total_seconds()))
    return mean(AVERAGE_WAIT, samples)


def average_talk(calls: Sequence[CallRow], period: Period) -> Figure:
    return mean(
        AVERAGE_TALK,
        (
            (call.id, (call.ended_at - call.answered_at).total_seconds())
            for call in started_in(calls, period)
            if call.answered_at is not None and call.ended_at is not None
        ),
    )


def _done_at(request: CallbackRow, as_of: dt.datetime) -> dt.datetime | None:
    for attempt in request.attempts:
        if attempt.at <= as_of and attempt.outcome in FINAL_OUTCOMES:
            return attempt.at
    return None


def callback_done_rate(
    requests: Sequence[CallbackRow], period: Period, as_of: dt.datetime
) -> Figure:
    """漏接回拨 made in the period (by ``created_at``), and those finished by ``as_of``.
    The ids are the missed calls'."""
    made = [request for request in requests if period.contains(request.created_at)]
    return rate(
        CALLBACK_DONE_RATE,
        (request.call_id for request in made if _done_at(request, as_of) is not None),
        (request.call_id for request in made),
    )


def callback_delay(requests: Sequence[CallbackRow], period: Period, as_of: dt.datetime) -> Figure:
    """From the missed call's entry on the callback list to the first try, for those made
    in the period and tried by ``as_of``."""
    samples = []
    for request in requests:
        if not period.contains(request.created_at):
            continue
        tried = [attempt.at for attempt in request.attempts if attempt.at <= as_of]
        if tried:
            samples.append((request.call_id, (min(tried) - request.created_at).total_seconds()))
    return mean(CALLBACK_DELAY, samples)


def repeat_rate(
    calls: Sequence[CallRow], period: Period, window: dt.timedelta = REPEAT_WINDOW
) -> Figure:
    """Calls in the period from a number that had called within ``window`` before. The rows
    must include the calls of ``window`` before the period; withheld numbers are left out."""
    by_number: dict[str, list[dt.datetime]] = {}
    earliest = period.start - window
    for call in calls:
        if (
            call.caller_number
            and earliest <= call.started_at < period.end
            and not is_overflow_leg(call)
        ):
            by_number.setdefault(call.caller_number, []).append(call.started_at)
    for times in by_number.values():
        times.sort()
    base = [call for call in started_in(calls, period) if call.caller_number]
    repeated = []
    for call in base:
        times = by_number[call.caller_number]
        before = bisect_left(times, call.started_at)  # times[before - 1]: the latest earlier
        if before and times[before - 1] >= call.started_at - window:
            repeated.append(call.id)
    definition = REPEAT_RATE
    if window != REPEAT_WINDOW:
        hours = window.total_seconds() / 3600
        definition = replace(
            definition, formula=definition.formula.replace("7日", f"{hours:g}小时")
        )
    return rate(definition, repeated, (call.id for call in base))


def by_operator(calls: Sequence[CallRow]) -> dict[str, list[CallRow]]:
    """Answered calls grouped by the operator who took them (for volume and talk time
    per operator)."""
    groups: dict[str, list[CallRow]] = {}
    for call in calls:
        if call.answered_at is not None and call.operator and not is_overflow_leg(call):
            groups.setdefault(call.operator, []).append(call)
    return groups
