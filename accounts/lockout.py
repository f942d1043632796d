"""When repeated failed log-ins lock an account, and for how long. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)

    def after_failure(self, failures_before: int,
                      now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """The new failure count and, once it reaches the limit, when the lock ends."""
        failures = failures_before + 1
        if failures >= self.max_failures:
            return 0, now + self.lock_for
        return failures, None

    @staticmethod
    def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
        return locked_until is not None and now < locked_until
