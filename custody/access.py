"""The access log: every play, download, waveform, export, transcript read and refused
attempt, append-only and hash-chained.

A play is a listening that began: the console's players load nothing before the listener
presses play (``preload="none"``), so the first request for a recording's audio is the start
of hearing it. The player then asks for more of it (the rest, a seek): each of those is
logged too, as ``range`` (the same listening going on), not as another play."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from custody.models import RecordingAccess
from recordings import chain, ledger

PLAY, DOWNLOAD, EXPORT = "play", "download", "export"
WAVEFORM = "waveform"  # a recording's peaks: they show that it exists and how loud it is
TRANSCRIPT = "transcript"  # a call's transcript shown (byte_range says where: page, list…)
RANGE = "range"  # more of a recording its listener is already playing (the rest, a seek)
ALLOWED, DENIED = "allowed", "denied"
# A request for audio within this time of the same person's last one for the recording is
# the same listening going on.
LISTENING_GAP = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Attempt:
    actor: str
    role: str
    client: str
    action: str
    outcome: str
    recording_id: str | None = None
    case_id: str | None = None
    reason: str = ""
    byte_range: str = ""


def fields(row: RecordingAccess) -> dict[str, chain.Field]:
    return {
        "id": row.id,
        "recording_id": row.recording_id,
        "case_id": row.case_id,
        "accessed_at": row.accessed_at,
        "actor": row.actor,
        "role": row.role,
        "client": row.client,
        "action": row.action,
        "outcome": row.outcome,
        "reason": row.reason,
        "byte_range": row.byte_range,
    }


def log(session: Session, attempt: Attempt, now: dt.datetime) -> RecordingAccess:
    """Append one entry, chained to the one before, inside the caller's transaction."""
    return log_many(session, [attempt], now)[0]


def log_listening(session: Session, attempt: Attempt, now: dt.datetime) -> RecordingAccess:
    """Log a request for a recording's audio to play: the first of a listening is a PLAY; one
    that follows the same person's allowed request for it within LISTENING_GAP is RANGE.
    Refused requests stay what was attempted (a play)."""
    ledger.lock(session, "access")  # two requests at once cannot both be the first
    if attempt.action == PLAY and attempt.outcome == ALLOWED and attempt.recording_id:
        last = session.scalar(
            select(func.max(RecordingAccess.accessed_at)).where(
                RecordingAccess.recording_id == attempt.recording_id,
                RecordingAccess.actor == attempt.actor[:128],
                RecordingAccess.action.in_([PLAY, RANGE]),
                RecordingAccess.outcome == ALLOWED,
            )
        )
        if last is not None and now - last <= LISTENING_GAP:
            attempt = replace(attempt, action=RANGE)
    return log(session, attempt, now)


def log_many(
    session: Session, attempts: Sequence[Attempt], now: dt.datetime
) -> list[RecordingAccess]:
    """Append entries in order, each chained to the one before, taking the chain's lock and
    reading its tail once (a page listing many transcripts)."""
    if not attempts:
        return []
    ledger.lock(session, "access")
    tail = session.scalar(select(RecordingAccess).order_by(RecordingAccess.id.desc()).limit(1))
    rows = []
    for attempt in attempts:
        row = RecordingAccess(
            id=(tail.id + 1) if tail else 1,
            recording_id=attempt.recording_id,
            case_id=attempt.case_id,
            accessed_at=now,
            actor=attempt.actor[:128],
            role=attempt.role,
            client=attempt.client[:128],
            action=attempt.action,
            outcome=attempt.outcome,
            reason=attempt.reason,
            byte_range=attempt.byte_range[:64],
            prev_hash=tail.entry_hash if tail else chain.GENESIS,
        )
        row.entry_hash = chain.entry_hash(row.prev_hash, fields(row))
        session.add(row)
        rows.append(row)
        tail = row
    session.flush()
    return rows


def entries(
    session: Session,
    case_id: str | None = None,
    recording_ids: Sequence[str] = (),
    limit: int | None = None,
) -> list[RecordingAccess]:
    """Newest first; for one case, its own entries and those of its recordings."""
    query = select(RecordingAccess).order_by(RecordingAccess.id.desc())
    if case_id is not None:
        query = query.where(
            or_(
                RecordingAccess.case_id == case_id,
                RecordingAccess.recording_id.in_(list(recording_ids)),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def breaks(session: Session) -> list[chain.Break]:
    def links() -> Iterator[chain.Link]:
        rows = session.scalars(
            select(RecordingAccess).order_by(RecordingAccess.id).execution_options(yield_per=2000)
        )
        for row in rows:
            yield chain.Link(row.id, fields(row), row.prev_hash, row.entry_hash)

    return chain.check(links())
