"""Case numbers (编号): the format check, the counter key and rendering."""

from __future__ import annotations

import datetime as dt

import pytest

from core.settings import DEFAULT_CASE_NUMBER_FORMAT, Settings
from dispatch.cases.case_numbers import (
    NumberFormatError,
    check_format,
    counter_key,
    render,
)
from hotline.settings_check import SettingsError, checked

DAY = dt.date(2026, 11, 21)


def test_default_format_is_ts_date_and_four_digit_sequence() -> None:
    assert DEFAULT_CASE_NUMBER_FORMAT == "TS{date:%Y%m%d}{seq:04d}"


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        (1, "TS202611210001"),
        (42, "TS202611210042"),
        (9999, "TS202611219999"),
        (12345, "TS2026112112345"),  # the sequence grows past its padding rather than wrapping
    ],
)
def test_render_default_format(seq: int, expected: str) -> None:
    assert render(DEFAULT_CASE_NUMBER_FORMAT, DAY, seq) == expected


def test_render_custom_format() -> None:
    assert render("{date:%Y}-XF-{seq:06d}", dt.date(2027, 1, 2), 7) == "2027-XF-000007"


def test_render_takes_a_datetime_too() -> None:
    moment = dt.datetime(2026, 11, 21, 23, 59, tzinfo=dt.UTC)
    assert render(DEFAULT_CASE_NUMBER_FORMAT, moment, 3) == "TS202611210003"


def test_counter_key_replaces_the_sequence_and_renders_the_date() -> None:
    assert counter_key(DEFAULT_CASE_NUMBER_FORMAT, DAY) == "TS20261121#"


def test_counter_key_restarts_every_day_with_a_date_in_the_format() -> None:
    today = counter_key(DEFAULT_CASE_NUMBER_FORMAT, DAY)
    tomorrow = counter_key(DEFAULT_CASE_NUMBER_FORMAT, DAY + dt.timedelta(days=1))
    assert tomorrow == "TS20261122#"
    assert today != tomorrow


def test_counter_key_is_constant_without_a_date() -> None:
    assert counter_key("HX{seq:06d}", DAY) == "HX#"
    assert counter_key("HX{seq:06d}", dt.date(2030, 5, 6)) == "HX#"


def test_counter_key_by_month_keeps_the_text_around_the_sequence() -> None:
    fmt = "{date:%Y%m}-{seq:03d}-A"
    assert counter_key(fmt, DAY) == "202611-#-A"
    assert counter_key(fmt, dt.date(2026, 11, 30)) == "202611-#-A"
    assert counter_key(fmt, dt.date(2026, 12, 1)) == "202612-#-A"


def test_counter_key_unescapes_doubled_braces() -> None:
    assert counter_key("A{{B}}{seq}", DAY) == "A{B}#"
    assert render("A{{B}}{seq}", DAY, 5) == "A{B}5"


@pytest.mark.parametrize(
    "fmt",
    [
        DEFAULT_CASE_NUMBER_FORMAT,
        "{seq}",
        "HX{seq:06d}",
        "{date:%Y}-{date:%m}-{seq:05d}",
        "X" * 59 + "{seq:04d}",  # the widest sample (seq 99999) is exactly 64 characters
    ],
)
def test_check_format_accepts_usable_formats(fmt: str) -> None:
    assert check_format(fmt) == fmt


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ("TS{date:%Y%m%d}{user}{seq}", "may only use {date} and {seq}"),
        ("{}{seq}", "may only use {date} and {seq}"),
        ("{0}{seq}", "may only use {date} and {seq}"),
        ("{date.year}{seq}", "may only use {date} and {seq}"),
        ("TS{date:%Y%m%d}", "exactly one {seq}"),
        ("plain text", "exactly one {seq}"),
        ("", "exactly one {seq}"),
        ("{seq}{seq}", "exactly one {seq}"),
        ("X" * 60 + "{seq:04d}", "1 to 64 characters"),
        ("TS{seq", "expected '}' before end of string"),
        ("TS}{seq}", "Single '}'"),
    ],
)
def test_check_format_refuses_with_reason(fmt: str, reason: str) -> None:
    with pytest.raises(NumberFormatError) as caught:
        check_format(fmt)
    assert reason in str(caught.value)


def test_number_format_error_is_a_value_error() -> None:
    assert issubclass(NumberFormatError, ValueError)


def test_check_format_refuses_a_spec_the_sequence_cannot_take() -> None:
    # Refused (as ValueError, which settings validation turns into a message), though not
    # as NumberFormatError: see the report.
    with pytest.raises(ValueError, match="Unknown format code 's'"):
        check_format("TS{seq:s}")


def test_the_settings_default_passes_the_check_at_start_up() -> None:
    assert checked(Settings()).case_number_format == DEFAULT_CASE_NUMBER_FORMAT


def test_the_settings_check_refuses_a_format_with_the_reason() -> None:
    with pytest.raises(
        SettingsError,
        match=r"^case_number_format: case number format needs "
        r"exactly one \{seq\} field$",
    ):
        checked(Settings(case_number_format="TS{date:%Y%m%d}"))
