"""Database row of a node: one Asterisk and its ivr service, sharing the database with others.

Each node's ivr service writes its own row every ``node_heartbeat_seconds`` from what it
knows (AMI connected, operators' phones registered and free, calls in progress); the SIP
router reads the rows for its dispatch weights (``ivr.nodes.weights``) and ``hotline status``
shows them. A row whose ``heartbeat_at`` is old is a node that is down (``ivr.nodes.alive``).
The single machine (``node_name`` empty) writes its row under the name ``""``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

NAME = 16  # nodes.name, calls.node: core.settings.Settings.node_name's pattern


class Node(Base):
    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    sip_address: Mapped[str] = mapped_column(String(64), default="")  # host:port of its Asterisk
    ami_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    operators_registered: Mapped[int] = mapped_column(Integer, default=0)
    operators_free: Mapped[int] = mapped_column(Integer, default=0)
    calls_active: Mapped[int] = mapped_column(Integer, default=0)
    # Issue 18, H6: phones ringing and on a call, for the console and /metrics of any host
    operators_ringing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    operators_busy: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # this ivr service's start
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class NodeBeat:
    """What a node's ivr service knows of its node at one moment."""

    name: str
    sip_address: str
    ami_connected: bool
    operators_registered: int
    operators_free: int
    calls_active: int
    started_at: dt.datetime
    at: dt.datetime
    operators_ringing: int = 0
    operators_busy: int = 0


def write_heartbeat(session: Session, beat: NodeBeat) -> None:
    """Insert or refresh the node's row."""
    values = {
        "sip_address": beat.sip_address,
        "ami_connected": beat.ami_connected,
        "operators_registered": beat.operators_registered,
        "operators_free": beat.operators_free,
        "calls_active": beat.calls_active,
        "operators_ringing": beat.operators_ringing,
        "operators_busy": beat.operators_busy,
        "started_at": beat.started_at,
        "heartbeat_at": beat.at,
    }
    row = session.get(Node, beat.name)
    if row is None:
        session.add(Node(name=beat.name, **values))
        return
    for name, value in values.items():
        setattr(row, name, value)


def all_nodes(session: Session) -> list[Node]:
    return list(session.scalars(select(Node).order_by(Node.name)))
