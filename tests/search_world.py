"""A small centre for the search tests: cases registered through the registration form's
code (so the database's own triggers index them), units, dispatches and unit handlers, calls
with recordings and transcripts, on a fixed clock (2026-11-20 10:00 in Beijing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import User
from asr.models import TranscriptRecord
from core.db import transaction
from core.ids import new_id
from dispatch.cases.models import Case
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling import steps
from dispatch.handling.steps import DispatchOrder, Mode
from dispatch.intake import register
from dispatch.routing import units
from ivr.models import Call
from recordings.models import Recording
from tests.builders import add_user

ZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=ZONE).astimezone(dt.UTC)
TODAY = NOW.astimezone(ZONE).date()
RULES = Rules(WorkingCalendar(), HOTLINE, ZONE)
NUMBER_FORMAT = "TS{date:%Y%m%d}{seq:04d}"


def config(folder: Path) -> register.IntakeConfig:
    return register.IntakeConfig(ZONE, NUMBER_FORMAT, folder / "attachments", 1 << 20, 5, RULES)


def register_case(
    sessions: sessionmaker[Session],
    folder: Path,
    *,
    at: dt.datetime = NOW,
    call_id: str | None = None,
    text: Mapping[str, str] | None = None,
    **fields: str,
) -> Case:
    """A case registered at ``at`` (a walk-in complaint, accepted, unless ``fields`` or
    ``text`` say otherwise)."""
    form = {
        "received_at": f"{at.astimezone(ZONE):%Y-%m-%dT%H:%M}",
        "channel": "phone" if call_id else "walk_in",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": "13800138000",
        "complainant_address": "和平路1号",
        "subject_unit": "某公司",
        "title": "来电反映问题",
        "content": "来电人反映的问题。",
        "request": "请核实处理",
        "decision": "accept",
        **(text or {}),
        **fields,
    }
    return register.register(sessions, config(folder), form, [], "op1", at, call_id=call_id)


def make_unit(sessions: sessionmaker[Session], name: str) -> str:
    with transaction(sessions) as session:
        return units.create_unit(session, name, "department", NOW).id


def add_handler(sessions: sessionmaker[Session], username: str, unit_id: str) -> str:
    """A unit handler of ``unit_id``; their user id."""
    add_user(sessions, username, "unit_handler")
    with transaction(sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        unit = units.active_unit(session, unit_id)
        units.add_member(session, user, unit)
        return user.id


def dispatch(
    sessions: sessionmaker[Session],
    case_id: str,
    unit_id: str,
    at: dt.datetime = NOW,
    category: str = "城乡建设",
) -> None:
    order = DispatchOrder(unit_id, Mode.TRANSFER, (), "请核实处理", category)
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert case is not None
        steps.dispatch(session, case, order, "sup1", at, RULES)


def add_call(
    sessions: sessionmaker[Session],
    caller: str,
    started_at: dt.datetime,
    transcript: str | None = None,
    operator: str | None = None,
    outcome: str = "answered",
) -> str:
    """A finished call with a recording row, and its transcript if given; the call's id."""
    call_id, recording_id, sha = new_id(), new_id(), new_id() * 2
    with transaction(sessions) as session:
        session.add(
            Call(
                id=call_id,
                asterisk_uniqueid=f"{started_at.timestamp()}.{call_id[:6]}",
                caller_number=caller,
                started_at=started_at,
                answered_at=started_at + dt.timedelta(seconds=10) if operator else None,
                ended_at=started_at + dt.timedelta(minutes=3),
                outcome=outcome,
                operator=operator,
            )
        )
        session.flush()
        session.add(
            Recording(
                id=recording_id,
                call_id=call_id,
                path=f"search/{recording_id}.wav",
                sha256=sha,
                size_bytes=1000,
                duration_seconds=180.0,
                sample_rate=8000,
                channels=2,
                status="stored",
                created_at=started_at + dt.timedelta(minutes=3),
            )
        )
        if transcript is not None:
            session.add(transcript_record(sha, transcript, started_at + dt.timedelta(minutes=4)))
    return call_id


def transcript_record(sha: str, text: str, at: dt.datetime) -> TranscriptRecord:
    return TranscriptRecord(
        recording_sha256=sha,
        model="whisper-base",
        engine="whisper",
        status="ok",
        reason="",
        resampling="none",
        audio_seconds=180.0,
        decode_seconds=10.0,
        channels=["caller", "operator"],
        segments=[],
        text=text,
        clean_text=text,
        created_at=at,
    )
