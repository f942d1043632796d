"""The operators on /metrics and the 现在 dashboard with several nodes (issue 18): an API host
that is not a node has no phones file, so the operators come from the nodes' heartbeats
(summed over the nodes alive, each node labelled); the single machine keeps reading its file.
Both databases."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from hotline.ivr_service import _node_beat
from ivr import phones
from ivr.node_models import NodeBeat, write_heartbeat
from ivr.phones import DeviceState, PhoneChanged
from tests.api_actor import Actor
from tests.builders import add_user

LOOPBACK = ("127.0.0.1", 40001)


def beat(
    name: str, at: dt.datetime, registered: int, busy: int, ringing: int, ami: bool = True
) -> NodeBeat:
    return NodeBeat(
        name=name,
        sip_address="127.0.6.1:5070",
        ami_connected=ami,
        operators_registered=registered,
        operators_free=registered - busy - ringing,
        calls_active=busy,
        started_at=at - dt.timedelta(minutes=5),
        at=at,
        operators_ringing=ringing,
        operators_busy=busy,
    )


def scrape(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        body = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def a_phones_file(settings: Settings, registered: int) -> None:
    """What an ivr service on this host would have written (its own phones only)."""
    board = phones.PhoneBoard()
    at = dt.datetime.now(dt.UTC)
    for n in range(registered):
        board = phones.apply(board, PhoneChanged(f"80{n:02d}", DeviceState.NOT_INUSE, at))
    path = phones.phones_file(settings.run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    phones.write(path, board)


def test_the_operators_of_every_node_alive_are_summed(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
        node_down_seconds=10,
    )
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        write_heartbeat(session, beat("a", now, registered=3, busy=1, ringing=1))
        write_heartbeat(session, beat("b", now - dt.timedelta(seconds=2), 2, 0, 1))
        write_heartbeat(session, beat("c", now - dt.timedelta(seconds=60), 9, 9, 0))  # down
        write_heartbeat(session, beat("d", now, 4, 4, 0, ami=False))  # phones unknown
    scraped = scrape(settings)  # this host has no phones file: it is no node
    assert scraped[("hotline_operators_known", ())] == 1
    assert scraped[("hotline_operators_registered", ())] == 5
    assert scraped[("hotline_operators_busy", ())] == 1
    assert scraped[("hotline_operators_ringing", ())] == 2
    per_node = {
        (name, dict(labels)["node"]): value
        for (name, labels), value in scraped.items()
        if name.startswith("hotline_node_operators_")
    }
    assert per_node == {
        ("hotline_node_operators_registered", "a"): 3,
        ("hotline_node_operators_registered", "b"): 2,
        ("hotline_node_operators_busy", "a"): 1,
        ("hotline_node_operators_busy", "b"): 0,
        ("hotline_node_operators_ringing", "a"): 1,
        ("hotline_node_operators_ringing", "b"): 1,
    }

    # A phones file on this host (a node's own phones) does not replace the nodes' sum.
    a_phones_file(settings, 7)
    assert scrape(settings)[("hotline_operators_registered", ())] == 5

    # The supervisors' 现在 dashboard: busy / registered of the nodes.
    add_user(sessions, "sup", "supervisor")
    app = create_app(settings)
    with TestClient(app):
        page = Actor(app, "sup").fetch("/reports")
    assert page.status_code == 200
    shown = re.search(r'id="now-operators">([^<]*)<', page.text)
    assert shown is not None and shown.group(1) == "1/5"

    # Every node down: unknown, never a stale count.
    with transaction(sessions) as session:
        for name in ("a", "b"):
            write_heartbeat(session, beat(name, now - dt.timedelta(seconds=60), 3, 1, 1))
    gone = scrape(settings)
    assert gone[("hotline_operators_known", ())] == 0
    assert ("hotline_operators_registered", ()) not in gone


def test_the_single_machine_reads_its_phones_file(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
    )
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:  # the single machine writes its row as ""
        write_heartbeat(session, beat("", now, registered=9, busy=9, ringing=0))
    a_phones_file(settings, 2)
    scraped = scrape(settings)
    assert scraped[("hotline_operators_registered", ())] == 2
    assert not any(name.startswith("hotline_node_") for name, _ in scraped)


def test_the_heartbeat_says_how_many_phones_ring_and_are_on_a_call(tmp_path: Path) -> None:
    at = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)
    board = phones.PhoneBoard()
    for name, state in (
        ("8001", DeviceState.NOT_INUSE),
        ("8002", DeviceState.RINGING),
        ("8003", DeviceState.INUSE),
        ("8004", DeviceState.ONHOLD),
        ("8005", DeviceState.UNAVAILABLE),
    ):
        board = phones.apply(board, PhoneChanged(name, state, at))
    settings = Settings(data_dir=tmp_path, node_name="a")
    tracker = SimpleNamespace(active={})
    node = _node_beat(settings, at, {"ami": True}, [board], tracker)  # type: ignore[arg-type]
    assert (node.operators_registered, node.operators_free) == (4, 1)
    assert (node.operators_ringing, node.operators_busy) == (1, 2)
    unknown = _node_beat(settings, at, {"ami": False}, [board], tracker)  # type: ignore[arg-type]
    assert (unknown.operators_ringing, unknown.operators_busy) == (0, 0)
