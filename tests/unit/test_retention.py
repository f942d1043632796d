"""Retention: at least five years, and what holds a recording."""

from __future__ import annotations

import datetime as dt

import pytest

from core.settings import Settings
from custody import retention
from hotline.settings_check import SettingsError, checked

T = dt.datetime(2020, 2, 29, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("years", [0, 1, 4])
def test_a_retention_below_five_years_is_refused(years: int) -> None:
    with pytest.raises(ValueError, match="recording_retention_years must be at least 5"):
        retention.check_years(years)
    with pytest.raises(
        SettingsError,
        match=r"^recording_retention_years: recording_retention_"
        r"years must be at least 5",
    ):
        checked(Settings(recording_retention_years=years))


def test_five_years_or_more_is_accepted() -> None:
    assert checked(Settings(recording_retention_years=5)).recording_retention_years == 5
    assert checked(Settings(recording_retention_years=10)).recording_retention_years == 10
    assert checked(Settings()).recording_retention_years == 5


def test_kept_until_the_same_day_years_later() -> None:
    assert retention.kept_until(T, 5) == dt.datetime(2025, 2, 28, 8, 0, tzinfo=dt.UTC)
    assert retention.kept_until(T, 8) == dt.datetime(2028, 2, 29, 8, 0, tzinfo=dt.UTC)
    assert not retention.due(T, 5, dt.datetime(2025, 2, 28, 7, 59, tzinfo=dt.UTC))
    assert retention.due(T, 5, dt.datetime(2025, 2, 28, 8, 0, tzinfo=dt.UTC))


def test_what_holds_a_recording() -> None:
    assert not retention.held([], 0), "a call never registered holds nothing"
    assert not retention.held(["closed", "archived"], 0)
    assert retention.held(["closed"], 1), "a legal hold"
    for status in ("registered", "in_progress", "replied", "reviewed", "feedback_given"):
        assert retention.held([status], 0), f"{status}: still handled or under review"
    assert retention.held(["archived", "replied"], 0)
