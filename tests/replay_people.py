"""The people of the replay and transcript tests: one of each role that may or may not hear a
recording, with their operators' phones, logged in on their own clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from tests.api_actor import Actor
from tests.builders import add_user

PEOPLE = [
    ("op1", "operator", "1001"),
    ("op2", "operator", "1002"),
    ("sup1", "supervisor", ""),
    ("inv1", "investigator", ""),
    ("aud1", "auditor", ""),
    ("admin1", "admin", ""),
    ("h_env", "unit_handler", ""),
    ("h_prop", "unit_handler", ""),
]


def settings_with_people(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    """Every person added; the background jobs off; operators replay for 7 days."""
    for name, role, phone in PEOPLE:
        add_user(sessions, name, role, phone)
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
        operator_replay_days=7,
    )


@contextmanager
def logged_in(settings: Settings) -> Iterator[dict[str, Actor]]:
    """Each person logged in to one running app, by name."""
    with TestClient(create_app(settings)) as client:
        actors = {name: Actor(client.app, name) for name, _role, _phone in PEOPLE}
        try:
            yield actors
        finally:
            for actor in actors.values():
                actor.client.close()
