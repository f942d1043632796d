"""Migration 0010 on a database that already holds supervision records and assignments: the
job's records keep their once-per-deadline rule, a supervisor's 催办 may come again, old
assignments are not recalled; and the way back drops the supervisors' records. SQLite and a
real PostgreSQL server."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from hotline import migrate
from tests.builders import T0

CASE = "d" * 32
UNIT = "u" * 32
SETUP = (
    "INSERT INTO cases (id, number, status, received_at, registered_at, registered_by,"
    " channel, case_type, complainant_name, complainant_phone, complainant_address,"
    " complainant_org, anonymous, confidential, subject_unit, subject_window,"
    " subject_person, title, content, request, verified_with_caller, call_id,"
    " transcript_text, decision, decision_reason, refer_to, reply_text)"
    " VALUES (:case, 'TS1', 'dispatched', :at, :at, 'op1', 'walk_in', 'complaint', '', '',"
    " '', '', false, false, '', '', '', 't', 'c', '', false, NULL, '', '', '', '', '')",
    "INSERT INTO units (id, name, kind, active, created_at)"
    " VALUES (:unit, '市住建局', 'department', true, :at)",
    "INSERT INTO assignments (id, case_id, unit_id, role, mode, instructions, active,"
    " dispatched_at, dispatched_by, signed_by, return_reason)"
    " VALUES (:assignment, :case, :unit, 'lead', 'transfer', '', true, :at, 'op1', '', '')",
    "INSERT INTO case_deadlines (id, case_id, stage, unit_id, started_on, due_on,"
    " provisional, cancelled) VALUES (1, :case, 'handling', :unit, '2026-11-24',"
    " '2026-11-27', false, false)",
    "INSERT INTO supervision_records (case_id, deadline_id, unit_id, kind, due_on, at,"
    " message) VALUES (:case, 1, :unit, 'reminder', '2026-11-27', :at, '【催办】')",
)
RECORD = (
    "INSERT INTO supervision_records (case_id, deadline_id, unit_id, kind, due_on, at,"
    " message, issued_by, reason) VALUES (:case, 1, :unit, 'reminder', '2026-11-27', :at,"
    " '【催办】', :by, :reason)"
)


def test_manual_reminders_repeat_and_the_jobs_stay_once(db_url: str) -> None:
    config = migrate.alembic_config(db_url)
    command.upgrade(config, "0009")
    engine = make_engine(db_url)
    values = {"case": CASE, "unit": UNIT, "assignment": "a" * 32, "at": T0}
    with engine.begin() as connection:
        for statement in SETUP:
            connection.execute(text(statement), values)
    command.upgrade(config, "0010")
    try:
        with engine.begin() as connection:
            old = connection.execute(
                text("SELECT issued_by, reason FROM supervision_records")
            ).one()
            assert tuple(old) == ("", "")
            recall = connection.execute(
                text("SELECT recalled_at, recall_reason FROM assignments")
            ).one()
            assert tuple(recall) == (None, "")
            for _ in range(2):  # a supervisor chases twice: both are kept
                connection.execute(text(RECORD), {**values, "by": "sup1", "reason": "群众再次来电"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(RECORD), {**values, "by": "", "reason": ""})
        command.downgrade(config, "0009")
        with engine.begin() as connection:
            kept = connection.execute(text("SELECT kind, message FROM supervision_records")).all()
            assert [tuple(row) for row in kept] == [("reminder", "【催办】")]
            columns = connection.execute(text("SELECT * FROM assignments")).keys()
            assert "recalled_at" not in columns
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO supervision_records (case_id, deadline_id, unit_id, kind,"
                    " due_on, at, message) VALUES (:case, 1, :unit, 'reminder', '2026-11-27',"
                    " :at, 'again')"
                ),
                values,
            )
    finally:
        engine.dispose()
