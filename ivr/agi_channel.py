"""Typed AGI commands on one channel, over a panoramisk FastAGI request."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from panoramisk.fast_agi import Request

log = logging.getLogger(__name__)


class CallerHungUp(Exception):
    """The channel is gone; nothing more can be played to it."""


class AgiCommandError(RuntimeError):
    pass


def quote(argument: str) -> str:
    """Quote one AGI argument."""
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AgiChannel:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.headers: dict[str, str] = dict(request.headers)

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    async def command(self, line: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await self.request.send_command(line)
        except (ConnectionError, ValueError) as exc:
            # EOF from a dead Asterisk parses as an empty status code.
            raise CallerHungUp(f"AGI connection lost during {line!r}") from exc
        error = result.get("error")
        if error == "AGIResultHangup":
            raise CallerHungUp(line)
        if error == "AGIUnknownError" and str(result.get("msg", "")).startswith("511"):
            raise CallerHungUp(line)
        if error == "AGIAppError":
            await self._raise_if_gone(line)
            raise AgiCommandError(f"{line!r} failed: {result.get('msg')}")
        if error:
            raise AgiCommandError(f"{line!r} failed: {error} {result.get('msg', '')}")
        return result

    async def _raise_if_gone(self, line: str) -> None:
        try:
            status = await self.request.send_command("CHANNEL STATUS")
        except (ConnectionError, ValueError) as exc:
            raise CallerHungUp(line) from exc
        if status.get("error"):
            raise CallerHungUp(line)

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def play(self, path_without_extension: str) -> None:
        await self.command(f'STREAM FILE {path_without_extension} ""')

    async def execute(self, application: str, arguments: str = "") -> str:
        result = await self.command(f"EXEC {application} {quote(arguments)}")
        value, _ = result.get("result", ("", ""))
        return str(value)

    async def get_variable(self, name: str) -> str:
        result = await self.command(f"GET VARIABLE {name}")
        _, data = result.get("result", ("", ""))
        return str(data or "")

    async def user_event(self, name: str, **fields: str) -> None:
        # UserEvent separates fields with commas and lines with newlines: keep values whole.
        clean = {k: " ".join(v.replace(",", ";").split()) for k, v in fields.items()}
        body = ",".join([name, *(f"{key}: {value}" for key, value in clean.items())])
        await self.execute("UserEvent", body)

    async def hangup(self) -> None:
        with contextlib.suppress(CallerHungUp):
            await self.command("HANGUP")
