"""Nodes (issue 18): several Asterisk+ivr nodes share one database. Each call row carries its
node's name (``calls.node``; "" for the single machine), each node heartbeats its ``nodes``
row (operators free, calls now), and live recognisers on any host register in
``live_recognisers`` (capacity, heartbeat).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("node", sa.String(length=16), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_calls_node"), ["node"], unique=False)
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("sip_address", sa.String(length=64), nullable=False),
        sa.Column("ami_connected", sa.Boolean(), nullable=False),
        sa.Column("operators_registered", sa.Integer(), nullable=False),
        sa.Column("operators_free", sa.Integer(), nullable=False),
        sa.Column("calls_active", sa.Integer(), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_nodes")),
    )
    op.create_table(
        "live_recognisers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_live_recognisers")),
    )


def downgrade() -> None:
    op.drop_table("live_recognisers")
    op.drop_table("nodes")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(batch.f("ix_calls_node"))
        batch.drop_column("node")
