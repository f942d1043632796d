"""What readers of stored files use: the local data folder first, then the object store.

A file is written under the data folder and, when an object store is set, uploaded to it and
(once confirmed) removed locally (``recordings.offload``). A reader does not know which of the
two holds the bytes at a given moment: it asks ``Storage`` by key (the manifest's data path,
``manifest.data_path(kind, path)``). A local file opened before the uploader removes it stays
readable to the end (POSIX), so a read never breaks half-way because of the offload.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from recordings.objects import CHUNK, BadRange, ObjectMissing, ObjectStore, s3_store

if TYPE_CHECKING:
    from core.settings import Settings


def check_key(key: str) -> str:
    """A key is a relative POSIX path inside the data folder; anything else is refused."""
    parts = PurePosixPath(key).parts
    if not key or "\\" in key or key.startswith("/") or ".." in parts or "." in parts:
        raise ValueError(f"not a stored file's key: {key!r}")
    return key


@dataclass(frozen=True)
class Storage:
    data_dir: Path
    remote: ObjectStore | None = None

    def local_path(self, key: str) -> Path:
        """Where the file lives (or lived) under the data folder; it may not exist."""
        return self.data_dir / check_key(key)

    def size(self, key: str) -> int:
        """The file's size, wherever it is; ObjectMissing if nowhere."""
        try:
            return self.local_path(key).stat().st_size
        except FileNotFoundError:
            pass
        if self.remote is not None:
            info = self.remote.stat(key)
            if info is not None:
                return info.size
        raise ObjectMissing(key)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of [start, start+length) (to the end when length is None). The file or
        the object is opened at call time (ObjectMissing / StoreUnavailable raise here)."""
        if start < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range start={start} length={length}")
        try:
            handle = open(self.local_path(key), "rb")  # noqa: SIM115 - closed by _file_bytes
        except FileNotFoundError:
            if self.remote is None:
                raise ObjectMissing(key) from None
            return self.remote.read(key, start, length)
        size = os.fstat(handle.fileno()).st_size
        if start and start >= size:
            handle.close()
            raise BadRange(f"{key}: range starts at {start}, the file has {size} bytes")
        return _file_bytes(handle, start, length)

    def fetch(self, key: str, dest_dir: Path) -> Path:
        """A local file with the key's bytes: the local copy if present, else the object
        downloaded into ``dest_dir`` (under the key's file name). The caller checks its hash
        against the manifest."""
        local = self.local_path(key)
        if local.is_file():
            return local
        if self.remote is None:
            raise ObjectMissing(key)
        chunks = self.remote.read(key)
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / PurePosixPath(key).name
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".fetch-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target

    def sha256(self, key: str) -> str:
        """Re-hash the bytes wherever they are (the local file if present, else the object)."""
        digest = hashlib.sha256()
        for chunk in self.read(key):
            digest.update(chunk)
        return digest.hexdigest()


def _file_bytes(handle: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        left = length
        while left is None or left > 0:
            block = handle.read(CHUNK if left is None else min(CHUNK, left))
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block


def storage_for(settings: Settings) -> Storage:
    """The data folder and, when ``object_store_url`` is set, the bucket behind it."""
    return Storage(settings.data_dir, s3_store(settings))
