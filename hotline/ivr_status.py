"""The ivr service's status file (``<run>/ivr.json``): written by the service as its AMI and
FastAGI come and go, read by ``hotline status`` and ``hotline up``. Kept apart from the service's
wiring so that reading it loads none of the telephony.

Also the node's row in the database (issue 18): the service heartbeats it
(:class:`NodeHeartbeat`), and ``hotline status`` shows every node's (:func:`read_nodes`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from asr import recognisers
from asr.live_requests import load as live_load
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from ivr import nodes
from ivr.node_models import Node, NodeBeat, all_nodes, write_heartbeat

log = logging.getLogger(__name__)


def status_file(settings: Settings) -> Path:
    return settings.run_dir / "ivr.json"


def write_status(path: Path, **fields: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **fields}), encoding="utf-8")
    os.replace(tmp, path)


# -- the node's row (issue 18) --------------------------------------------------------------


class NodeHeartbeat:
    """Writes the node's row (``ivr.node_models.Node``) every ``interval`` seconds from what
    the ivr service knows: ``beat()`` builds it. A database that cannot be reached is logged
    and tried again at the next beat; it never stops the service."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        beat: Callable[[], NodeBeat],
        interval: float,
    ) -> None:
        self.sessions = sessions
        self.beat = beat
        self.interval = interval
        self.failing = False

    def write_once(self, beat: NodeBeat | None = None) -> None:
        with transaction(self.sessions) as session:
            write_heartbeat(session, beat if beat is not None else self.beat())

    async def run(self) -> None:
        while True:
            try:
                # What the service knows is read on its own loop; only the write is threaded.
                await asyncio.to_thread(self.write_once, self.beat())
            except SQLAlchemyError as error:
                if not self.failing:
                    log.warning("node heartbeat not written: %s", error)
                self.failing = True
            else:
                if self.failing:
                    log.info("node heartbeat written again")
                self.failing = False
            await asyncio.sleep(self.interval)


@dataclass(frozen=True)
class NodeLine:
    """One node as ``hotline status`` shows it."""

    name: str
    up: bool
    sip_address: str
    ami_connected: bool
    operators_registered: int
    operators_free: int
    calls_active: int
    heartbeat_age_seconds: float

    def line(self) -> str:
        label = f"node {self.name}" if self.name else "node"
        where = self.sip_address + (" (this machine)" if not self.name else "")
        if not self.up:
            return (
                f"{label:<9} {'DOWN':<5} {where}, no heartbeat for "
                f"{self.heartbeat_age_seconds:.0f} s"
            )
        return (
            f"{label:<9} {'up':<5} {where}, AMI "
            f"{'connected' if self.ami_connected else 'disconnected'}, operators "
            f"{self.operators_free} free of {self.operators_registered} registered, "
            f"{self.calls_active} calls now, heartbeat {self.heartbeat_age_seconds:.1f} s ago"
        )

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "status": "up" if self.up else "DOWN"}


def node_lines(rows: Sequence[Node], now: dt.datetime, down_after: dt.timedelta) -> list[NodeLine]:
    """Every node's line, in name order: up while its heartbeat is fresh."""
    return [
        NodeLine(
            name=row.name,
            up=nodes.is_alive(row, now, down_after),
            sip_address=row.sip_address,
            ami_connected=row.ami_connected,
            operators_registered=row.operators_registered,
            operators_free=row.operators_free,
            calls_active=row.calls_active,
            heartbeat_age_seconds=max(0.0, (now - row.heartbeat_at).total_seconds()),
        )
        for row in sorted(rows, key=lambda r: r.name)
    ]


def read_nodes(settings: Settings, now: dt.datetime) -> list[NodeLine]:
    """Every node's line from the database (raises SQLAlchemyError when it cannot be read)."""
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = all_nodes(session)
    finally:
        engine.dispose()
    return node_lines(rows, now, dt.timedelta(seconds=settings.node_down_seconds))


@dataclass(frozen=True)
class RecogniserLine:
    """One registered live recogniser as ``hotline status`` shows it."""

    name: str
    up: bool
    capacity: int
    calls: int
    heartbeat_age_seconds: float

    def line(self) -> str:
        label = f"{'up' if self.up else 'DOWN':<5}"
        if not self.up:
            age = self.heartbeat_age_seconds
            return f"{'live asr':<9} {label} {self.name}, no heartbeat for {age:.0f} s"
        return (
            f"{'live asr':<9} {label} {self.name}, {self.calls} of {self.capacity} calls, "
            f"heartbeat {self.heartbeat_age_seconds:.1f} s ago"
        )

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "status": "up" if self.up else "DOWN"}


def read_recognisers(settings: Settings, now: dt.datetime) -> list[RecogniserLine]:
    """Every registered live recogniser with its calls now (raises SQLAlchemyError when the
    database cannot be read)."""
    down_after = dt.timedelta(seconds=settings.node_down_seconds)
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = recognisers.registered(session)
            calls = live_load(session)
    finally:
        engine.dispose()
    return [
        RecogniserLine(
            name=row.name,
            up=now - row.heartbeat_at <= down_after,
            capacity=row.capacity,
            calls=calls.get(row.name, 0),
            heartbeat_age_seconds=max(0.0, (now - row.heartbeat_at).total_seconds()),
        )
        for row in rows
    ]
