"""What a call's live transcription holds so far: queries only, for the console's live feed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from asr.live_models import LiveStream, LiveUtterance


def utterances_after(session: Session, call_uniqueid: str, after_id: int) -> list[LiveUtterance]:
    """The call's utterance rows (finals and partials) written after row ``after_id``, oldest
    first. A partial is replaced by a newer row of its stream; a final deletes its stream's
    partials, so a reader keeps the newest row per stream for the text being spoken."""
    return list(
        session.scalars(
            select(LiveUtterance)
            .where(LiveUtterance.call_uniqueid == call_uniqueid, LiveUtterance.id > after_id)
            .order_by(LiveUtterance.id)
        )
    )


def streams_of(session: Session, call_uniqueid: str) -> list[LiveStream]:
    """The call's live streams, in the order they were requested."""
    return list(
        session.scalars(
            select(LiveStream)
            .where(LiveStream.call_uniqueid == call_uniqueid)
            .order_by(LiveStream.requested_at, LiveStream.id)
        )
    )
