"""The call ↔ recording ↔ case links, checked when a recording enters the store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from ivr.models import Call


class LinkError(RuntimeError):
    """The links disagree; the recording is not stored (it stays in the spool)."""


def check(session: Session, call: Call, recording_id: str, relative_path: str) -> Case | None:
    """Check that the call has no recording yet, that the file is named by the recording,
    and that a case already registered from the call points at no other recording. Returns
    that case (the caller links it once the recording row exists)."""
    if call.recording is not None and call.recording.id != recording_id:
        raise LinkError(f"call {call.id} already has recording {call.recording.id}")
    if not relative_path.endswith(f"/{recording_id}.wav"):
        raise LinkError(f"store path {relative_path} does not name recording {recording_id}")
    case = session.scalar(select(Case).where(Case.call_id == call.id))
    if case is not None and case.recording_id not in (None, recording_id):
        raise LinkError(f"case {case.number} of call {call.id} points at recording "
                        f"{case.recording_id}")
    return case
