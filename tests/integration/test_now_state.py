"""The live state read from the database (SQLite and PostgreSQL): calls still up by stage,
the transcription queue and live streams, handling clocks due today and overdue, the
supervision job's runs. Rows are made by hand, relative to the real clock's now."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.live_models import LiveStream, StreamStatus
from asr.models import JobStatus, TranscriptionJob
from core.db import transaction
from dispatch.cases.handling_models import CaseDeadline
from dispatch.cases.lifecycle import Action, Status
from dispatch.cases.models import Case, CaseEvent
from dispatch.deadlines.stage_clocks import Stage
from dispatch.handling import job_runs
from dispatch.reports.now import IntegrityNow, live_state
from ivr import call_store
from ivr.call_state import CallState
from ivr.phones import DeviceState, PhoneChanged, snapshot
from tests.builders import add_live_streams, add_recorded_call

BEIJING = ZoneInfo("Asia/Shanghai")
D = dt.timedelta


def now_and_today() -> tuple[dt.datetime, dt.date]:
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return moment, moment.astimezone(BEIJING).date()


def up_call(session: Session, uid: str, started: dt.datetime, **times: dt.datetime) -> None:
    call_store.save_state(session, CallState(uid, started_at=started, **times))  # type: ignore[arg-type]


def add_case(
    session: Session,
    number: str,
    received: dt.datetime,
    clocks: list[tuple[Stage, dt.date, dt.datetime | None, bool]],
    status: Status = Status.IN_PROGRESS,
    leaving: Action | None = None,
) -> str:
    case = Case(
        number=number,
        status=status,
        received_at=received,
        registered_at=received,
        registered_by="op1",
        channel="phone",
        case_type="complaint",
        title=f"案件{number}",
        content="内容",
    )
    session.add(case)
    session.flush()
    for stage, due, met, cancelled in clocks:
        session.add(
            CaseDeadline(
                case_id=case.id,
                stage=stage,
                started_on=due - D(days=7),
                due_on=due,
                met_at=met,
                cancelled=cancelled,
            )
        )
    if leaving is not None:
        to = Status.MERGED if leaving is Action.MERGE else Status.WITHDRAWN
        session.add(
            CaseEvent(
                case_id=case.id,
                at=received + D(hours=1),
                actor="op1",
                action=leaving,
                from_status=Status.IN_PROGRESS,
                to_status=to,
            )
        )
    return case.id


def test_live_state_from_the_database(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    now, today = now_and_today()
    # Four stored recordings, each with its transcription job: one waiting (the oldest, ten
    # minutes), one running, one parked after failing, one done.
    job_states = [
        (JobStatus.QUEUED, now - D(minutes=10)),
        (JobStatus.RUNNING, now - D(minutes=2)),
        (JobStatus.PARKED, now - D(hours=3)),
        (JobStatus.DONE, now - D(hours=2)),
    ]
    recordings = [
        add_recorded_call(sessions, tmp_path, f"rec.{n}", started_at=now - D(hours=4))[1]
        for n in range(len(job_states))
    ]
    with transaction(sessions) as session:
        for recording_id, (status, created) in zip(recordings, job_states, strict=True):
            job = session.scalar(
                select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
            )
            assert job is not None
            job.status, job.created_at = status, created

        # Calls still up: one hearing the notice, two waiting (70 s and 30 s), one talking,
        # one leaving a message; the four finished calls above count for nothing.
        up_call(session, "up.1", now - D(seconds=8))
        up_call(session, "up.2", now - D(seconds=90), queued_at=now - D(seconds=70))
        up_call(session, "up.3", now - D(seconds=40), queued_at=now - D(seconds=30))
        up_call(
            session,
            "up.4",
            now - D(minutes=5),
            queued_at=now - D(minutes=4),
            answered_at=now - D(minutes=3),
        )
        up_call(session, "up.5", now - D(seconds=50), message_started_at=now - D(seconds=10))
        # up.3 passed on to another node, ringing there: its leg is the same caller, not a
        # third one waiting.
        up_call(
            session,
            "b-up.3",
            now - D(seconds=5),
            queued_at=now - D(seconds=5),
            overflow_of="up.3",  # type: ignore[arg-type]
        )
        add_live_streams(session, "up.4", now - D(minutes=3))  # two live streams
        session.add(
            LiveStream(
                id="finished",
                call_uniqueid="rec.0",
                speaker="caller",
                spied_channel="PJSIP/x",
                recogniser="127.0.0.1:9",
                offset_seconds=0.0,
                status=StreamStatus.DONE,
                requested_at=now - D(hours=4),
            )
        )

        handling, dispatch = Stage.HANDLING, Stage.DISPATCH
        received = now - D(days=20)
        late = add_case(session, "L1", received, [(handling, today - D(days=3), None, False)])
        late2 = add_case(
            session,
            "L2",
            received,
            [
                (dispatch, today - D(days=12), received, False),
                (handling, today - D(1), None, False),
            ],
        )
        due = add_case(session, "T1", received, [(handling, today, None, False)])
        add_case(session, "T2", received, [(handling, today, now - D(hours=1), False)])  # answered
        add_case(session, "T3", received, [(handling, today, None, True)])  # cancelled
        add_case(session, "F1", received, [(handling, today + D(days=2), None, False)])
        add_case(session, "X1", received, [(dispatch, today - D(days=2), None, False)])
        # Merged away; withdrawn, then archived: their clocks were never stopped, yet they are
        # nobody's to answer.
        add_case(
            session,
            "M1",
            received,
            [(handling, today - D(1), None, False)],
            Status.MERGED,
            leaving=Action.MERGE,
        )
        add_case(
            session,
            "W1",
            received,
            [(handling, today, None, False)],
            Status.ARCHIVED,
            leaving=Action.WITHDRAW,
        )

    with transaction(sessions) as session:
        job_runs.record(session, job_runs.SUPERVISION, now - D(minutes=10), "0 notices")
    with transaction(sessions) as session:
        job_runs.record(session, job_runs.SUPERVISION, now - D(minutes=5), "2 notices")

    board = snapshot(
        [
            PhoneChanged("8001", DeviceState.INUSE, now - D(minutes=3)),
            PhoneChanged("8002", DeviceState.NOT_INUSE, now - D(hours=1)),
            PhoneChanged("8003", DeviceState.UNAVAILABLE, now - D(hours=1)),
        ]
    )
    checked = IntegrityNow(now - D(hours=2), ok=True, problems=0, files_checked=4)
    with sessions() as session:
        state = live_state(session, now, zone=BEIJING, phones=board, integrity=checked)

    calls = state.calls
    assert (calls.in_notice, calls.waiting, calls.talking, calls.leaving_message) == (1, 2, 1, 1)
    assert calls.in_progress == 5
    assert calls.longest_wait_seconds == 70.0
    assert state.operators is not None
    assert (state.operators.registered, state.operators.busy) == (2, 1)
    assert state.operators.at == now - D(minutes=3)
    jobs = state.transcription
    assert (jobs.waiting, jobs.running, jobs.failed, jobs.backlog) == (1, 1, 1, 2)
    assert jobs.oldest_age_seconds == 600.0
    assert jobs.live_streams == 2
    assert state.overdue.ids == tuple(sorted([late, late2]))
    assert state.due_today.ids == (due,)
    assert state.supervision.runs == 2
    assert state.supervision.last_at == now - D(minutes=5)
    assert state.supervision.last_detail == "2 notices"
    assert state.integrity == checked


def test_an_empty_hotline_is_all_zero_and_unknown(sessions: sessionmaker[Session]) -> None:
    now, _ = now_and_today()
    with sessions() as session:
        state = live_state(session, now, zone=BEIJING)
    assert state.calls.in_progress == 0 and state.calls.longest_wait_seconds is None
    assert state.operators is None and state.integrity is None
    assert state.transcription.backlog == 0 and state.transcription.oldest_age_seconds is None
    assert state.overdue.value == 0 and state.due_today.value == 0
    assert state.supervision.runs == 0 and state.supervision.last_at is None
