"""What is happening now (issue 17): calls in the notice, waiting in the queue and talking,
the operators' phones, the transcription backlog, handling deadlines due today and overdue,
the supervision job's last run and the store's last integrity check. The supervisors'
dashboard shows it and ``/metrics`` exports it (``api.metrics``), from this one function.

``live_state`` reads the database: the calls still up, the transcription jobs and live
streams, the handling clocks, the supervision job's runs (``dispatch.handling.job_runs``).
Two parts come from elsewhere and are passed in by the caller (``api.metrics.gather``): the
operators' phones, which the ivr service keeps in a file (``ivr.phones.read``: the API never
talks to Asterisk; with several nodes (issue 18) they are read from the nodes' heartbeats
instead, ``node_operators``, since an API host that is not a node has no such file), and the
last integrity check, which ``custody`` records (a later stage
than ``dispatch``, so not read from here). ``None`` for either means unknown.

Overdue is ``dispatch.indicators.handling.overdue_now`` over the cases with a handling clock
unmet and due by today (the same rule as the reports' 当前超期件); due today is its sibling for
the clocks falling due today. Counting is by case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from asr.live_models import LiveStream
from asr.live_requests import OPEN_STATUSES
from asr.models import JobStatus, TranscriptionJob
from dispatch.cases.handling_models import CaseDeadline
from dispatch.cases.lifecycle import TRANSITIONS, Action, Status
from dispatch.cases.models import Case, CaseEvent
from dispatch.deadlines.stage_clocks import Stage
from dispatch.handling import job_runs
from dispatch.indicators.clocks import local_date
from dispatch.indicators.figures import Definition, Figure, Measure, Subject, count
from dispatch.indicators.handling import overdue_now
from dispatch.indicators.rows import CaseEventRow, CaseFile, CaseRow, DeadlineRow
from ivr import nodes as node_states
from ivr.models import Call
from ivr.node_models import Node
from ivr.phones import PhoneBoard

DUE_TODAY = Definition(
    "cases.due_today",
    "今日到期件",
    "办理时限今日到期、统计时尚未答复的件数（不含已并单、已撤回件）",
    Measure.COUNT,
    Subject.CASE,
    __name__,
)

_CHUNK = 5000  # ids per IN (...) list


def _statuses_after_leaving() -> frozenset[str]:
    """Every status a case can have once merged away or withdrawn (those, and what the
    lifecycle leads on to from them: archived): only such cases can have left."""
    found: set[str] = {Status.MERGED, Status.WITHDRAWN}
    while more := {to for (_, before), to in TRANSITIONS.items() if before in found} - found:
        found |= more
    return frozenset(found)


AFTER_LEAVING = _statuses_after_leaving()


@dataclass(frozen=True)
class CallsNow:
    """Hotline calls still up, each in one stage: hearing the notice (or the menu, just
    arrived), waiting in the queue, leaving a message, talking to an operator."""

    in_notice: int = 0
    waiting: int = 0
    leaving_message: int = 0
    talking: int = 0
    longest_wait_seconds: float | None = None  # of the calls waiting now

    @property
    def in_progress(self) -> int:
        return self.in_notice + self.waiting + self.leaving_message + self.talking


@dataclass(frozen=True)
class OperatorsNow:
    """The operators' phones as Asterisk's queue sees them (``ivr.phones``)."""

    registered: int
    busy: int  # on a call
    ringing: int
    at: dt.datetime | None  # the latest change the ivr service learnt of (nodes: heartbeat)
    nodes: tuple[NodeOperatorsNow, ...] = ()  # with several nodes: each node alive's own


@dataclass(frozen=True)
class NodeOperatorsNow:
    """One node's operators' phones, as its ivr service last wrote them (``ivr.node_models``)."""

    node: str
    registered: int
    busy: int
    ringing: int


@dataclass(frozen=True)
class TranscriptionNow:
    waiting: int = 0  # queued (some held while their live transcript finishes)
    running: int = 0
    failed: int = 0  # parked after their last attempt: a person must look
    oldest_age_seconds: float | None = None  # of the jobs waiting or running
    live_streams: int = 0  # speakers' streams asked for or being transcribed live

    @property
    def backlog(self) -> int:
        return self.waiting + self.running


@dataclass(frozen=True)
class JobNow:
    runs: int = 0
    last_at: dt.datetime | None = None
    last_detail: str = ""


@dataclass(frozen=True)
class IntegrityNow:
    checked_at: dt.datetime
    ok: bool
    problems: int
    files_checked: int


@dataclass(frozen=True)
class LiveState:
    at: dt.datetime
    calls: CallsNow
    operators: OperatorsNow | None  # None: unknown (ivr service down or not connected)
    transcription: TranscriptionNow
    due_today: Figure
    overdue: Figure
    supervision: JobNow
    integrity: IntegrityNow | None  # None: never checked (or not given)


def live_state(
    session: Session,
    now: dt.datetime,
    *,
    zone: ZoneInfo,
    phones: PhoneBoard | None = None,
    integrity: IntegrityNow | None = None,
    node_max_age: dt.timedelta | None = None,
) -> LiveState:
    """The state at ``now`` (aware); ``zone`` decides what "today" is. With
    ``node_max_age`` and nodes in the database, the operators come from the nodes alive
    (``node_operators``), not from ``phones``."""
    files = open_handling_files(session, local_date(now, zone))
    run = job_runs.of(session, job_runs.SUPERVISION)
    return LiveState(
        at=now,
        calls=calls_now(session, now),
        operators=operators_now(phones)
        if node_max_age is None or not has_nodes(session)
        else node_operators(session, now, node_max_age),
        transcription=transcription_now(session, now),
        due_today=due_today(files, now, zone),
        overdue=overdue_now(files, now, zone),
        supervision=JobNow(run.runs, run.last_at, run.last_detail) if run else JobNow(),
        integrity=integrity,
    )


def classify_calls(
    rows: Iterable[tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]],
    now: dt.datetime,
) -> CallsNow:
    """Calls still up, from their (queued, answered, message started) times. Pure."""
    stages = {"in_notice": 0, "waiting": 0, "leaving_message": 0, "talking": 0}
    queued_since: list[dt.datetime] = []
    for queued_at, answered_at, message_at in rows:
        if answered_at is not None:
            stages["talking"] += 1
        elif message_at is not None:
            stages["leaving_message"] += 1
        elif queued_at is not None:
            stages["waiting"] += 1
            queued_since.append(queued_at)
        else:
            stages["in_notice"] += 1
    longest = max(0.0, (now - min(queued_since)).total_seconds()) if queued_since else None
    return CallsNow(**stages, longest_wait_seconds=longest)


def calls_now(session: Session, now: dt.datetime) -> CallsNow:
    rows = session.execute(
        select(Call.queued_at, Call.answered_at, Call.message_started_at).where(
            # An overflow leg is the caller of its first node's row, counted there.
            Call.outcome.is_(None),
            Call.ended_at.is_(None),
            Call.overflow_of.is_(None),
        )
    )
    return classify_calls(((r[0], r[1], r[2]) for r in rows), now)


def operators_now(board: PhoneBoard | None) -> OperatorsNow | None:
    if board is None:
        return None
    latest = max((phone.since for phone in board.phones.values()), default=None)
    return OperatorsNow(board.registered, board.busy, board.ringing, latest)


def has_nodes(session: Session) -> bool:
    """True when the hotline runs as several nodes: a node's row has a name (the single
    machine writes its row under the name ``""``)."""
    return session.scalar(select(Node.name).where(Node.name != "").limit(1)) is not None


def node_operators(
    session: Session, now: dt.datetime, max_age: dt.timedelta
) -> OperatorsNow | None:
    """The operators' phones of every node alive (heartbeat at most ``max_age`` old) whose
    ivr service is connected to its Asterisk, summed, with each node's own; None (unknown)
    when no node is. Each node writes what its Asterisk's queue sees of its own phones."""
    known = [
        node
        for node in node_states.alive(session.scalars(select(Node)), now, max_age)
        if node.ami_connected
    ]
    if not known:
        return None
    each = tuple(
        NodeOperatorsNow(n.name, n.operators_registered, n.operators_busy, n.operators_ringing)
        for n in known
    )
    return OperatorsNow(
        registered=sum(n.registered for n in each),
        busy=sum(n.busy for n in each),
        ringing=sum(n.ringing for n in each),
        at=max(n.heartbeat_at for n in known),
        nodes=each,
    )


