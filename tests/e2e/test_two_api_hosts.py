"""The API on several hosts (issue 18): two `hotline serve api` processes, each with its own
data folder, address and port, sharing one PostgreSQL database, as two hosts behind a load
balancer would. A session opened on one is valid on the other and ended on the other; the
operator's console feed and a call's live transcript (both server-sent events) reach a client
of the second process when the ivr and the live recogniser write their rows to the database —
no event passes through either process's memory."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from asr.live_models import LiveUtterance
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from hotline import migrate
from ivr import call_store
from ivr.call_state import CallState
from tests.builders import PASSWORD, add_live_streams, add_user
from tests.conftest import free_port, new_postgres_database
from tests.e2e.browser import console_api

UID = "b-1700000300.1"  # a call of node b
COOKIE = "hotline_session"


@pytest.fixture(scope="module")
def two_hosts(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    database = new_postgres_database(postgres_server)
    migrate.upgrade(database)
    engine = make_engine(database)
    add_user(make_session_factory(engine), "op1", "operator", phone="8001")
    engine.dispose()
    urls = []
    with ExitStack() as stack:
        for n in (1, 2):
            settings = Settings(
                data_dir=tmp_path_factory.mktemp(f"api-host-{n}"),
                database_url=database,
                api_host=f"127.0.3.{n}",
                api_port=free_port(),
            )
            urls.append(
                stack.enter_context(console_api(settings)).replace("127.0.0.1", settings.api_host)
            )
        yield database, urls


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    """(event, data) of each server-sent event; comments skipped."""
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield kind, json.loads(line.removeprefix("data: "))


def test_a_session_opened_on_one_host_is_valid_and_ended_on_the_other(
    two_hosts: tuple[str, list[str]],
) -> None:
    _, (first, second) = two_hosts
    opened = httpx.post(f"{first}/api/session", json={"username": "op1", "password": PASSWORD})
    assert opened.status_code == 200, opened.text
    cookie = {"Cookie": f"{COOKIE}={opened.cookies[COOKIE]}"}
    who = httpx.get(f"{second}/api/session", headers=cookie)
    assert who.status_code == 200 and who.json()["username"] == "op1"
    csrf = {"X-CSRF-Token": str(who.json()["csrf_token"])}
    assert httpx.delete(f"{second}/api/session", headers={**cookie, **csrf}).status_code == 204
    assert httpx.get(f"{first}/api/session", headers=cookie).status_code == 401


def test_console_and_live_events_written_to_the_database_reach_a_client_of_either_host(
    two_hosts: tuple[str, list[str]],
) -> None:
    database, (first, second) = two_hosts
    engine = make_engine(database)
    sessions = make_session_factory(engine)
    opened = httpx.post(f"{first}/api/session", json={"username": "op1", "password": PASSWORD})
    cookie = {"Cookie": f"{COOKIE}={opened.cookies[COOKIE]}"}
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    timeout = httpx.Timeout(10.0, read=20.0)
    try:
        with httpx.stream(
            "GET", f"{second}/api/console/events", headers=cookie, timeout=timeout
        ) as feed:
            assert feed.status_code == 200
            seen = events(feed.iter_lines())
            assert next(seen)[0] == "hello"
            # The ivr (of whichever node) writes the call and its ringing at the phone.
            with transaction(sessions) as session:
                call = call_store.save_state(
                    session,
                    CallState(
                        UID,
                        caller_number="13900000303",
                        started_at=started,
                        recording_started_at=started,
                    ),
                    "b",
                )
                call_id = call.id
                call_store.announce(session, UID, "8001", "ringing", started)
                add_live_streams(session, UID, started)
            kind, data = next(seen)
            assert (kind, data["call_id"], data["kind"]) == ("call", call_id, "ringing")

        with httpx.stream(
            "GET", f"{second}/api/calls/{call_id}/live", headers=cookie, timeout=timeout
        ) as live:
            assert live.status_code == 200
            # The live recogniser (on whichever host) stores what the caller said.
            with transaction(sessions) as session:
                session.add(
                    LiveUtterance(
                        stream_id="s-caller",
                        call_uniqueid=UID,
                        speaker="caller",
                        final=True,
                        start=1.0,
                        end=3.0,
                        text="我 要 投诉",
                        words=[],
                        at=dt.datetime.now(dt.UTC),
                    )
                )
            kind, data = next(events(live.iter_lines()))
            assert (kind, data["speaker"], data["final"]) == ("utterance", "caller", True)
            assert str(data["text"]).replace(" ", "") == "我要投诉"
    finally:
        engine.dispose()
