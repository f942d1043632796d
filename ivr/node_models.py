"""Database row of a node: one Asterisk and its ivr service, sharing the database with others.

Each node's ivr service writes its own row every ``node_heartbeat_seconds`` from what it
knows (AMI connected, operators' phones registered and free, calls in progress); the SIP
router reads the rows for its dispatch weights (``ivr.nodes.weights``) and ``hotline status``
shows them. A row whose ``heartbeat_at`` is old is a node that is down (``ivr.nodes.alive``).
The single machine (``node_name`` empty) writes its row under the name ``""``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # this ivr service's start
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
