"""Finding a stored recording by id, and its file in the store. Only well-formed ids reach
the database, and only paths inside the store are ever opened."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from core.ids import is_id
from recordings.models import Recording


def well_formed(identifier: str) -> bool:
    return is_id(identifier)


def find(session: Session, recording_id: str) -> Recording | None:
    """Only well-formed ids reach the database; no request ever names a path."""
    if not well_formed(recording_id):
        return None
    recording = session.get(Recording, recording_id)
    return recording if recording is not None and recording.purged_at is None else None


def file_of(store_root: Path, recording: Recording) -> Path | None:
    root = store_root.resolve()
    path = (root / recording.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
