"""Loaded by every Python process of a ``scripts/test-future`` run (this folder is first on
PYTHONPATH): the wall clock moves FUTURE_CLOCK_DAYS days ahead with time-machine and keeps
ticking; the monotonic clock, sleeps and timed waits stay real.

libfaketime cannot do this for Python: Debian's 0.9.10 either fails every ``time.sleep``
with EINVAL (FAKETIME_DONT_FAKE_MONOTONIC=1) or, with the monotonic clock moved too, makes
every timed wait (``threading.Event.wait``, ``queue.get``, lock timeouts) sleep for the whole
offset, since Python's ``sem_clockwait`` is not intercepted.
"""

import datetime as dt
import os

_days = os.environ.get("FUTURE_CLOCK_DAYS", "")
if _days.isdigit():
    import time_machine

    time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=int(_days)), tick=True).start()
