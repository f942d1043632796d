"""Finding recordings by id and logging every access to them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy.orm import Session

from recordings.models import Recording, RecordingAccess

_ID = re.compile(r"^[0-9a-f]{32}$")


def find(session: Session, recording_id: str) -> Recording | None:
    """Only well-formed ids reach the database; no request ever names a path."""
    if not _ID.fullmatch(recording_id):
        return None
    return session.get(Recording, recording_id)


def file_of(store_root: Path, recording: Recording) -> Path | None:
    root = store_root.resolve()
    path = (root / recording.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def log_access(
    session: Session,
    recording: Recording,
    *,
    actor: str,
    client: str,
    action: str,
    byte_range: str,
    now: dt.datetime,
) -> None:
    session.add(
        RecordingAccess(
            recording_id=recording.id,
            accessed_at=now,
            actor=actor,
            client=client,
            action=action,
            byte_range=byte_range[:64],
        )
    )
