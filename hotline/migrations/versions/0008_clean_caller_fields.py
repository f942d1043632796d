"""Callers' numbers and names stored before the ivr cleaned them: control characters (ESC,
BEL…) are dropped, line breaks and tabs become spaces, as ``ivr.fields.clean`` does for every
new call. Nothing else changes; the columns keep their lengths (values are cut to them at
the edge).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr import fields

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    calls = sa.table('calls', sa.column('id', sa.String), sa.column('caller_number', sa.String),
                     sa.column('caller_name', sa.String))
    last = ''
    while True:
        rows = connection.execute(
            sa.select(calls.c.id, calls.c.caller_number, calls.c.caller_name)
            .where(calls.c.id > last).order_by(calls.c.id).limit(BATCH)).all()
        if not rows:
            return
        for call_id, number, name in rows:
            clean = {'caller_number': fields.clean(number, fields.NUMBER),
                     'caller_name': fields.clean(name, fields.NAME)}
            if clean != {'caller_number': number, 'caller_name': name}:
                connection.execute(calls.update().where(calls.c.id == call_id).values(**clean))
        last = rows[-1][0]


def downgrade() -> None:
    """The control characters are not put back."""
