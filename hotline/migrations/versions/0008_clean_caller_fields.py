"""Callers' numbers and names stored before the ivr cleaned them: control characters (ESC,
BEL…) are dropped, line breaks and tabs become spaces, as ``ivr.fields.clean`` does for every
new call (a copy here: a migration keeps what it did, and the core imports no stage). Nothing
else changes; the columns keep their lengths (values are cut to them at the edge).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000
NUMBER, NAME = 64, 128
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean(value: str, limit: int) -> str:
    kept = []
    for char in value:
        if char in "\t\n\r\v\f":
            kept.append(" ")
        elif unicodedata.category(char) not in {"Cc", "Cs"} and char not in BIDI_CONTROLS:
            kept.append(char)
    return "".join(kept).strip()[:limit].strip()


def upgrade() -> None:
    connection = op.get_bind()
    calls = sa.table(
        "calls",
        sa.column("id", sa.String),
        sa.column("caller_number", sa.String),
        sa.column("caller_name", sa.String),
    )
    last = ""
    while True:
        rows = connection.execute(
            sa.select(calls.c.id, calls.c.caller_number, calls.c.caller_name)
            .where(calls.c.id > last)
            .order_by(calls.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for call_id, number, name in rows:
            cleaned = {"caller_number": clean(number, NUMBER), "caller_name": clean(name, NAME)}
            if cleaned != {"caller_number": number, "caller_name": name}:
                connection.execute(calls.update().where(calls.c.id == call_id).values(**cleaned))
        last = rows[-1][0]


def downgrade() -> None:
    """The control characters are not put back."""
