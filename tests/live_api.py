"""The API served for real: uvicorn on a free loopback port, in a thread of the test process;
and a raw HTTP/1.1 client that can send a request's head without (all of) its body."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from core.settings import Settings
from core.waiting import wait_for


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` on ``settings.api_port``; yields the base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.api_port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="live-api")
    thread.start()
    try:
        wait_for(lambda: server.started, 30, "the API to start", 0.05)
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.should_exit = True
        thread.join(30)


class RawRequest:
    """One connection; the test decides how much of the body to send before reading."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def __enter__(self) -> RawRequest:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()

    def head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [
            f"{method} {path} HTTP/1.1",
            "Host: 127.0.0.1",
            *(f"{name}: {value}" for name, value in headers.items()),
            "",
            "",
        ]
        self.sock.sendall("\r\n".join(lines).encode("latin-1"))

    def send(self, data: bytes) -> bool:
        """Send more of the body; False once the server has stopped taking it."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def answer(self, timeout: float = 10) -> tuple[int, bytes]:
        """The status and what arrived of the answer, waiting at most ``timeout`` seconds
        (the body is still unsent: a server that waits for it never answers in time)."""
        deadline = time.monotonic() + timeout
        received = b""
        while not self._complete(received):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no (whole) answer within {timeout} s: {received!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        status = int(received.split(b" ", 2)[1]) if received else 0
        return status, received

    @staticmethod
    def _complete(received: bytes) -> bool:
        head, found, body = received.partition(b"\r\n\r\n")
        if not found:
            return False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value.strip())
        return True