def transcription_now(session: Session, now: dt.datetime) -> TranscriptionNow:
    counts: dict[str, int] = dict(
        session.execute(
            select(TranscriptionJob.status, func.count())
            .where(
                TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PARKED])
            )
            .group_by(TranscriptionJob.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(TranscriptionJob.created_at)).where(
            TranscriptionJob.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
        )
    )
    streams = session.scalar(select(func.count()).where(LiveStream.status.in_(OPEN_STATUSES)))
    return TranscriptionNow(
        waiting=int(counts.get(JobStatus.QUEUED, 0)),
        running=int(counts.get(JobStatus.RUNNING, 0)),
        failed=int(counts.get(JobStatus.PARKED, 0)),
        oldest_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        live_streams=int(streams or 0),
    )


def due_today(files: Sequence[CaseFile], as_of: dt.datetime, zone: ZoneInfo) -> Figure:
    """Cases whose handling clock falls due today and is unmet at ``as_of`` (``overdue_now``'s
    sibling: the same clocks, due on today rather than before). Pure."""
    today = local_date(as_of, zone)
    found = [
        file.id
        for file in files
        if not file.left_by(as_of)
        for row in file.deadlines
        if row.stage == Stage.HANDLING
        and not row.cancelled
        and row.due_on == today
        and (row.met_at is None or row.met_at > as_of)
    ]
    return count(DUE_TODAY, found)


