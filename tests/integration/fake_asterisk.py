"""A fake Asterisk for FastAGI tests: connects to the real server over a real socket, sends
the AGI headers, records each command and answers it like Asterisk would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

Responder = Callable[[str], str]


def default_responder(command: str) -> str:
    if command.startswith("GET VARIABLE"):
        return "200 result=1 (JOINEMPTY)"
    return "200 result=0"


@dataclass
class FakeAsterisk:
    port: int
    responder: Responder = default_responder
    uniqueid: str = "1700000000.7"
    commands: list[str] = field(default_factory=list)

    def headers(self, script: str = "hotline") -> bytes:
        lines = [
            f"agi_network_script: {script}",
            "agi_request: agi://127.0.0.1/hotline",
            "agi_channel: PJSIP/callers-00000007",
            f"agi_uniqueid: {self.uniqueid}",
            "agi_callerid: 13800138000",
            "agi_calleridname: 张三",
            "agi_extension: 12345",
        ]
        return ("\n".join(lines) + "\n\n").encode()

    async def call(self, script: str = "hotline", timeout: float = 10) -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(self.headers(script))
        await writer.drain()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    command = line.decode().rstrip("\n")
                    self.commands.append(command)
                    reply = self.responder(command)
                    writer.write((reply + "\n").encode())
                    await writer.drain()
                    if reply == "HANGUP":
                        # Asterisk sends HANGUP, then answers the pending command with 511.
                        writer.write(b"511 Command Not Permitted on a dead channel\n")
                        await writer.drain()
        finally:
            writer.close()
        return self.commands
