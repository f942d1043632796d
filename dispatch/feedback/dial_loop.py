"""What the two dialers share (the satisfaction call-back and the operator's callback dial):
claim due work while AMI is up, dial each item in a task of its own, and read a failed
channel's hang-up cause, which may trail AMI's OriginateResponse."""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

HANGUP_WAIT_SECONDS = 2.0  # how long to wait for a failed channel's Hangup (its cause)
Due = TypeVar("Due")


class Connection(Protocol):
    @property
    def connected(self) -> bool: ...

    def hangup_cause(self, uniqueid: str) -> int | None: ...


class DialLoop(abc.ABC, Generic[Due]):
    """A dialer's loop: ``poll`` claims what is due (``claim``, in a worker thread) and dials
    each item (``dial``) in a task kept in ``calls``; one bad poll never stops ``run_polls``."""

    what = "dial"  # for the logs

    def __init__(
        self, connection: Connection, clock: Callable[[], dt.datetime], poll_seconds: float
    ) -> None:
        self.connection = connection
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.calls: set[asyncio.Task[None]] = set()

    @abc.abstractmethod
    def claim(self, now: dt.datetime) -> list[Due]:
        """Take what is due now (database work, run in a worker thread)."""

    @abc.abstractmethod
    async def dial(self, due: Due) -> None:
        """Dial one claimed item and settle it."""

    async def run_polls(self) -> None:
        """Poll until cancelled."""
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s poll failed", self.what)
            await asyncio.sleep(self.poll_seconds)

    async def poll(self) -> list[Due]:
        """Claim what is due and start dialling it; nothing while AMI is down."""
        if not self.connection.connected:
            return []
        due = await asyncio.to_thread(self.claim, self.clock())
        for item in due:
            task = asyncio.create_task(self.dial(item))
            self.calls.add(task)
            task.add_done_callback(self._dialled)
        return due

    def _dialled(self, task: asyncio.Task[None]) -> None:
        self.calls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", self.what, exc_info=task.exception())

    async def hangup_cause(self, uniqueid: str) -> int | None:
        """The failed channel's hang-up cause, waited for a little: its Hangup event may
        trail the OriginateResponse. None if it never comes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANGUP_WAIT_SECONDS
        while (cause := self.connection.hangup_cause(uniqueid)) is None:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.05)
        return cause

    async def cancel_with(self, *tasks: asyncio.Task[None] | None) -> None:
        """Cancel the calls being placed and ``tasks``, and wait for them to end."""
        running = [*self.calls, *(t for t in tasks if t is not None)]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
