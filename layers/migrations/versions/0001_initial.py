"""Initial schema: PostGIS, the built-in layers and the catalogue of layers holding data.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The tables mirror the layer specs of ``layers/builtin.py`` as they were at this revision (a
migration is a frozen snapshot; later spec changes need a new revision). Geometry columns are
``geometry(<type>, 4326)`` with a GiST index; each spec's ``key`` is the primary key and each of
its ``indexes`` gets a B-tree index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

__all__ = ["downgrade", "upgrade"]

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TEXT = sa.Text
_TS = sa.TIMESTAMP(timezone=True)


def _geom(kind: str) -> sa.Column:
    return sa.Column("geometry", Geometry(kind, srid=4326, spatial_index=False))


def _indexes(table: str, columns: tuple[str, ...], *, spatial: bool) -> None:
    for col in columns:
        op.create_index(f"ix_{table}_{col}", table, [col])
    if spatial:
        op.create_index(f"gix_{table}_geometry", table, ["geometry"], postgresql_using="gist")


def upgrade() -> None:
    """Create the PostGIS extension, the built-in layer tables and ``riskmap_layers``."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "riskmap_layers",
        sa.Column("name", _TEXT, primary_key=True),
        sa.Column("registered", sa.Boolean, nullable=False),
        sa.Column("arrow_schema", _TEXT, comment="base64 Arrow IPC schema of the attributes"),
        sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
        comment="layers that hold data, with the Arrow types their attributes were written with",
    )

    op.create_table(
        "mahallas",
        sa.Column("mahalla_id", _TEXT, primary_key=True),
        sa.Column("name", _TEXT),
        sa.Column("name_cyrillic", _TEXT),
        sa.Column("district", _TEXT),
        sa.Column("region", _TEXT),
        sa.Column("population", sa.Float(precision=53)),
        _geom("MULTIPOLYGON"),
    )
    _indexes("mahallas", ("district", "region"), spatial=True)

    op.create_table(
        "incidents",
        sa.Column("incident_id", _TEXT, primary_key=True),
        sa.Column("occurred_at", _TS),
        sa.Column("category", _TEXT),
        sa.Column("h3", sa.BigInteger),
        sa.Column("mahalla_id", _TEXT),
        sa.Column("district", _TEXT),
        sa.Column("region", _TEXT),
        sa.Column("geocode_precision", _TEXT),
        sa.Column("flags", _TEXT),
        sa.Column("source_file", _TEXT),
        sa.Column("source_row", sa.BigInteger),
        sa.Column("content_hash", sa.BigInteger),
        _geom("POINT"),
    )
    _indexes("incidents", ("h3", "mahalla_id", "occurred_at", "region"), spatial=True)

    op.create_table(
        "cameras",
        sa.Column("camera_id", _TEXT, primary_key=True),
        sa.Column("type", _TEXT),
        sa.Column("bearing_deg", sa.Float(precision=53)),
        sa.Column("fov_deg", sa.Float(precision=53)),
        sa.Column("range_m", sa.Float(precision=53)),
        sa.Column("height_m", sa.Float(precision=53)),
        sa.Column("installed_on", sa.Date),
        sa.Column("status", _TEXT),
        sa.Column("mahalla_id", _TEXT),
        sa.Column("district", _TEXT),
        sa.Column("region", _TEXT),
        _geom("POINT"),
    )
    _indexes("cameras", ("mahalla_id", "region"), spatial=True)

    op.create_table(
        "infrastructure",
        sa.Column("feature_id", _TEXT, primary_key=True),
        sa.Column("kind", _TEXT),
        sa.Column("name", _TEXT),
        sa.Column("road_class", _TEXT),
        sa.Column("speed_kmh", sa.Float(precision=53)),
        sa.Column("season_start", _TEXT),
        sa.Column("season_end", _TEXT),
        sa.Column("mahalla_id", _TEXT),
        sa.Column("district", _TEXT),
        sa.Column("region", _TEXT),
        sa.Column("attrs", _TEXT),
        _geom("GEOMETRY"),
    )
    _indexes("infrastructure", ("kind", "region"), spatial=True)

    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", _TEXT, primary_key=True),
        sa.Column("layer", _TEXT),
        sa.Column("source_file", _TEXT),
        sa.Column("source_row", sa.BigInteger),
        sa.Column("reason", _TEXT),
        sa.Column("detail", _TEXT),
        sa.Column("raw", _TEXT),
        sa.Column("quarantined_at", _TS),
    )

    op.create_table(
        "audit",
        sa.Column("at", _TS),
        sa.Column("user", _TEXT),
        sa.Column("action", _TEXT),
        sa.Column("layer", _TEXT),
        sa.Column("scope", _TEXT),
        sa.Column("detail", _TEXT),
        sa.Column("rows", sa.BigInteger),
    )


def downgrade() -> None:
    """Drop the tables this revision created (the PostGIS extension stays)."""
    for table in ("audit", "quarantine", "infrastructure", "cameras", "incidents", "mahallas",
                  "riskmap_layers"):
        op.drop_table(table)
