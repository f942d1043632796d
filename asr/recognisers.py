"""Live recognisers that announce themselves: each live listener (``hotline serve asr-live``),
on whatever host, writes a :class:`Recogniser` row — the ``host:port`` Asterisk streams to, the
number of calls it can take at once, a heartbeat — and the nodes' ``LiveRequests`` choose among
the live ones (:func:`choose`): the first with room, by its own capacity and its load from the
``live_streams`` rows. When no recogniser has registered (or none is alive), the static list
``asr_live_recognisers`` with ``asr_live_capacity`` each stays in use, as before; when none has
room, the call is transcribed from its recording by the batch workers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

NAME = 128  # live_streams.recogniser


class Recogniser(Base):
    __tablename__ = "live_recognisers"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)  # host:port
    capacity: Mapped[int] = mapped_column(Integer)  # calls at once (two streams each)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Room:
    """A recogniser a node may send a call to: its ``host:port`` name and its capacity."""

    name: str
    capacity: int


# -- pure -----------------------------------------------------------------------------------


def choose(rooms: Sequence[Room], load: Mapping[str, int]) -> Room | None:
    """The recogniser with the most room left (free places, then name: deterministic),
    ``None`` when every one is full. ``load``: calls per recogniser name."""
    best: Room | None = None
    best_free = 0
    for room in sorted(rooms, key=lambda r: r.name):
        free = room.capacity - load.get(room.name, 0)
        if free > best_free:
            best, best_free = room, free
    return best


def live_rooms(rows: Sequence[Recogniser], now: dt.datetime, max_age: dt.timedelta) -> list[Room]:
    """The registered recognisers whose heartbeat is at most ``max_age`` old (and whose name
    is a ``host:port``)."""
    return [
        Room(row.name, row.capacity)
        for row in sorted(rows, key=lambda r: r.name)
        if now - row.heartbeat_at <= max_age and _is_address(row.name)
    ]


def _is_address(name: str) -> bool:
    host, _, port = name.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


# -- database --------------------------------------------------------------------------------


def registered(session: Session) -> list[Recogniser]:
    return list(session.scalars(select(Recogniser).order_by(Recogniser.name)))


def heartbeat(
    session: Session, name: str, capacity: int, now: dt.datetime, started_at: dt.datetime
) -> None:
    """Write (or refresh) this listener's row."""
    row = session.get(Recogniser, name)
    if row is None:
        session.add(
            Recogniser(name=name, capacity=capacity, started_at=started_at, heartbeat_at=now)
        )
    else:
        row.capacity = capacity
        row.started_at = started_at
        row.heartbeat_at = now


def withdraw(session: Session, name: str) -> None:
    """A listener stopping cleanly takes its row away (no new calls are sent to it)."""
    row = session.get(Recogniser, name)
    if row is not None:
        session.delete(row)
