"""When a failed transcription job is tried again, and when it is given up. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asr.models import JobStatus


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    first_delay: dt.timedelta
    longest_delay: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, attempts: int) -> dt.timedelta:
        """Wait after the ``attempts``-th failure: doubling from the first delay, capped."""
        delay: dt.timedelta = self.first_delay * 2 ** max(0, attempts - 1)
        return min(delay, self.longest_delay)

    def after_failure(self, attempts: int, now: dt.datetime) -> tuple[JobStatus, dt.datetime]:
        """The job's next status and when it may run again."""
        if attempts >= self.max_attempts:
            return JobStatus.PARKED, now
        return JobStatus.QUEUED, now + self.delay(attempts)
