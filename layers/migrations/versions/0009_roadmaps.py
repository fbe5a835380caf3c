"""Red-mahalla roadmaps and their measures.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

``roadmaps`` holds one row per mahalla and opening (``<mahalla_id>@<YYYY-MM>``): the red
status's reason at opening, the responsible official, the mahalla seven as JSON, open/closed and,
once closed, the figures at opening and at closing. ``roadmap_measures`` holds the measures
(owner, due date, status, notes, who changed them last). Both carry ``region`` and ``district``
so the data-access layer scopes them; they are edited in the app (audited as roadmap edits) and
closed by ``riskmap build`` (see ``riskmap/geo/roadmap.py``). Like ``jobs`` they are
bookkeeping: their writes do not change the store's version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    """Create ``roadmaps`` and ``roadmap_measures``."""
    op.create_table(
        "roadmaps",
        sa.Column("roadmap_id", sa.Text, primary_key=True),
        sa.Column("mahalla_id", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("opened_month", _TS),
        sa.Column("opened_because", sa.Text),
        sa.Column("opened_by", sa.Text),
        sa.Column("official_name", sa.Text),
        sa.Column("official_position", sa.Text),
        sa.Column("official_phone", sa.Text),
        sa.Column("members", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("closed_at", _TS),
        sa.Column("closed_figures", sa.Text),
        sa.Column("updated_at", _TS),
        sa.Column("updated_by", sa.Text),
    )
    for col in ("mahalla_id", "region", "status"):
        op.create_index(f"ix_roadmaps_{col}", "roadmaps", [col])
    op.create_table(
        "roadmap_measures",
        sa.Column("measure_id", sa.Text, primary_key=True),
        sa.Column("roadmap_id", sa.Text, nullable=False),
        sa.Column("mahalla_id", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("due_date", sa.Date),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("updated_at", _TS),
        sa.Column("updated_by", sa.Text),
    )
    for col in ("roadmap_id", "mahalla_id", "region"):
        op.create_index(f"ix_roadmap_measures_{col}", "roadmap_measures", [col])


def downgrade() -> None:
    """Drop ``roadmap_measures`` and ``roadmaps``."""
    op.drop_table("roadmap_measures")
    op.drop_table("roadmaps")
