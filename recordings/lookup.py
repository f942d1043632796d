"""Finding a stored recording by id or by its call, and its file in the store. Only
well-formed ids reach the database, and only paths inside the store are ever opened."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id
from recordings.models import Recording


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
