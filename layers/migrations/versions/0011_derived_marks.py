"""The bookkeeping of incremental builds: ``derived_dirty`` and ``derived_state``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Every write of a base layer (incidents, mahallas, cameras, infrastructure) leaves marks in
``derived_dirty`` in its own transaction (``layers.store.TRACKED``), and ``riskmap build``
records in ``derived_state`` what each step last computed from. Created here rather than on
the first write, so that two first loads running at once cannot race to create the table
(one would fail on the other's ``CREATE TABLE``). Columns as the specs of
``layers.derived.INCREMENTAL_SPECS``; both are bookkeeping (``layers.store.UNVERSIONED``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    """Create ``derived_dirty`` and ``derived_state``."""
    op.create_table(
        "derived_dirty",
        sa.Column("mark_id", sa.Text, primary_key=True),
        sa.Column("layer", sa.Text),
        sa.Column("month", _TS),
        sa.Column("region", sa.Text),
        sa.Column("marked_at", _TS),
    )
    op.create_table(
        "derived_state",
        sa.Column("step", sa.Text, primary_key=True),
        sa.Column("state", sa.Text),
        sa.Column("built_at", _TS),
    )


def downgrade() -> None:
    """Drop ``derived_state`` and ``derived_dirty``."""
    op.drop_table("derived_state")
    op.drop_table("derived_dirty")
