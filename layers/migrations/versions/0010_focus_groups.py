"""The focus fields of incidents: victim's and offender's sex and age group, flags.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

``incidents`` gains ``victim_sex``, ``victim_age_group``, ``offender_sex``,
``offender_age_group`` (text: canonical values of ``riskmap.geo.focus``), ``domestic``,
``repeat_offender`` and ``on_probation`` (boolean), all nullable: empty where the source does
not say. On the partitioned table the columns reach every month's partition. The app's
focus-group filters (minors, youth, women, family, repeat offenders) read them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = (("victim_sex", sa.Text), ("victim_age_group", sa.Text), ("offender_sex", sa.Text),
            ("offender_age_group", sa.Text), ("domestic", sa.Boolean),
            ("repeat_offender", sa.Boolean), ("on_probation", sa.Boolean))


def upgrade() -> None:
    """Add the focus columns to ``incidents``."""
    for name, kind in _COLUMNS:
        op.add_column("incidents", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Drop the focus columns of ``incidents``."""
    for name, _ in reversed(_COLUMNS):
        op.drop_column("incidents", name)
