"""How failed log-ins are bounded.

Two limits work together. Each account locks for ``lock_for`` after ``max_failures`` failures
in a row, whatever addresses they came from (``LockoutPolicy``; the count lives on the user's
row, see ``service.claim_attempt``). Each client address may fail ``max_failures`` times within
a sliding ``window`` before it is told to wait (``AddressBudget``): that bounds how many
passwords one address can try, and how many accounts it can lock.

The address budget is kept in the database (``login_failures``, one row per attempt not given
back), so that every API host behind a load balancer counts the same failures: N hosts never
allow N times the attempts. Two attempts from one address on two hosts at once are serialised
(a PostgreSQL advisory lock on the address; SQLite's write lock, ``core.db.transaction``), so
the budget is never overshot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Index, Integer, String, delete, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

ADDRESS = 64  # login_failures.address: an IPv6 address with its zone fits


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)


class LoginFailure(Base):
    """One attempt from an address that was not given back (it failed, or is being checked)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(ADDRESS))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AddressOverBudget(Exception):
    """The address has failed too often: ``wait`` (always more than zero) until a slot frees."""

    def __init__(self, wait: dt.timedelta) -> None:
        super().__init__("too many failed log-ins from this address")
        self.wait = wait


def _lock_key(address: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock of one address."""
    return int.from_bytes(hashlib.sha256(address.encode()).digest()[:8], "big", signed=True)


class AddressBudget:
    """Failed log-ins per client address within a sliding window, in the database.

    A slot is taken *before* the password is checked (a row, committed so every host sees
    it), so parallel requests cannot overshoot the budget, and is given back (the row
    deleted) when the log-in succeeds. Rows whose window has passed are deleted as attempts
    come, so the table holds only the failures that still count.
    """

    def __init__(self, max_failures: int, window: dt.timedelta) -> None:
        if max_failures < 1 or window <= dt.timedelta(0):
            raise ValueError("an address budget needs at least one failure and a window")
        self.max_failures = max_failures
        self.window = window

    def take(self, session: Session, address: str, now: dt.datetime) -> int:
        """Take a slot for one attempt at ``now`` and return it, or raise AddressOverBudget.
        ``session`` is in a write transaction (``core.db.transaction``); commit it before the
        password is checked, so that other hosts count the attempt."""
        address = address[:ADDRESS]
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(address)})
        since = now - self.window
        session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.address == address, LoginFailure.at > since
            )
        ).one()
        if count >= self.max_failures and oldest is not None:
            raise AddressOverBudget(max(oldest + self.window - now, dt.timedelta(seconds=1)))
        slot = LoginFailure(address=address, at=now)
        session.add(slot)
        session.flush()
        return slot.id

    def give_back(self, session: Session, slot: int) -> None:
        """The attempt holding ``slot`` did not fail (a log-in, or an error of ours)."""
        session.execute(delete(LoginFailure).where(LoginFailure.id == slot))

    def failures(self, session: Session, address: str, now: dt.datetime) -> int:
        """How many failures of ``address`` count at ``now``."""
        return (
            session.scalar(
                select(func.count()).where(
                    LoginFailure.address == address[:ADDRESS], LoginFailure.at > now - self.window
                )
            )
            or 0
        )
