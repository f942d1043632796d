from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings, parse_service_hours


def test_defaults_keep_all_state_in_one_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    for folder in (settings.spool_dir, settings.recordings_dir, settings.sounds_dir,
                   settings.run_dir, settings.log_dir, settings.asterisk_dir):
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
    original = Settings(data_dir=tmp_path, api_port=8123, operators=["7001"],
                        service_hours="08:00-20:00")
    for key, value in original.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


@pytest.mark.parametrize("fields", [
    {"sip_port": 5038},  # clashes with AMI
    {"operators": ["80 01"]},
    {"hotline_number": "12345a"},
    {"service_hours": "20:00-08:00"},
    {"service_hours": "all day"},
])
def test_bad_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**fields)  # type: ignore[arg-type]


def test_service_hours() -> None:
    assert parse_service_hours("08:00-20:00") == (dt.time(8), dt.time(20))
    assert parse_service_hours("00:00-24:00") == (dt.time(0), None)
