"""``GET /metrics``: the values a scrape gives for data made here (both databases), who may
scrape (the socket peer on loopback with no forwarding header, or the bearer token), and
``hotline metrics token``."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from api import background, metrics
from api.app import create_app
from core.db import transaction
from core.settings import Settings
from custody import integrity
from dispatch.deadlines.rules_source import RulesSource
from hotline import cli, migrate
from ivr import call_store, phones
from ivr.call_state import CallState
from ivr.phones import DeviceState, PhoneChanged

LOOPBACK = ("127.0.0.1", 40001)
ELSEWHERE = ("203.0.113.7", 40002)


def app_settings(data_dir: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )


@dataclass(frozen=True)
class Scraped:
    status_code: int
    headers: dict[str, str]  # lower-case names
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def scrape(settings: Settings, client: tuple[str, int] = LOOPBACK, **headers: str) -> Scraped:
    with TestClient(create_app(settings), client=client) as test_client:
        response = test_client.get("/metrics", headers=headers)
    return Scraped(response.status_code, dict(response.headers), response.text)


def values(body: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels
    }


def test_a_scrape_gives_the_state_of_the_data(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = app_settings(tmp_path, db_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with transaction(sessions) as session:
        for uid, queued in (("w.1", now - dt.timedelta(seconds=25)), ("w.2", None)):
            call_store.save_state(
                session, CallState(uid, started_at=now - dt.timedelta(minutes=1), queued_at=queued)
            )
        report = integrity.Report(
            files_checked=3,
            problems=[integrity.Problem(integrity.MISSING, "a.wav", "gone")],
        )
        integrity.record(session, report, now - dt.timedelta(minutes=30))
    rules = RulesSource(settings.calendar_file, settings.deadline_profile, settings.timezone)
    background.supervise_once(sessions, rules, lambda: now - dt.timedelta(minutes=2))
    # The ivr service's board of the phones (this process stands in for the service).
    phones.write(
        phones.phones_file(settings.run_dir),
        phones.snapshot(
            [
                PhoneChanged("8001", DeviceState.INUSE, now),
                PhoneChanged("8002", DeviceState.NOT_INUSE, now),
            ]
        ),
    )

    response = scrape(settings)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    found = values(response.text)
    assert found["hotline_calls_in_progress"] == 2
    assert found["hotline_queue_waiting"] == 1
    assert 25 <= found["hotline_queue_longest_wait_seconds"] < 25 + 60
    assert found["hotline_operators_known"] == 1
    assert found["hotline_operators_registered"] == 2
    assert found["hotline_operators_busy"] == 1
    assert found["hotline_transcription_backlog"] == 0
    assert found["hotline_supervision_runs_total"] == 1
    assert (
        found["hotline_supervision_last_run_timestamp_seconds"]
        == (now - dt.timedelta(minutes=2)).timestamp()
    )
    assert found["hotline_integrity_problems"] == 1
    assert (
        found["hotline_integrity_last_check_timestamp_seconds"]
        == (now - dt.timedelta(minutes=30)).timestamp()
    )
    assert found["hotline_cases_overdue"] == 0

    phones.write(phones.phones_file(settings.run_dir), None)  # the service lost Asterisk
    found = values(scrape(settings).text)
    assert found["hotline_operators_known"] == 0
    assert "hotline_operators_registered" not in found


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(url)
    yield app_settings(tmp_path, url)


@pytest.mark.parametrize(
    "peer", [("127.0.0.1", 1), ("127.8.9.10", 2), ("::1", 3), ("::ffff:127.0.0.1", 4)]
)
def test_loopback_reads_without_log_in(sqlite_settings: Settings, peer: tuple[str, int]) -> None:
    response = scrape(sqlite_settings, peer)
    assert response.status_code == 200
    assert "hotline_calls_in_progress" in response.text


def test_elsewhere_needs_the_generated_token(sqlite_settings: Settings) -> None:
    settings = sqlite_settings
    bare = scrape(settings, ELSEWHERE)
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"].startswith("Bearer")
    assert "loopback" in bare.json()["detail"]
    # No token is made until someone asks for one: nothing opens the door meanwhile.
    assert not metrics.token_file(settings.data_dir).exists()
    assert scrape(settings, ELSEWHERE, Authorization="Bearer ").status_code == 401
    assert scrape(settings, ELSEWHERE, Authorization="Bearer guess").status_code == 403

    path = metrics.make_token(settings.data_dir)
    token = path.read_text().strip()
    assert len(token) >= 40
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert metrics.make_token(settings.data_dir) == path and path.read_text().strip() == token

    good = scrape(settings, ELSEWHERE, Authorization=f"Bearer {token}")
    assert good.status_code == 200, good.text
    assert "hotline_queue_waiting" in good.text
    lower = scrape(settings, ELSEWHERE, Authorization=f"bearer {token}")
    assert lower.status_code == 200
    wrong = scrape(settings, ELSEWHERE, Authorization=f"Bearer {token[:-1]}x")
    assert wrong.status_code == 403
    assert wrong.json() == {"detail": "wrong metrics token"}
    basic = scrape(settings, ELSEWHERE, Authorization=f"Basic {token}")
    assert basic.status_code == 401


def test_a_forwarded_request_from_loopback_is_not_local(sqlite_settings: Settings) -> None:
    """A reverse proxy on this host connects from loopback: its requests need the token;
    what a forwarding header says is never believed."""
    for header, value in (
        ("X-Forwarded-For", "127.0.0.1"),
        ("Forwarded", "for=127.0.0.1"),
        ("X-Real-IP", "127.0.0.1"),
    ):
        refused = scrape(sqlite_settings, LOOPBACK, **{header: value})
        assert refused.status_code == 401, header
    token = metrics.make_token(sqlite_settings.data_dir).read_text().strip()
    relayed = scrape(
        sqlite_settings,
        LOOPBACK,
        **{"X-Forwarded-For": "198.51.100.4"},
        Authorization=f"Bearer {token}",
    )
    assert relayed.status_code == 200
    # Nor does the header let an outside peer pass as local.
    faked = scrape(sqlite_settings, ELSEWHERE, **{"X-Forwarded-For": "127.0.0.1"})
    assert faked.status_code == 401


def test_the_cli_prints_where_the_token_is_and_rotates_it(sqlite_settings: Settings) -> None:
    env = {
        "HOTLINE_DATA_DIR": str(sqlite_settings.data_dir),
        "HOTLINE_DATABASE_URL": sqlite_settings.database_url,
    }
    runner = CliRunner()
    first = runner.invoke(cli.main, ["metrics", "token"], env=env)
    assert first.exit_code == 0, first.output
    path = metrics.token_file(sqlite_settings.data_dir)
    assert first.output.splitlines()[0] == str(path)
    assert "Authorization: Bearer" in first.output
    token = path.read_text().strip()
    assert token not in first.output, "the token itself is not printed"
    again = runner.invoke(cli.main, ["metrics", "token"], env=env)
    assert again.exit_code == 0 and path.read_text().strip() == token

    rotated = runner.invoke(cli.main, ["metrics", "token", "--rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new = path.read_text().strip()
    assert new != token and os.stat(path).st_mode & 0o777 == 0o600
    old = scrape(sqlite_settings, ELSEWHERE, Authorization=f"Bearer {token}")
    assert old.status_code == 403
    assert scrape(sqlite_settings, ELSEWHERE, Authorization=f"Bearer {new}").status_code == 200
