"""The case side of the call ↔ recording ↔ case links: when a call's recording enters the
store, the case already registered from that call (if any) points at it. Handed to the
recording ingest as its ``link_case`` by the composition root."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from recordings.links import LinkError


def link_recording(session: Session, call_id: str, recording_id: str) -> str | None:
    """Point the case registered from the call at the recording; its id, None if no case
    was registered from the call. A case pointing at another recording: :class:`LinkError`."""
    case = session.scalar(select(Case).where(Case.call_id == call_id))
    if case is None:
        return None
    if case.recording_id not in (None, recording_id):
        raise LinkError(
            f"case {case.number} of call {call_id} points at recording {case.recording_id}"
        )
    case.recording_id = recording_id
    return case.id
