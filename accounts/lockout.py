"""How failed log-ins are bounded. Pure: no I/O; times are passed in.

Two limits work together. Each account locks for ``lock_for`` after ``max_failures`` failures
in a row, whatever addresses they came from (``LockoutPolicy``; the count lives on the user's
row, see ``service.claim_attempt``). Each client address may fail ``max_failures`` times within
a sliding ``window`` before it is told to wait (``AddressBudget``, kept in the API process):
that bounds how many passwords one address can try, and how many accounts it can lock.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)


class AddressBudget:
    """Failed log-ins per client address within a sliding window, thread-safe.

    A slot is taken *before* the password is checked, so parallel requests cannot overshoot
    the budget, and is given back when the log-in succeeds. Memory stays bounded: addresses
    whose failures have all expired are dropped, and past ``max_addresses`` the least recently
    seen address is forgotten.
    """

    def __init__(
        self, max_failures: int, window: dt.timedelta, max_addresses: int = 100_000
    ) -> None:
        if max_failures < 1 or window <= dt.timedelta(0):
            raise ValueError("an address budget needs at least one failure and a window")
        self.max_failures = max_failures
        self.window = window
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, list[dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, address: str, now: dt.datetime) -> dt.timedelta | None:
        """Take a slot for one attempt at ``now``: None if taken, else how long until one
        frees up (always more than zero)."""
        with self._lock:
            self._forget_expired(now)
            failures = [t for t in self._failures.pop(address, []) if t > now - self.window]
            if len(failures) >= self.max_failures:
                self._failures[address] = failures
                return max(failures[0] + self.window - now, dt.timedelta(seconds=1))
            failures.append(now)
            self._failures[address] = failures  # now the most recently seen
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
            return None

    def give_back(self, address: str, taken_at: dt.datetime) -> None:
        """The attempt taken at ``taken_at`` did not fail (a log-in, or an error of ours)."""
        with self._lock:
            failures = self._failures.get(address)
            if failures is not None and taken_at in failures:
                failures.remove(taken_at)

    def __len__(self) -> int:
        """How many addresses are remembered."""
        with self._lock:
            return len(self._failures)

    def _forget_expired(self, now: dt.datetime) -> None:
        # Least recently seen first: stop at the first address with a live failure.
        while self._failures:
            address, failures = next(iter(self._failures.items()))
            if failures and failures[-1] > now - self.window:
                return
            del self._failures[address]
