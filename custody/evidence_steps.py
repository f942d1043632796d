"""The steps on a case's evidence, each one function for the 调听与证据 page and the JSON
API alike: giving a reason (调听事由), placing and releasing a legal hold, granting a unit
the recording and revoking the grant. Each finds the case by id or number (locked until the
step's transaction ends) and checks the person's role before anything else."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from accounts.models import Role
from custody import holds, replay, replay_rules
from custody.errors import Denied
from custody.models import LegalHold, RecordingGrant, ReplayReason
from custody.requester import Requester
from dispatch.intake import case_lookup

# Who may: a reason, whoever may investigate; holds and grants, supervisors only.
MAY_GIVE_REASONS = replay_rules.INVESTIGATORS
MAY_HOLD_AND_GRANT = frozenset({Role.SUPERVISOR})
ROLE_REFUSAL = ("您的角色无权进行此操作", "your role may not do this")


def _require(who: Requester, roles: frozenset[Role]) -> None:
    if who.role not in roles:
        raise Denied(*ROLE_REFUSAL)


def give_reason(
    session: Session, who: Requester, case_key: str, reason: str, now: dt.datetime
) -> ReplayReason:
    """State why one listens (at least four characters); it holds for 12 hours."""
    _require(who, MAY_GIVE_REASONS)
    case = case_lookup.find(session, case_key, lock=True)
    return replay.give_reason(session, case, who.user_id, who.username, reason, now)


def place_hold(
    session: Session, who: Requester, case_key: str, reason: str, now: dt.datetime
) -> LegalHold:
    """Keep the case's recordings whatever their age, until released."""
    _require(who, MAY_HOLD_AND_GRANT)
    case = case_lookup.find(session, case_key, lock=True)
    return holds.place(session, case, reason, who.username, now)


def release_hold(
    session: Session, who: Requester, case_key: str, hold_id: str, reason: str, now: dt.datetime
) -> LegalHold:
    _require(who, MAY_HOLD_AND_GRANT)
    case = case_lookup.find(session, case_key, lock=True)
    return holds.release(session, case, hold_id, reason, who.username, now)


def grant_unit(
    session: Session,
    who: Requester,
    case_key: str,
    unit_id: str,
    reason: str,
    now: dt.datetime,
    days: int,
) -> RecordingGrant:
    """Let a unit handling the case hear its recording for ``days`` days (not the unit
    complained about, not for 举报, only with the complainant's consent to share their
    identity)."""
    _require(who, MAY_HOLD_AND_GRANT)
    case = case_lookup.find(session, case_key, lock=True)
    return replay.grant(session, case, unit_id, reason, who.username, now, days)


def revoke_grant(
    session: Session, who: Requester, case_key: str, grant_id: str, now: dt.datetime
) -> RecordingGrant:
    _require(who, MAY_HOLD_AND_GRANT)
    case = case_lookup.find(session, case_key, lock=True)
    return replay.revoke(session, case, grant_id, now)
