"""A real SeaweedFS object store for tests (``hotline.object_store_process``), on loopback and
free ports, in a temporary folder. The session fixture ``object_store`` (tests/conftest.py)
shares one; a test that stops and starts the store runs its own with ``running_object_store``.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import Settings
from hotline import object_store_process
from recordings import objects


@dataclass(frozen=True)
class ObjectStoreServer:
    root: Path
    host: str
    s3_port: int
    bucket: str
    credentials: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    def settings_fields(self) -> dict[str, Any]:
        """The settings that point the hotline at this store, as fields."""
        return {
            "object_store_url": self.url,
            "object_store_bucket": self.bucket,
            "object_store_credentials": self.credentials,
        }

    def settings(self, **fields: Any) -> Settings:
        """Settings with these fields, pointed at this store."""
        return Settings(**{**self.settings_fields(), **fields})

    @staticmethod
    def new_prefix() -> str:
        """A folder of the bucket of a test's own (``object_store_prefix``): tests share the
        store, and one whose verify lists the bucket must see only its own objects."""
        return f"t-{uuid.uuid4().hex[:12]}/"

    def store(self, prefix: str = "") -> objects.S3Store:
        return objects.S3Store(
            self.url, self.bucket, objects.read_credentials(self.credentials), prefix=prefix
        )

    def start(self) -> int:
        return object_store_process.start(
            self.root, self.host, self.s3_port, self.credentials, bucket=self.bucket
        )

    def stop(self) -> None:
        object_store_process.stop(self.root)

    def running(self) -> bool:
        return object_store_process.running(self.root)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_object_store(
    host: str = "127.0.0.1", bucket: str = "hotline"
) -> Iterator[ObjectStoreServer]:
    """A SeaweedFS store while the block runs; stopped and its folder removed after."""
    root = Path(tempfile.mkdtemp(prefix="hotline-s3-"))
    credentials = root / "object-store.json"
    object_store_process.write_credentials(credentials)
    server = ObjectStoreServer(root / "store", host, _free_port(host), bucket, credentials)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
