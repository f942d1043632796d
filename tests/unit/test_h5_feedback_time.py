"""回访时间 cannot be in the future, as a registration's time cannot (issue 16, defect 10)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dispatch.cases.registration import Invalid
from dispatch.feedback.feedback_step import told_time

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing


def test_a_local_time_without_a_zone_is_beijing_time() -> None:
    told = told_time(dt.datetime(2026, 12, 3, 9, 30), BEIJING, NOW)
    assert told == dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC)


def test_none_given_is_now() -> None:
    assert told_time(None, BEIJING, NOW) == NOW


@pytest.mark.parametrize(
    "told",
    [
        dt.datetime(2026, 12, 4, 9, 30),  # tomorrow, local
        dt.datetime(2026, 12, 3, 10, 6),  # six minutes ahead, local
        dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC),
    ],
)
def test_a_time_to_come_is_refused_at_its_field(told: dt.datetime) -> None:
    with pytest.raises(Invalid) as refused:
        told_time(told, BEIJING, NOW)
    assert refused.value.errors["told_at"].zh == "回访时间不能晚于当前时间"
    assert refused.value.errors["told_at"].en == "must not be in the future"


def test_a_clock_a_little_ahead_is_not_the_future() -> None:
    told = told_time(dt.datetime(2026, 12, 3, 10, 4), BEIJING, NOW)
    assert told == NOW + dt.timedelta(minutes=4)
