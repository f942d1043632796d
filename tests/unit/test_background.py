"""A scheduled job's thread never outlives the service that cancels it."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from api.background import finish_in_thread


def test_cancelling_waits_for_the_thread_to_finish() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(5)
        finished.set()
        return "done"

    async def scenario() -> None:
        job = asyncio.ensure_future(finish_in_thread(work))
        await asyncio.to_thread(started.wait, 5)
        job.cancel()
        asyncio.get_running_loop().call_later(0.2, release.set)
        with contextlib.suppress(asyncio.CancelledError):
            await job
        assert finished.is_set(), "the cancelled job returned before its thread ended"
        assert job.cancelled()

    asyncio.run(scenario())


def test_the_result_comes_back() -> None:
    assert asyncio.run(finish_in_thread(lambda: 42)) == 42
