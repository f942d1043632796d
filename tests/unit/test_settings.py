from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import PROJECT_ROOT, Resampling, Settings, parse_service_hours
from hotline.settings_check import SettingsError, checked

STAGES = (
    "accounts",
    "ivr",
    "recordings",
    "asr",
    "dispatch",
    "custody",
    "api",
    "phones",
    "hotline",
    "bench",
)


def test_defaults_keep_all_state_in_one_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    for folder in (
        settings.spool_dir,
        settings.recordings_dir,
        settings.sounds_dir,
        settings.run_dir,
        settings.log_dir,
        settings.asterisk_dir,
    ):
        assert folder.is_relative_to(tmp_path)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SIP_PORT", "5070")
    monkeypatch.setenv("HOTLINE_OPERATORS", "9001, 9002")
    monkeypatch.setenv("HOTLINE_PROMPTS__THANKS", "谢谢")
    settings = Settings()
    assert settings.sip_port == 5070
    assert settings.operators == ["9001", "9002"]
    assert settings.prompts.thanks == "谢谢"


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = Settings(
        data_dir=tmp_path, api_port=8123, operators=["7001"], service_hours="08:00-20:00"
    )
    for key, value in original.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


@pytest.mark.parametrize(
    "fields",
    [
        {"sip_port": 5038},  # clashes with AMI
        {"operators": ["80 01"]},
        {"hotline_number": "12345a"},
        {"service_hours": "20:00-08:00"},
        {"service_hours": "all day"},
    ],
)
def test_bad_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**fields)  # type: ignore[arg-type]


def test_service_hours() -> None:
    assert parse_service_hours("08:00-20:00") == (dt.time(8), dt.time(20))
    assert parse_service_hours("00:00-24:00") == (dt.time(0), None)


def test_settings_import_no_stage() -> None:
    """The core at the bottom: loading the settings loads no stage (nor its ORM mappings)."""
    probe = (
        "import sys, core.settings; "
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert not set(STAGES) & set(loaded)


def test_the_resampling_choice_is_a_checked_setting() -> None:
    assert Settings(asr_resampling="sox").asr_resampling is Resampling.SOX  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(asr_resampling="linear")  # type: ignore[arg-type]


def test_the_stages_accept_the_default_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert checked(settings) is settings


def test_the_stages_refusals_name_each_setting() -> None:
    """Values only a stage can judge pass core's validation and are refused by the check at
    start-up, one line per setting, with the stage's own reason."""
    settings = Settings(
        recording_retention_years=4, deadline_profile="weekly", case_number_format="{seq}{seq}"
    )
    with pytest.raises(SettingsError) as refused:
        checked(settings)
    assert refused.value.problems == [
        "case_number_format: case number format needs exactly one {seq} field",
        "recording_retention_years: recording_retention_years must be at least 5 (recordings "
        "are evidence and are kept 5 years); got 4",
        "deadline_profile: unknown deadline profile 'weekly'; known profiles: hotline, xinfang",
    ]


@pytest.mark.parametrize("name", ["db01", "File7", "shell", "evalx"])
def test_an_operator_name_asterisk_would_not_originate_for_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="may not contain"):
        Settings(operators=[name])


def test_live_recognisers_are_host_port_items() -> None:
    assert Settings(asr_live_port=9300).live_recognisers == (("127.0.0.1", 9300),)
    listed = Settings(asr_live_recognisers="10.0.0.2:9000, 10.0.0.3:9001")
    assert listed.live_recognisers == (("10.0.0.2", 9000), ("10.0.0.3", 9001))
    with pytest.raises(ValidationError, match="host:port"):
        Settings(asr_live_recognisers="10.0.0.2")


@pytest.mark.parametrize("measure", ["satisfaction", "on_time"])
def test_the_black_list_line_may_not_sit_above_the_red_list_line(measure: str) -> None:
    with pytest.raises(ValidationError, match=f"black_list_{measure}"):
        Settings.model_validate({f"red_list_{measure}": 0.8, f"black_list_{measure}": 0.9})
    same = Settings.model_validate({f"red_list_{measure}": 0.9, f"black_list_{measure}": 0.9})
    assert getattr(same, f"black_list_{measure}") == 0.9
