"""Replay for investigations: reasons (调听事由), grants to units, and the decision for one
request, from the database's facts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.ids import is_id, new_id
from custody import replay_rules
from custody.errors import NotFound, ReplayRefused
from custody.models import RecordingGrant, ReplayReason
from dispatch.cases.handling_models import Assignment
from dispatch.cases.models import Case
from dispatch.handling import disclosure, unit_portal
from ivr.models import Call
from recordings.models import Recording

REASON_HOURS = 12  # a reason covers the working day it was given in
MIN_REASON_CHARS = 4


def _clean_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_CHARS:
        raise ReplayRefused(
            f"请填写调听事由（至少 {MIN_REASON_CHARS} 个字）",
            f"a reason of at least {MIN_REASON_CHARS} characters is required",
        )
    return reason[:500]


def cases_of(session: Session, recording: Recording) -> list[Case]:
    return cases_of_call(session, recording.call_id, recording.id)


def cases_of_call(session: Session, call_id: str, recording_id: str | None) -> list[Case]:
    """The cases registered from a call or linked to its recording, oldest first."""
    linked = [Case.call_id == call_id]
    if recording_id is not None:
        linked.append(Case.recording_id == recording_id)
    return list(session.scalars(select(Case).where(or_(*linked)).order_by(Case.registered_at)))


def recordings_of(session: Session, case: Case) -> list[Recording]:
    """The case's call recording (the one linked, else its call's), if not purged."""
    query = select(Recording).where(Recording.purged_at.is_(None))
    if case.recording_id:
        query = query.where(Recording.id == case.recording_id)
    elif case.call_id:
        query = query.where(Recording.call_id == case.call_id)
    else:
        return []
    return list(session.scalars(query))


def give_reason(
    session: Session, case: Case, user_id: str, username: str, reason: str, now: dt.datetime
) -> ReplayReason:
    given = ReplayReason(
        id=new_id(),
        case_id=case.id,
        user_id=user_id,
        username=username,
        reason=_clean_reason(reason),
        given_at=now,
        expires_at=now + dt.timedelta(hours=REASON_HOURS),
    )
    session.add(given)
    session.flush()
    return given


def active_reason(
    session: Session, user_id: str, case_ids: list[str], now: dt.datetime
) -> ReplayReason | None:
    if not case_ids:
        return None
    return session.scalar(
        select(ReplayReason)
        .where(
            ReplayReason.user_id == user_id,
            ReplayReason.case_id.in_(case_ids),
            ReplayReason.expires_at > now,
        )
        .order_by(ReplayReason.given_at.desc())
        .limit(1)
    )


def grant(
    session: Session, case: Case, unit_id: str, reason: str, actor: str, now: dt.datetime, days: int
) -> RecordingGrant:
    """Let one unit working on the case hear its recordings for ``days`` days. Never the
    unit complained about, never for 举报, and only where the complainant agreed to share
    their identity with the unit (a voice is an identity)."""
    reason = _clean_reason(reason)
    if not is_id(unit_id):
        raise ReplayRefused("只能授权正在承办本案件的单位", "the unit does not handle this case")
    assigned = session.scalar(
        select(Assignment).where(
            Assignment.case_id == case.id,
            Assignment.unit_id == unit_id,
            Assignment.active.is_(True),
        )
    )
    if assigned is None:
        raise ReplayRefused("只能授权正在承办本案件的单位", "the unit does not handle this case")
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)
    if not shown.evidence:
        raise ReplayRefused(
            "举报件或被投诉单位不得调听录音",
            "whistle-blowing cases and the unit complained about never hear the recording",
        )
    if not shown.identity:
        raise ReplayRefused(
            "诉求人未同意向承办单位提供身份信息，不能授权调听录音",
            "the complainant did not agree to share their identity with the "
            "unit; the recording would reveal it",
        )
    granted = RecordingGrant(
        id=new_id(),
        case_id=case.id,
        unit_id=unit_id,
        reason=reason,
        granted_by=actor,
        granted_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    session.add(granted)
    session.flush()
    return granted


def revoke(session: Session, case: Case, grant_id: str, now: dt.datetime) -> RecordingGrant:
    found = session.get(RecordingGrant, grant_id) if is_id(grant_id) else None
    if found is None or found.case_id != case.id:
        raise NotFound("授权不存在", "no such grant")
    found.revoked_at = found.revoked_at or now
    return found


def grants_of(session: Session, case: Case) -> list[RecordingGrant]:
    return list(
        session.scalars(
            select(RecordingGrant)
            .where(RecordingGrant.case_id == case.id)
            .order_by(RecordingGrant.granted_at.desc())
        )
    )


def active_grant(
    session: Session, unit_id: str, case_ids: list[str], now: dt.datetime
) -> RecordingGrant | None:
    if not case_ids:
        return None
    return session.scalar(
        select(RecordingGrant)
        .where(
            RecordingGrant.unit_id == unit_id,
            RecordingGrant.case_id.in_(case_ids),
            RecordingGrant.revoked_at.is_(None),
            RecordingGrant.expires_at > now,
        )
        .order_by(RecordingGrant.granted_at.desc())
        .limit(1)
    )


def _still_allowed(session: Session, granted: RecordingGrant, cases: list[Case]) -> bool:
    """A grant counts only while its unit still works on the case and the disclosure rules
    still let it (the case may have been returned, or the unit found to be complained about)."""
    case = next((c for c in cases if c.id == granted.case_id), None)
    if case is None:
        return False
    assigned = session.scalar(
        select(Assignment.id).where(
            Assignment.case_id == case.id,
            Assignment.unit_id == granted.unit_id,
            Assignment.active.is_(True),
        )
    )
    shown = disclosure.for_unit(unit_portal.parties(case), granted.unit_id)
    return assigned is not None and shown.evidence and shown.identity


def decide(
    session: Session,
    recording: Recording,
    listener: replay_rules.Listener,
    user_id: str,
    unit_id: str | None,
    now: dt.datetime,
    operator_days: int,
) -> replay_rules.Decision:
    """May the listener hear this recording now?"""
    return decide_call(
        session,
        recording.call,
        recording.id,
        listener,
        user_id,
        unit_id,
        now,
        operator_days,
        replay_rules.RECORDING,
    )


def decide_call(
    session: Session,
    call: Call,
    recording_id: str | None,
    listener: replay_rules.Listener,
    user_id: str,
    unit_id: str | None,
    now: dt.datetime,
    operator_days: int,
    what: str = replay_rules.TRANSCRIPT,
) -> replay_rules.Decision:
    """The facts of one call (and its recording's id, None if it has none) for the pure
    rule: its operator, its cases, the listener's reason in force and their unit's grant
    still valid."""
    cases = cases_of_call(session, call.id, recording_id)
    case_ids = [c.id for c in cases]
    reason = active_reason(session, user_id, case_ids, now)
    granted = active_grant(session, unit_id, case_ids, now) if unit_id else None
    if granted is not None and not _still_allowed(session, granted, cases):
        granted = None
    facts = replay_rules.Facts(
        call_started_at=call.started_at,
        call_operator=call.operator,
        case_ids=tuple(case_ids),
        reason=reason.reason if reason else None,
        reason_case_id=reason.case_id if reason else None,
        grant_reason=granted.reason if granted else None,
        grant_case_id=granted.case_id if granted else None,
    )
    return replay_rules.decide(listener, facts, now, operator_days, what)
