"""The place_aliases and incident_addresses layers: hand-made geocoding and what it works on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``place_aliases`` holds the aliases an analyst chose on the Rematch page or loaded with
``riskmap ingest aliases FILE`` (keyed by the normalised alias and its district and region);
``incident_addresses`` the location text of incidents loaded at district precision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    """Create ``place_aliases`` and ``incident_addresses`` (no geometry)."""
    op.create_table(
        "place_aliases",
        sa.Column("alias_key", sa.Text, primary_key=True),
        sa.Column("alias", sa.Text),
        sa.Column("mahalla_id", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", _TS),
        sa.Column("source", sa.Text),
    )
    for col in ("mahalla_id", "region"):
        op.create_index(f"ix_place_aliases_{col}", "place_aliases", [col])

    op.create_table(
        "incident_addresses",
        sa.Column("incident_id", sa.Text, primary_key=True),
        sa.Column("address", sa.Text),
        sa.Column("location", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("source_file", sa.Text),
        sa.Column("source_row", sa.BigInteger),
        sa.Column("recorded_at", _TS),
    )
    op.create_index("ix_incident_addresses_region", "incident_addresses", ["region"])


def downgrade() -> None:
    """Drop ``incident_addresses`` and ``place_aliases``."""
    op.drop_table("incident_addresses")
    op.drop_table("place_aliases")
