"""Appending to a hash-chained table safely when several processes write at once."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# One advisory lock per chain (PostgreSQL); SQLite writers already hold the database lock
# (``core.db.transaction`` begins IMMEDIATE).
LOCKS = {"manifest": 480_001, "access": 480_002}


def lock(session: Session, chain: str) -> None:
    """Hold the chain's lock until the transaction ends, so the tail read next is the
    tail the new entry follows."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCKS[chain]})
