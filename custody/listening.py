"""Listening to a recording: its audio (played or downloaded) and its waveform's peaks, under
one decision. Who may: supervisors and investigators after giving a reason (调听事由) for
one of its cases, operators for the calls they handled within their replay window, a unit's
handlers while their unit holds a grant for one of its cases. Every request for a
well-formed id, allowed or not, is an entry in the access log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.ids import is_id
from custody import access, replay
from custody.errors import Denied, NotFound
from custody.models import RecordingGrant
from custody.replay_rules import ROLE, Decision
from custody.requester import Requester, may_ever_listen, unit_of
from dispatch.cases.models import Case
from recordings import lookup
from recordings.models import Recording

ROLE_REFUSAL = ("您的角色无权调听录音", "your role may not do this")
MISSING = "missing"  # the access log's outcome when the rule allowed but the file is gone


def _no_recording() -> NotFound:
    return NotFound("录音不存在", "recording not found")


def decision(
    session: Session,
    who: Requester,
    unit_id: str | None,
    recording: Recording,
    now: dt.datetime,
    operator_days: int,
) -> Decision:
    """May this person hear this recording now? Their role first, then the replay rule (the
    operator's window, a reason in force, their unit's grant still valid)."""
    if not may_ever_listen(who, unit_id):
        return Decision(False, refusal_en=ROLE_REFUSAL[1], refusal_zh=ROLE_REFUSAL[0], refusal=ROLE)
    return replay.decide(
        session, recording, who.listener(), who.user_id, unit_id, now, operator_days
    )


def refusal(
    session: Session, who: Requester, recording: Recording, now: dt.datetime, operator_days: int
) -> str | None:
    """Why this person may not hear the recording now, in Chinese (None: they may). Nothing
    is logged: a page asks this to offer the player, and the stream logs every request."""
    found = decision(session, who, unit_of(session, who), recording, now, operator_days)
    return None if found.allowed else found.refusal_zh


@dataclass(frozen=True)
class Granted:
    """The grant a unit holds for a case, and the case's recordings it lets them hear."""

    grant: RecordingGrant
    recordings: list[Recording]


def granted_recordings(
    session: Session, who: Requester, case: Case, now: dt.datetime, operator_days: int
) -> Granted | None:
    """What a unit's handler may hear of this case under their unit's grant (None: nothing),
    by the same decision as listening: a grant no longer valid (the unit returned the case,
    or the disclosure rules now withhold the evidence) offers nothing."""
    unit_id = unit_of(session, who)
    grant = replay.active_grant(session, unit_id, [case.id], now) if unit_id else None
    if grant is None:
        return None
    heard = [
        recording
        for recording in replay.recordings_of(session, case)
        if decision(session, who, unit_id, recording, now, operator_days).allowed
    ]
    return Granted(grant, heard) if heard else None


def listen(
    sessions: sessionmaker[Session],
    who: Requester,
    recording_id: str,
    action: str,
    now: dt.datetime,
    recordings_dir: Path,
    operator_days: int,
    byte_range: str = "",
) -> Path:
    """The recording's file, if this person may hear it now (``action``: PLAY, DOWNLOAD or
    WAVEFORM). Logged first (a play that goes on with more of the recording as RANGE: see
    ``access.log_listening``); raises NotFound (no such recording, or its file is gone) or
    Denied."""
    if not is_id(recording_id):
        raise _no_recording()
    with sessions() as session:
        unit_id = unit_of(session, who)
    if not may_ever_listen(who, unit_id):
        with transaction(sessions) as session:
            access.log(session, who.attempt(action, access.DENIED, recording_id), now)
        raise Denied(*ROLE_REFUSAL)
    with transaction(sessions) as session:
        path, found = _decide_and_log(
            session,
            who,
            unit_id,
            recording_id,
            action,
            now,
            recordings_dir,
            operator_days,
            byte_range,
        )
    if not found.allowed:
        raise Denied(found.refusal_zh, found.refusal_en)
    if path is None:
        raise NotFound("录音文件缺失", "recording file missing")
    return path


def _decide_and_log(
    session: Session,
    who: Requester,
    unit_id: str | None,
    recording_id: str,
    action: str,
    now: dt.datetime,
    recordings_dir: Path,
    operator_days: int,
    byte_range: str,
) -> tuple[Path | None, Decision]:
    recording = lookup.find(session, recording_id)
    if recording is None:
        raise _no_recording()
    found = decision(session, who, unit_id, recording, now, operator_days)
    path = lookup.file_of(recordings_dir, recording) if found.allowed else None
    outcome = (
        access.DENIED if not found.allowed else access.ALLOWED if path is not None else MISSING
    )
    access.log_listening(
        session,
        who.attempt(action, outcome, recording.id, found.case_id, found.reason, byte_range),
        now,
    )
    return path, found
