"""The wall clock, always timezone-aware UTC. Business logic takes ``now`` or a clock
as an argument; only the processes' wiring and the routes read this."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
