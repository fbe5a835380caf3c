"""API tokens of the systems that post live feeds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

``api_tokens`` holds one row per token made by ``riskmap tokens create``: the system's name,
the token's SHA-256 (never the token), its scope (regions, districts as JSON lists, like a
user's), the kinds it may post (``incidents``, ``cameras``), who made it and when, when it was
revoked and when and from where it was last used (see ``riskmap/auth/apitokens.py``). Like
``users`` it is bookkeeping: its writes do not change the store's version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    """Create ``api_tokens``."""
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("regions", sa.Text),
        sa.Column("districts", sa.Text),
        sa.Column("kinds", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS),
        sa.Column("last_used_at", _TS),
        sa.Column("last_used_from", sa.Text),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)


def downgrade() -> None:
    """Drop ``api_tokens``."""
    op.drop_index("ix_api_tokens_token_hash", table_name="api_tokens")
    op.drop_table("api_tokens")
