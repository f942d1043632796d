"""FastAGI server on panoramisk, with guards for panoramisk 1.4's defects on Python 3.11.

- A client that closes before the blank line ending its headers made panoramisk's header
  loop spin forever on EOF, freezing the event loop. Headers are read here with an EOF check,
  a size cap and a time limit.
- Sync handlers were wrapped with ``asyncio.coroutine``, which Python 3.11 no longer has.
  Only ``async def`` handlers are accepted, refused at registration.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.fast_agi import Application, Request

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT_SECONDS = 10.0

Handler = Callable[[Request], Awaitable[None]]


async def read_headers(
    reader: asyncio.StreamReader,
    encoding: str = "utf-8",
    timeout: float = HEADER_TIMEOUT_SECONDS,
) -> dict[str, str] | None:
    """Read the ``agi_*`` headers up to the blank line; ``None`` if the client went away,
    sent too much, or took too long."""
    buffer = b""
    try:
        async with asyncio.timeout(timeout):
            while b"\n\n" not in buffer:
                chunk = await reader.read(1024)
                if not chunk:
                    return None
                buffer += chunk
                if len(buffer) > MAX_HEADER_BYTES:
                    return None
    except TimeoutError:
        return None
    head = buffer.split(b"\n\n", 1)[0].decode(encoding, errors="replace")
    return OrderedDict(line.split(": ", 1) for line in head.split("\n") if ": " in line)


class FastAgiApplication(Application):  # type: ignore[misc]
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(default_encoding="utf-8", loop=loop)
        self.tasks: set[asyncio.Task[Any]] = set()

    def add_route(self, path: str, endpoint: Handler) -> None:
        is_async = inspect.iscoroutinefunction(endpoint) or (
            callable(endpoint) and inspect.iscoroutinefunction(type(endpoint).__call__)
        )
        if not is_async:
            raise TypeError(
                f"FastAGI handler for {path!r} must be an 'async def' function: "
                "panoramisk cannot run sync handlers on Python 3.11"
            )
        if path in self._route:
            raise ValueError(f"a FastAGI route {path!r} exists already")
        self._route[path] = endpoint

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        try:
            headers = await read_headers(reader, self.default_encoding)
            if headers is None:
                log.warning(
                    "FastAGI client %r closed or stalled before its headers ended",
                    writer.get_extra_info("peername"),
                )
                return
            script = headers.get("agi_network_script", "")
            route = self._route.get(script)
            if route is None:
                log.error("no FastAGI route for %r", script)
                return
            request = Request(
                app=self,
                headers=headers,
                reader=reader,
                writer=writer,
                encoding=self.default_encoding,
            )
            try:
                await route(request)
            except Exception:
                log.exception("FastAGI handler %r raised", script)
        finally:
            writer.close()
