"""Migration 0008 cleans the callers' numbers and names stored before the ivr did (SQLite and
a real PostgreSQL server)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from core.db import make_engine
from hotline import migrate
from tests.builders import T0


def test_control_characters_stored_earlier_are_removed(db_url: str) -> None:
    command.upgrade(migrate.alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    rows = {
        "a" * 32: ("1380013\x1b8000", "\x1b[31m李四\x07"),
        "b" * 32: ("13900000001", "王五"),
        "c" * 32: ("137\n", "赵\t六\u202e"),
    }
    with engine.begin() as connection:
        for call_id, (number, name) in rows.items():
            connection.execute(
                text(
                    "INSERT INTO calls (id, asterisk_uniqueid, linkedid, channel, caller_number,"
                    " caller_name, dialled_number, started_at) VALUES (:id, :id, '', '', :number,"
                    " :name, '12345', :at)"
                ),
                {"id": call_id, "number": number, "name": name, "at": T0},
            )
    migrate.upgrade(db_url)
    with engine.connect() as connection:
        stored = {
            row[0]: (row[1], row[2])
            for row in connection.execute(text("SELECT id, caller_number, caller_name FROM calls"))
        }
    engine.dispose()
    assert stored == {
        "a" * 32: ("13800138000", "[31m李四"),
        "b" * 32: ("13900000001", "王五"),
        "c" * 32: ("137", "赵 六"),
    }
