"""Live transcription: the streams Asterisk sends to a recogniser, and the utterances heard.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_streams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("call_uniqueid", sa.String(64), nullable=False, index=True),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("spied_channel", sa.String(128), nullable=False),
        sa.Column("recogniser", sa.String(128), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("requested_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "live_utterances",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "stream_id", sa.String(36), sa.ForeignKey("live_streams.id"), nullable=False, index=True
        ),
        sa.Column("call_uniqueid", sa.String(64), nullable=False, index=True),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("live_utterances")
    op.drop_table("live_streams")
