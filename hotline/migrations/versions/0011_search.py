"""Search (查询): full-text indexes over case text and call transcripts (claimed; filled in by
the search work of issue 16).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
