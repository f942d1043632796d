"""Polling with a deadline: the way to wait for a condition, in code and tests alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | bool | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Call ``condition`` until it returns something truthy; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


async def async_wait_for(
    condition: Callable[[], Awaitable[T | bool | None]],
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
