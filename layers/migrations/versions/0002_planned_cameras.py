"""The planned_cameras layer: cameras proposed by the planner and accepted by a planner.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

__all__ = ["downgrade", "upgrade"]

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_F = sa.Float(precision=53)


def upgrade() -> None:
    """Create ``planned_cameras`` (the camera columns plus the plan's)."""
    op.create_table(
        "planned_cameras",
        sa.Column("camera_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text),
        sa.Column("bearing_deg", _F),
        sa.Column("fov_deg", _F),
        sa.Column("range_m", _F),
        sa.Column("height_m", _F),
        sa.Column("installed_on", sa.Date),
        sa.Column("status", sa.Text),
        sa.Column("mahalla_id", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("plan_id", sa.Text),
        sa.Column("rank", sa.BigInteger),
        sa.Column("marginal_gain", _F),
        sa.Column("site_id", sa.Text),
        sa.Column("geometry", Geometry("POINT", srid=4326, spatial_index=False)),
    )
    for col in ("plan_id", "region"):
        op.create_index(f"ix_planned_cameras_{col}", "planned_cameras", [col])
    op.create_index("gix_planned_cameras_geometry", "planned_cameras", ["geometry"],
                    postgresql_using="gist")


def downgrade() -> None:
    """Drop ``planned_cameras``."""
    op.drop_table("planned_cameras")