def open_handling_files(session: Session, today: dt.date) -> tuple[CaseFile, ...]:
    """The cases with a handling clock unmet and due by ``today``, each with what
    ``overdue_now`` and ``due_today`` read: the case, those clocks, and the history entries
    by which a case leaves (并单, 撤回), read only for cases whose status says they may have
    left (``AFTER_LEAVING``). Three queries, whatever the number of cases."""
    open_clock = (
        CaseDeadline.stage == Stage.HANDLING.value,
        CaseDeadline.cancelled.is_(False),
        CaseDeadline.met_at.is_(None),
        CaseDeadline.due_on <= today,
    )
    clocks: dict[str, list[DeadlineRow]] = {}
    for clock in session.execute(
        select(
            CaseDeadline.case_id,
            CaseDeadline.id,
            CaseDeadline.stage,
            CaseDeadline.started_on,
            CaseDeadline.due_on,
            CaseDeadline.unit_id,
        )
        .where(*open_clock)
        .order_by(CaseDeadline.id)
    ):
        case_id, clock_id, stage, started_on, due_on, unit_id = clock
        clocks.setdefault(case_id, []).append(
            DeadlineRow(clock_id, stage, started_on, due_on, unit_id)
        )
    ids = sorted(clocks)
    cases: dict[str, CaseRow] = {}
    leaving: dict[str, list[CaseEventRow]] = {}
    for chunk in (ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)):
        for case in session.execute(
            select(
                Case.id,
                Case.number,
                Case.status,
                Case.received_at,
                Case.registered_at,
                Case.channel,
                Case.case_type,
            ).where(Case.id.in_(chunk))
        ):
            case_id, number, status, received_at, registered_at, channel, case_type = case
            cases[case_id] = CaseRow(
                case_id, number, status, received_at, registered_at, channel, case_type
            )
    gone = sorted(case_id for case_id, row in cases.items() if row.status in AFTER_LEAVING)
    for chunk in (gone[start : start + _CHUNK] for start in range(0, len(gone), _CHUNK)):
        for case_id, at, action, from_status, to_status in session.execute(
            select(
                CaseEvent.case_id,
                CaseEvent.at,
                CaseEvent.action,
                CaseEvent.from_status,
                CaseEvent.to_status,
            )
            .where(
                CaseEvent.case_id.in_(chunk),
                CaseEvent.action.in_([Action.MERGE.value, Action.WITHDRAW.value]),
            )
            .order_by(CaseEvent.id)
        ):
            leaving.setdefault(case_id, []).append(
                CaseEventRow(at, action, from_status or "", to_status or "")
            )
    return tuple(
        CaseFile(cases[case_id], tuple(leaving.get(case_id, ())), deadlines=tuple(clocks[case_id]))
        for case_id in ids
        if case_id in cases
    )
