"""Reading a call's transcript. A transcript is the recording in writing, so the recordings'
rule decides (``custody.replay_rules``): operators for the calls they handled within
their replay window, supervisors and investigators with a reason in force for a case of the
call, a unit's handlers with a grant. The JSON routes and the pages all ask here, and every
text shown is an entry (action ``transcript``) in the hash-chained access log; ``byte_range``
says where it was shown. A refusal is logged where the transcript itself was asked for (its
route, the call page, the registration form); the 调听与证据 page shows it once a reason is in
force; a list that merely leaves the text out logs
nothing for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role
from api.auth import Login
from api.deps import now
from asr import call_transcript as transcripts
from core.db import transaction
from core.settings import Settings
from custody import access, replay, replay_rules
from custody.replay_rules import Decision
from dispatch.intake import call_context
from dispatch.routing import units
from ivr.models import Call
from recordings import lookup
from recordings.models import Recording

# Where a transcript was shown (the access log's byte_range column).
API, CALL_PAGE, REGISTRATION = "transcript api", "call page", "registration form"
WORK_QUEUE, CALLS_LIST, EVIDENCE_PAGE = "work queue", "calls list", "evidence page"
JOB_STATES = frozenset({"queued", "running", "parked"})  # a summary without any text
# Short words for a list's cell where the text is withheld.
WITHHELD_LABELS = {
    replay_rules.NEEDS_REASON: "需先说明调听事由",
    replay_rules.NOT_HANDLED: "非本人受理，不显示转写",
    replay_rules.TOO_OLD: "已超过复听期限，不显示转写",
    replay_rules.ROLE: "无权查看转写",
}


@dataclass(frozen=True)
class Read:
    """One transcript shown or refused: the call's recording and the rule's decision."""

    recording_id: str | None
    decision: Decision


def unit_id_of(session: Session, login: Login) -> str | None:
    """The unit of a unit's handler (None for other roles, or a handler of no unit)."""
    if login.role is not Role.UNIT_HANDLER:
        return None
    unit = units.unit_of_user(session, login.user_id)
    return unit.id if unit else None


def decide(session: Session, settings: Settings, login: Login, call: Call,
           recording: Recording) -> Decision:
    """May this person read the transcript of the call's recording now?"""
    return replay.decide_call(
        session, call, recording.id,
        replay_rules.Listener(login.username, login.role, login.phone),
        login.user_id, unit_id_of(session, login), now(), settings.operator_replay_days,
        replay_rules.TRANSCRIPT)


def record(sessions: sessionmaker[Session], login: Login, request: Request, place: str,
           reads: Sequence[Read]) -> None:
    """Write the reads (and refusals) to the access log, in one transaction."""
    if not reads:
        return
    with transaction(sessions) as session:
        access.log_many(session, [access.Attempt(
            actor=login.username, role=login.role.value,
            client=request.client.host if request.client else "", action=access.TRANSCRIPT,
            outcome=access.ALLOWED if r.decision.allowed else access.DENIED,
            recording_id=r.recording_id, case_id=r.decision.case_id,
            reason=r.decision.reason, byte_range=place) for r in reads], now())


def call_context_for(session: Session, sessions: sessionmaker[Session], settings: Settings,
                     login: Login, request: Request, call: Call, place: str,
                     ) -> tuple[call_context.CallContext, Decision | None]:
    """The call's registration context (the page's form and the JSON route's), with what
    comes from its transcript only for those who may read it; shown or refused, the read is
    logged at ``place``. The decision is None for a call without a recording."""
    recording = lookup.of_call(session, call.id)
    decision = decide(session, settings, login, call, recording) if recording else None
    context = call_context.build(session, call, ZoneInfo(settings.timezone), now(),
                                 settings.similar_case_days,
                                 readable=decision is None or decision.allowed)
    if recording is not None and decision is not None:
        record(sessions, login, request, place, [Read(recording.id, decision)])
    return context, decision


@dataclass
class Summaries:
    """A list page's transcript column: the listed calls' recordings, the summaries the
    viewer may read, the refusals for the others, and which recordings they may play (the
    same rule)."""

    recordings: dict[str, Recording] = field(default_factory=dict)  # by call id
    texts: dict[str, transcripts.TranscriptSummary] = field(default_factory=dict)
    withheld: dict[str, Decision] = field(default_factory=dict)
    playable: set[str] = field(default_factory=set)


def summaries(session: Session, sessions: sessionmaker[Session], settings: Settings,
              login: Login, request: Request, calls: Sequence[Call], place: str) -> Summaries:
    """Each listed call's transcript summary where the viewer may read it (each shown text
    logged), a job's state for the others still waiting."""
    result = Summaries(recordings=lookup.of_calls(session, [c.id for c in calls]))
    recorded = [(c, result.recordings[c.id]) for c in calls if c.id in result.recordings]
    found = transcripts.summaries(session, [recording for _, recording in recorded])
    shown: list[Read] = []
    for call, recording in recorded:
        decision = decide(session, settings, login, call, recording)
        if decision.allowed:
            result.playable.add(recording.id)
        summary = found.get(recording.id)
        if summary is None:
            continue
        if summary.state in JOB_STATES:
            result.texts[recording.id] = summary
        elif decision.allowed:
            result.texts[recording.id] = summary
            shown.append(Read(recording.id, decision))
        else:
            result.withheld[recording.id] = decision
    record(sessions, login, request, place, shown)
    return result
