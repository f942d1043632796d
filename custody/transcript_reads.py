"""Reading a call's transcript. A transcript is the recording in writing, so the recordings'
rule decides (``custody.replay_rules``): operators for the calls they handled within
their replay window, supervisors and investigators with a reason in force for a case of the
call, a unit's handlers with a grant. Every text shown is an entry (action ``transcript``)
in the hash-chained access log; ``byte_range`` says where it was shown. A refusal is logged
where the transcript itself was asked for (its route, the call page, the registration form);
the 调听与证据 page shows it once a reason is in force; a list that merely leaves the text
out logs nothing for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from asr import call_transcript, jobs
from asr.models import TranscriptRecord
from core.db import transaction
from core.ids import is_id
from core.settings import Settings
from custody import access, replay, replay_rules
from custody.errors import Denied, NotFound
from custody.replay_rules import Decision
from custody.requester import Requester, may_ever_listen, unit_of
from dispatch.intake import call_context
from ivr import call_store
from ivr.models import Call
from recordings import lookup
from recordings.models import Recording

# Where a transcript was shown (the access log's byte_range column).
API, CALL_PAGE, REGISTRATION = "transcript api", "call page", "registration form"
WORK_QUEUE, CALLS_LIST, EVIDENCE_PAGE = "work queue", "calls list", "evidence page"
JOB_STATES = frozenset({"queued", "running", "parked"})  # a summary without any text


@dataclass(frozen=True)
class Read:
    """One transcript shown or refused: the call's recording and the rule's decision."""

    recording_id: str | None
    decision: Decision


def decide(
    session: Session,
    settings: Settings,
    who: Requester,
    call: Call,
    recording: Recording | None,
    now: dt.datetime,
) -> Decision:
    """May this person read the transcript of the call's recording now (None: the call is
    still up and has no stored recording yet)?"""
    return replay.decide_call(
        session,
        call,
        recording.id if recording is not None else None,
        who.listener(),
        who.user_id,
        unit_of(session, who),
        now,
        settings.operator_replay_days,
        replay_rules.TRANSCRIPT,
    )


def record(
    sessions: sessionmaker[Session],
    who: Requester,
    place: str,
    reads: Sequence[Read],
    now: dt.datetime,
) -> None:
    """Write the reads (and refusals) to the access log, in one transaction."""
    if not reads:
        return
    with transaction(sessions) as session:
        access.log_many(
            session,
            [
                who.attempt(
                    access.TRANSCRIPT,
                    access.ALLOWED if r.decision.allowed else access.DENIED,
                    r.recording_id,
                    r.decision.case_id,
                    r.decision.reason,
                    place,
                )
                for r in reads
            ],
            now,
        )


def read_call_transcript(
    sessions: sessionmaker[Session],
    settings: Settings,
    who: Requester,
    call_id: str,
    place: str,
    now: dt.datetime,
) -> call_transcript.CallTranscriptView:
    """The call's transcript (whatever exists so far) if this person may read it; logged,
    shown or refused. A call without a recording has nothing to read and nothing to log.
    Raises NotFound or Denied."""
    if not is_id(call_id):
        raise NotFound("来电不存在", "call not found")
    with sessions() as session:
        unit_id = unit_of(session, who)
    if not may_ever_listen(who, unit_id):
        never = replay_rules.refusal(replay_rules.ROLE, replay_rules.TRANSCRIPT)
        record(sessions, who, place, [Read(None, never)], now)
        raise Denied(never.refusal_zh, never.refusal_en)
    with sessions() as session:
        call = call_store.get_call(session, call_id)
        if call is None:
            raise NotFound("来电不存在", "call not found")
        recording = lookup.of_call(session, call.id)
        decision = decide(session, settings, who, call, recording, now) if recording else None
        found = (
            call_transcript.for_call(session, call.id)
            if decision is None or decision.allowed
            else None
        )
    if recording is None or decision is None:
        assert found is not None
        return found
    record(sessions, who, place, [Read(recording.id, decision)], now)
    if found is None:
        raise Denied(decision.refusal_zh, decision.refusal_en)
    return found


def case_transcripts(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    who: Requester,
    recordings: Sequence[Recording],
    now: dt.datetime,
) -> dict[str, TranscriptRecord]:
    """The transcripts of a case's recordings this person may read, each shown logged (the
    调听与证据 page, once a reason is in force)."""
    shown: dict[str, TranscriptRecord] = {}
    reads = []
    for recording in recordings:
        call = call_store.get_call(session, recording.call_id)
        if call is None:
            continue
        decision = decide(session, settings, who, call, recording, now)
        transcript = jobs.transcript_of(session, recording) if decision.allowed else None
        if transcript is not None:
            shown[recording.id] = transcript
            reads.append(Read(recording.id, decision))
    record(sessions, who, EVIDENCE_PAGE, reads, now)
    return shown


def call_context_for(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    who: Requester,
    call: Call,
    place: str,
    now: dt.datetime,
) -> tuple[call_context.CallContext, Decision | None]:
    """The call's registration context (the page's form and the JSON route's), with what
    comes from its transcript only for those who may read it; shown or refused, the read is
    logged at ``place``. The decision is None for a call without a recording."""
    recording = lookup.of_call(session, call.id)
    decision = decide(session, settings, who, call, recording, now) if recording else None
    context = call_context.build(
        session,
        call,
        ZoneInfo(settings.timezone),
        now,
        settings.similar_case_days,
        readable=decision is None or decision.allowed,
    )
    if recording is not None and decision is not None:
        record(sessions, who, place, [Read(recording.id, decision)], now)
    return context, decision


@dataclass
class Summaries:
    """A list page's transcript column: the listed calls' recordings, the summaries the
    viewer may read, the refusals for the others, and which recordings they may play (the
    same rule)."""

    recordings: dict[str, Recording] = field(default_factory=dict)  # by call id
    texts: dict[str, call_transcript.TranscriptSummary] = field(default_factory=dict)
    withheld: dict[str, Decision] = field(default_factory=dict)
    playable: set[str] = field(default_factory=set)


def summaries(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    who: Requester,
    calls: Sequence[Call],
    place: str,
    now: dt.datetime,
) -> Summaries:
    """Each listed call's transcript summary where the viewer may read it (each shown text
    logged), a job's state for the others still waiting."""
    result = Summaries(recordings=lookup.of_calls(session, [c.id for c in calls]))
    recorded = [(c, result.recordings[c.id]) for c in calls if c.id in result.recordings]
    found = call_transcript.summaries(session, [recording for _, recording in recorded])
    shown: list[Read] = []
    for call, recording in recorded:
        decision = decide(session, settings, who, call, recording, now)
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
    record(sessions, who, place, shown, now)
    return result
