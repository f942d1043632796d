"""The nodes' rows: each ivr service's heartbeat (``NodeHeartbeat``) and ``hotline status``
showing every node from the database, up or DOWN by its heartbeat's age (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from asr import recognisers
from core.clock import utc_now
from core.db import transaction
from core.settings import Settings
from hotline.cli import main
from hotline.ivr_status import NodeHeartbeat, read_nodes
from ivr import nodes
from ivr.node_models import NodeBeat, all_nodes


def beat(name: str, at: dt.datetime, free: int = 1, calls: int = 0) -> NodeBeat:
    return NodeBeat(
        name=name,
        sip_address=f"127.0.3.{1 + len(name)}:5060",
        ami_connected=True,
        operators_registered=2,
        operators_free=free,
        calls_active=calls,
        started_at=at - dt.timedelta(minutes=5),
        at=at,
    )


def test_heartbeats_refresh_each_nodes_row_and_feed_the_weights(
    sessions: sessionmaker[Session],
) -> None:
    now = utc_now()
    beats = {"a": beat("a", now - dt.timedelta(seconds=30), free=0)}
    heart_a = NodeHeartbeat(sessions, lambda: beats["a"], 2.0)
    heart_b = NodeHeartbeat(sessions, lambda: beat("b", now, free=2, calls=3), 2.0)
    heart_a.write_once()
    heart_b.write_once()
    beats["a"] = beat("a", now, free=3, calls=1)
    heart_a.write_once()  # the row is refreshed, not doubled
    with sessions() as session:
        rows = all_nodes(session)
    assert [(r.name, r.operators_free, r.calls_active) for r in rows] == [
        ("a", 3, 1),
        ("b", 2, 3),
    ]
    up = nodes.alive(rows, now + dt.timedelta(seconds=1), dt.timedelta(seconds=10))
    shares = nodes.weights(up)
    assert sum(shares.values()) == 100 and shares["a"] > shares["b"]


def test_status_shows_every_node_up_or_down(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc_now()
    NodeHeartbeat(sessions, lambda: beat("a", now, free=1, calls=2), 2.0).write_once()
    NodeHeartbeat(sessions, lambda: beat("b", now - dt.timedelta(seconds=60)), 2.0).write_once()
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, node_down_seconds=10)
    lines = read_nodes(settings, now + dt.timedelta(seconds=1))
    assert [(n.name, n.up) for n in lines] == [("a", True), ("b", False)]
    assert "operators 1 free of 2 registered, 2 calls now" in lines[0].line()
    assert lines[1].line().startswith("node b    DOWN  127.0.3.2:5060, no heartbeat for 61 s")

    with transaction(sessions) as session:  # a live recogniser registered on another host
        recognisers.heartbeat(session, "127.0.3.7:9092", 3, now, now)
        # and this machine's own (its asr-live line says it already)
        recognisers.heartbeat(session, "127.0.0.1:9092", 1, now, now)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("HOTLINE_NODE_DOWN_SECONDS", "10")
    text = CliRunner().invoke(main, ["status"])
    assert text.exit_code == 1, "this machine's parts are not running"
    out = text.output.splitlines()
    assert out[0].startswith("asterisk") and any(line.startswith("api") for line in out)
    assert [line.split()[:3] for line in out if line.startswith("node")] == [
        ["node", "a", "up"],
        ["node", "b", "DOWN"],
    ]
    done = CliRunner().invoke(main, ["status", "--json"])
    report = json.loads(done.output)
    assert [(n["name"], n["status"]) for n in report["nodes"]] == [("a", "up"), ("b", "DOWN")]
    assert report["nodes"][0]["operators_free"] == 1 and report["nodes_error"] == ""
    assert {p["name"] for p in report["parts"]} >= {"asterisk", "ivr", "api"}
    assert [(r["name"], r["status"], r["capacity"]) for r in report["recognisers"]] == [
        ("127.0.0.1:9092", "up", 1),
        ("127.0.3.7:9092", "up", 3),
    ]
    shown = [line for line in out if line.startswith("live asr")]
    assert len(shown) == 1 and shown[0].startswith("live asr  up    127.0.3.7:9092, 0 of 3 calls")


def test_status_says_when_the_nodes_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    done = CliRunner().invoke(main, ["status"])
    assert "nodes unknown: the database cannot be read" in done.output
