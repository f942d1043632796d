"""Listening to a recording: its audio (played or downloaded) and its waveform's peaks, under
one decision. Who may: supervisors and investigators after giving a reason (调听事由) for
one of its cases, operators for the calls they handled within their replay window, a unit's
handlers while their unit holds a grant for one of its cases. Every request for a
well-formed id, allowed or not, is an entry in the access log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.ids import is_id
from custody import access, evidence_files, replay
from custody.errors import Denied, NotFound
from custody.models import RecordingGrant
from custody.replay_rules import ROLE, Decision
from custody.requester import Requester, may_ever_listen, unit_of
from dispatch.cases.models import Case
from recordings import lookup, manifest
from recordings.models import Recording
from recordings.objects import StoreUnavailable
from recordings.storage import Storage

RECORDINGS_FOLDER = manifest.FOLDERS[manifest.RECORDING]
ROLE_REFUSAL = ("您的角色无权调听录音", "your role may not do this")
MISSING = "missing"  # the access log's outcome when the rule allowed but the file is gone
# The access log's outcome when the rule allowed but the object store holding the bytes
# could not be reached (the request is answered 503: try again later).
UNAVAILABLE = "unavailable"


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


@dataclass(frozen=True)
class Heard:
    """What a listener may have: the recording's stored file (its key, size, and its file
    in the data folder when the bytes are there, else only in the object store) and its
    SHA-256 (a strong validator for the stream)."""

    recording_id: str
    sha256: str
    stored: lookup.Located


def listen(
    sessions: sessionmaker[Session],
    who: Requester,
    recording_id: str,
    action: str,
    now: dt.datetime,
    storage: Storage,
    operator_days: int,
    byte_range: str = "",
) -> Heard:
    """The recording's stored file, if this person may hear it now (``action``: PLAY,
    DOWNLOAD or WAVEFORM), wherever its bytes are (``storage``: the data folder, else the
    object store). Logged first (a play that goes on with more of the recording as RANGE:
    see ``access.log_listening``); raises NotFound (no such recording, or its file is gone),
    Denied, or StoreDown (the object store could not be reached: logged as UNAVAILABLE)."""
    if not is_id(recording_id):
        raise _no_recording()
    with sessions() as session:
        unit_id = unit_of(session, who)
    if not may_ever_listen(who, unit_id):
        with transaction(sessions) as session:
            access.log(session, who.attempt(action, access.DENIED, recording_id), now)
        raise Denied(*ROLE_REFUSAL)
    with transaction(sessions) as session:
        heard, found, down = _decide_and_log(
            session,
            who,
            unit_id,
            recording_id,
            action,
            now,
            storage,
            operator_days,
            byte_range,
        )
    if not found.allowed:
        raise Denied(found.refusal_zh, found.refusal_en)
    if down is not None:
        raise evidence_files.store_down(down)
    if heard is None:
        raise NotFound("录音文件缺失", "recording file missing")
    return heard


def _decide_and_log(
    session: Session,
    who: Requester,
    unit_id: str | None,
    recording_id: str,
    action: str,
    now: dt.datetime,
    storage: Storage,
    operator_days: int,
    byte_range: str,
) -> tuple[Heard | None, Decision, StoreUnavailable | None]:
    recording = lookup.find(session, recording_id)
    if recording is None:
        raise _no_recording()
    found = decision(session, who, unit_id, recording, now, operator_days)
    heard, down = None, None
    if found.allowed:
        # The data folder first, as always; only a file not there is asked of the object
        # store (before the access log's lock is taken: see access.log_listening).
        local = lookup.file_of(storage.data_dir / RECORDINGS_FOLDER, recording)
        try:
            stored = lookup.locate(storage, lookup.key_of(recording), local)
        except StoreUnavailable as exc:
            stored, down = None, exc
        if stored is not None:
            heard = Heard(recording.id, recording.sha256, stored)
    outcome = (
        access.DENIED
        if not found.allowed
        else UNAVAILABLE
        if down is not None
        else access.ALLOWED
        if heard is not None
        else MISSING
    )
    access.log_listening(
        session,
        who.attempt(action, outcome, recording.id, found.case_id, found.reason, byte_range),
        now,
    )
    return heard, found, down
