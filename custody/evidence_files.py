"""Stored files as custody reads them (recordings, evidence files, 立卷归档 bundles), wherever
their bytes are: the data folder, else the object store behind it
(``recordings.storage.Storage``, by the manifest's key). With no object store (the default)
every function here does exactly what reading the data folder did before.

A file read for a package is checked against the hash the database recorded for it. With an
object store set, the bytes are copied into a scratch folder while they are hashed (one pass):
the uploader may remove the local copy the moment its object is confirmed, and a package must
not half-read a file that vanished under it (``Storage.read`` opens the local file or the
object at call time, and an open file stays readable to the end)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from custody.errors import CustodyError
from recordings import lookup
from recordings.objects import ObjectMissing, StoreUnavailable
from recordings.storage import Storage
from recordings.store import sha256_file


class StoreDown(CustodyError):
    """The object store that holds the bytes cannot be reached now; try again later."""


def store_down(exc: StoreUnavailable) -> StoreDown:
    return StoreDown("文件存储暂时无法访问，请稍后再试", f"the object store is unavailable: {exc}")


def locate(storage: Storage, key: str, local: Path | None = None) -> lookup.Located | None:
    """Where the key's bytes are now (``lookup.locate``); StoreDown if only the object
    store could say and it cannot be reached."""
    try:
        return lookup.locate(storage, key, local)
    except StoreUnavailable as exc:
        raise store_down(exc) from exc


def chunks(
    storage: Storage, key: str, start: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """The bytes of [start, start+length), opened now (StoreDown, or ObjectMissing, here)."""
    try:
        return storage.read(key, start, length)
    except StoreUnavailable as exc:
        raise store_down(exc) from exc


class Copies:
    """Local files holding stored files' checked bytes, for one package; the ones copied
    are removed when the ``with`` block ends. With no object store, the data folder's own
    files (checked as before)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Copies:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def checked(self, key: str, sha256: str) -> Path | None:
        """A file with the key's bytes, if they are somewhere and their SHA-256 is
        ``sha256``; None if missing or altered. StoreDown if the store cannot be reached."""
        if self.storage.remote is None:
            local = lookup.local_file(self.storage, key)
            return local if local is not None and sha256_file(local) == sha256 else None
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="hotline-package-")
        folder = Path(self._scratch.name) / os.urandom(8).hex()
        folder.mkdir()
        target = folder / PurePosixPath(key).name
        return target if copy_checked(self.storage, key, sha256, target) else None


def copy_checked(storage: Storage, key: str, sha256: str, target: Path) -> bool:
    """Copy the key's bytes (the local file, else the object) to ``target`` while hashing
    them; False (and no target) if they are missing or their SHA-256 is not ``sha256``."""
    try:
        source = storage.read(key)
    except (ObjectMissing, ValueError):  # nowhere, or not a stored file's key
        return False
    except StoreUnavailable as exc:
        raise store_down(exc) from exc
    digest = hashlib.sha256()
    try:
        with open(target, "wb") as out:
            for block in source:
                digest.update(block)
                out.write(block)
    except StoreUnavailable as exc:
        target.unlink(missing_ok=True)
        raise store_down(exc) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != sha256:
        target.unlink(missing_ok=True)
        return False
    return True
