"""Who may hear a recording or read its transcript, and under which reason. Pure: the caller
gathers the facts. A transcript is the recording in writing, so one rule decides both; only
the words of a refusal differ."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Role

OPERATOR_OWN_CALL = "话务员复听本人受理的来电"
OPERATOR_OWN_TRANSCRIPT = "话务员查看本人受理来电的转写"
INVESTIGATORS = frozenset({Role.SUPERVISOR, Role.INVESTIGATOR})
MAY_EVER_LISTEN = INVESTIGATORS | {Role.OPERATOR, Role.UNIT_HANDLER}

RECORDING, TRANSCRIPT = "recording", "transcript"
# Why a request was refused: a reason is missing, the operator did not handle the call, the
# call is older than the operator's window, or the role never may.
NEEDS_REASON, NOT_HANDLED, TOO_OLD, ROLE = "needs_reason", "not_handled", "too_old", "role"


@dataclass(frozen=True)
class Listener:
    username: str
    role: Role
    phone: str = ""


@dataclass(frozen=True)
class Facts:
    """What is known about one call's recording, for one listener."""

    call_started_at: dt.datetime
    call_operator: str | None  # the SIP endpoint that answered; None: nobody did
    case_ids: tuple[str, ...] = ()  # the cases registered from this call
    reason: str | None = None  # the listener's 调听事由 still in force for a case of it
    reason_case_id: str | None = None
    grant_reason: str | None = None  # a supervisor's grant to the listener's unit
    grant_case_id: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    case_id: str | None = None
    refusal_en: str = ""
    refusal_zh: str = ""
    refusal: str = ""  # NEEDS_REASON, NOT_HANDLED, TOO_OLD or ROLE
    reason_case_id: str | None = None  # where a reason would be given (NEEDS_REASON)


def _refusals(what: str, days: int) -> dict[str, tuple[str, str]]:
    if what == TRANSCRIPT:
        return {
            NEEDS_REASON: (
                "give a reason (调听事由) for one of the call's cases before "
                "reading its transcript",
                "需先说明调听事由，方可查看转写",
            ),
            NOT_HANDLED: (
                "operators may read the transcripts of the calls they handled only",
                "话务员只能查看本人受理来电的转写",
            ),
            TOO_OLD: (
                f"operators may read their calls' transcripts for {days} days",
                f"超过 {days} 天的来电转写须由督查员说明调听事由后查看",
            ),
            ROLE: ("your role may not read transcripts", "您的角色无权查看转写"),
        }
    return {
        NEEDS_REASON: (
            "give a reason (调听事由) for one of the recording's cases first",
            "请先在案件中填写调听事由",
        ),
        NOT_HANDLED: (
            "operators may replay only the calls they handled",
            "话务员只能复听本人受理的来电",
        ),
        TOO_OLD: (
            f"operators may replay their calls for {days} days",
            f"超过 {days} 天的来电须由督查员调听",
        ),
        ROLE: ("your role may not hear recordings", "您的角色无权调听录音"),
    }


def refusal(
    code: str, what: str = RECORDING, operator_days: int = 0, reason_case_id: str | None = None
) -> Decision:
    """A refusal, in the words for a recording or a transcript."""
    en, zh = _refusals(what, operator_days)[code]
    return Decision(
        False, refusal_en=en, refusal_zh=zh, refusal=code, reason_case_id=reason_case_id
    )


def handled_by(listener: Listener, facts: Facts) -> bool:
    """An operator handled a call they answered, or a message nobody answered (the pool's
    work). Registering a case from a call someone else answered is not handling it: anyone
    may register a colleague's call (a shift handover), but that opens no recording."""
    if facts.call_operator is None:
        return True
    return bool(listener.phone) and facts.call_operator == listener.phone


def decide(
    listener: Listener, facts: Facts, now: dt.datetime, operator_days: int, what: str = RECORDING
) -> Decision:
    """May this listener hear the call's recording (``what=RECORDING``) or read its
    transcript (``what=TRANSCRIPT``) now? The same answer for both."""

    def refuse(code: str) -> Decision:
        return refusal(
            code,
            what,
            operator_days,
            facts.case_ids[0] if code == NEEDS_REASON and facts.case_ids else None,
        )

    if listener.role in INVESTIGATORS:
        if facts.reason:
            return Decision(True, facts.reason, facts.reason_case_id)
        return refuse(NEEDS_REASON)
    if listener.role is Role.OPERATOR:
        if not handled_by(listener, facts):
            return refuse(NOT_HANDLED)
        if now - facts.call_started_at > dt.timedelta(days=operator_days):
            return refuse(TOO_OLD)
        own = OPERATOR_OWN_TRANSCRIPT if what == TRANSCRIPT else OPERATOR_OWN_CALL
        return Decision(True, own, facts.case_ids[0] if facts.case_ids else None)
    if listener.role is Role.UNIT_HANDLER and facts.grant_reason:
        return Decision(True, facts.grant_reason, facts.grant_case_id)
    return refuse(ROLE)
