"""Listening to a recording: its audio (played or downloaded) and its waveform's peaks, under
one decision. Who may: supervisors and investigators after giving a reason (调听事由) for
one of its cases, operators for the calls they handled within their replay window, a unit's
handlers while their unit holds a grant for one of its cases. Every request for a
well-formed id, allowed or not, is an entry in the access log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import access, replay
from custody.errors import Denied, NotFound
from custody.replay_rules import Decision
from custody.requester import Requester, may_ever_listen, unit_of
from recordings import lookup

ROLE_REFUSAL = ("您的角色无权调听录音", "your role may not do this")
MISSING = "missing"  # the access log's outcome when the rule allowed but the file is gone


def _no_recording() -> NotFound:
    return NotFound("录音不存在", "recording not found")


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
    WAVEFORM). Logged first; raises NotFound (no such recording, or its file is gone) or
    Denied."""
    if not lookup.well_formed(recording_id):
        raise _no_recording()
    with sessions() as session:
        unit_id = unit_of(session, who)
    if not may_ever_listen(who, unit_id):
        with transaction(sessions) as session:
            access.log(session, who.attempt(action, access.DENIED, recording_id), now)
        raise Denied(*ROLE_REFUSAL)
    with transaction(sessions) as session:
        path, decision = _decide_and_log(
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
    if not decision.allowed:
        raise Denied(decision.refusal_zh, decision.refusal_en)
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
    decision = replay.decide(
        session, recording, who.listener(), who.user_id, unit_id, now, operator_days
    )
    path = lookup.file_of(recordings_dir, recording) if decision.allowed else None
    outcome = (
        access.DENIED if not decision.allowed else access.ALLOWED if path is not None else MISSING
    )
    access.log(
        session,
        who.attempt(action, outcome, recording.id, decision.case_id, decision.reason, byte_range),
        now,
    )
    return path, decision
