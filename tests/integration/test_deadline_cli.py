from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hotline.cli import main

pytestmark = pytest.mark.usefixtures("calendar_data_until_2026")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HOTLINE_DEADLINE_PROFILE", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["deadline", *args])


def write_2027(data_dir: Path) -> Path:
    path = data_dir / "calendar" / "holidays.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        '[2027]\nholidays = [{ name = "元旦", date = 2027-01-01 }]\n'
        'working_days = [{ name = "春节", date = 2027-02-13 }]\n',
        encoding="utf-8",
    )
    return path


def test_three_working_days_after_national_day_eve(data_dir: Path) -> None:
    result = run("2026-09-30", "--working-days", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-10\n"
    assert result.stderr == ""


def test_json(data_dir: Path) -> None:
    result = run("2026-02-13", "--working-days", "3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "date": "2026-02-25",
        "provisional": False,
        "unknown_years": [],
    }


def test_2027_without_a_schedule_is_printed_with_a_loud_warning(data_dir: Path) -> None:
    result = run("2026-12-29", "--working-days", "5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "date": "2027-01-05",
        "provisional": True,
        "unknown_years": [2027],
    }
    path = data_dir / "calendar" / "holidays.toml"
    assert result.stderr == (
        f"WARNING: provisional: no official holiday schedule for 2027 "
        f"(counted weekends only); add it to {path}\n"
    )


def test_2027_with_a_schedule_file_is_not_provisional(data_dir: Path) -> None:
    write_2027(data_dir)
    result = run("2026-12-29", "--working-days", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2027-01-06\n"  # 元旦 on Friday 01-01 skipped
    assert result.stderr == ""


def test_a_broken_schedule_file_is_a_clear_error(data_dir: Path) -> None:
    path = write_2027(data_dir)
    path.write_text('[2027]\nholidays = [{ name = "元旦", date = 2028-01-01 }]\n', encoding="utf-8")
    result = run("2026-12-29", "--working-days", "5")
    assert result.exit_code == 1
    assert f"{path}: [2027] holidays[0] (元旦): 2028-01-01 is not in 2027" in result.stderr


def test_calendar_days(data_dir: Path) -> None:
    result = run("2026-09-30", "--calendar-days", "60")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-11-29\n"


@pytest.mark.parametrize(
    "args",
    [
        ["2026-02-30", "--working-days", "3"],
        ["30/09/2026", "--working-days", "3"],
    ],
)
def test_a_bad_date_is_a_usage_error(data_dir: Path, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Invalid value for 'DATE'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["2026-09-30"],
        ["2026-09-30", "--working-days", "3", "--calendar-days", "3"],
        ["2026-09-30", "--working-days", "-1"],
    ],
)
def test_bad_day_counts_are_usage_errors(data_dir: Path, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Error:" in result.stderr
