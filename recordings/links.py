"""The call ↔ recording ↔ case links, checked when a recording enters the store. The case
side belongs to dispatch, a later stage: it is handed in as a :class:`CaseLinker`."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from ivr.models import Call
from recordings import lookup


class LinkError(RuntimeError):
    """The links disagree; the recording is not stored (it stays in the spool)."""


class CaseLinker(Protocol):
    def __call__(self, session: Session, call_id: str, recording_id: str) -> str | None:
        """Point the case registered from the call, if any, at the recording (already in
        the session) and return the case's id; raise :class:`LinkError` when that case
        points at another recording."""


def check(session: Session, call: Call, recording_id: str, relative_path: str) -> None:
    """Check that the call has no other recording yet and that the file is named by the
    recording (the case side is the :class:`CaseLinker`'s)."""
    existing = lookup.of_call(session, call.id)
    if existing is not None and existing.id != recording_id:
        raise LinkError(f"call {call.id} already has recording {existing.id}")
    if not relative_path.endswith(f"/{recording_id}.wav"):
        raise LinkError(f"store path {relative_path} does not name recording {recording_id}")
