"""Finding a stored recording by id or by its call, and its file in the store. Only
well-formed ids reach the database, and only paths inside the store are ever opened. Where
the bytes may be in an object store, readers ask ``recordings.storage.Storage`` by the
recording's key (:func:`key_of`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id
from recordings import manifest
from recordings.models import Recording
from recordings.storage import Storage


def find(session: Session, recording_id: str) -> Recording | None:
    """Only well-formed ids reach the database; no request ever names a path."""
    if not is_id(recording_id):
        return None
    recording = session.get(Recording, recording_id)
    return recording if recording is not None and recording.purged_at is None else None


def file_of(store_root: Path, recording: Recording) -> Path | None:
    root = store_root.resolve()
    path = (root / recording.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def key_of(recording: Recording) -> str:
    """The recording's key: its path under the data folder and its object's name in the
    bucket (the manifest's data path)."""
    return manifest.data_path(manifest.RECORDING, recording.path)


def of_call(session: Session, call_id: str) -> Recording | None:
    """The call's recording (purged or not), None if it has none."""
    return session.scalar(select(Recording).where(Recording.call_id == call_id))


def of_calls(session: Session, call_ids: Collection[str]) -> dict[str, Recording]:
    """Each listed call's recording by call id, in a query per 500 calls (not one per call);
    calls without a recording are left out."""
    ids = list(dict.fromkeys(call_ids))
    found: dict[str, Recording] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            (r.call_id, r)
            for r in session.scalars(select(Recording).where(Recording.call_id.in_(chunk)))
        )
    return found


@dataclass(frozen=True)
class Located:
    """A stored file found by its key: its size, and its file in the data folder when the
    bytes are there (None: only in the object store)."""

    key: str
    size: int
    local: Path | None


def local_file(storage: Storage, key: str) -> Path | None:
    """The key's file in the data folder, if it is a regular file inside its kind's folder
    (``recordings/``, ``attachments/``, ``archives/``, which may itself be a link to another
    disk); a key that is not a relative path, or a link out of that folder, is not."""
    try:
        path = storage.local_path(key)
    except ValueError:
        return None
    root = (storage.data_dir / PurePosixPath(key).parts[0]).resolve()
    path = path.resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def locate(storage: Storage, key: str, local: Path | None = None) -> Located | None:
    """Where the key's bytes are now (``local``: the data folder's file, when the caller has
    looked already); None if nowhere. Asks the object store only when the data folder has no
    file (``StoreUnavailable`` if it cannot be reached)."""
    local = local or local_file(storage, key)
    if local is not None:
        return Located(key, local.stat().st_size, local)
    if storage.remote is None:
        return None
    info = storage.remote.stat(key)
    return Located(key, info.size, None) if info is not None else None
