"""Partition the incidents table by month of occurred_at.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

``incidents`` becomes a table partitioned by range of ``occurred_at``, one partition per
calendar month (UTC) named ``incidents_yYYYYmMM``; the store creates the partition of a month
when a load first needs it. PostgreSQL requires the primary key of a partitioned table to hold
the partition column, so it is ``(incident_id, occurred_at)``; the store keeps ``incident_id``
unique on its own (see ``layers/postgis.py``). ``occurred_at`` becomes NOT NULL: a stored row
without one (the loader never wrote such rows) is moved to ``quarantine`` with the reason
``missing_date`` and the row as JSON, not dropped. The ids ``incident_id`` and ``mahalla_id``
compare byte-wise (``COLLATE "C"``): their B-trees build 2-3x faster than with a linguistic
collation, and an id has no alphabetical order to keep.

The existing rows are copied into the new partitions and the indexes built once, after the
copy: B-tree on h3, mahalla_id, occurred_at and region, GiST on the geometry (the same names as
revision 0001, now partitioned indexes). A database already partitioned is left as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = """
    incident_id text COLLATE "C" NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    category text,
    h3 bigint,
    mahalla_id text COLLATE "C",
    district text,
    region text,
    geocode_precision text,
    flags text,
    source_file text,
    source_row bigint,
    content_hash bigint,
    geometry geometry(Point, 4326)
"""
_NAMES = ("incident_id, occurred_at, category, h3, mahalla_id, district, region, "
          "geocode_precision, flags, source_file, source_row, content_hash, geometry")
_BTREE = ("h3", "mahalla_id", "occurred_at", "region")
_OLD = "incidents_unpartitioned"


def _relkind(table: str) -> str | None:
    return op.get_bind().execute(sa.text(
        "SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = :t"),
        {"t": table}).scalar()


def _indexes() -> None:
    for col in _BTREE:
        op.create_index(f"ix_incidents_{col}", "incidents", [col])
    op.create_index("gix_incidents_geometry", "incidents", ["geometry"], postgresql_using="gist")


def upgrade() -> None:
    """Turn ``incidents`` into a table partitioned by month, moving its rows over."""
    kind = _relkind("incidents")
    if kind == "p":
        return
    if kind is not None:
        op.execute(f"ALTER TABLE incidents RENAME TO {_OLD}")
        for name in (*(f"ix_incidents_{c}" for c in _BTREE), "gix_incidents_geometry"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"ALTER TABLE {_OLD} DROP CONSTRAINT IF EXISTS incidents_pkey")
    op.execute(f"CREATE TABLE incidents ({_COLUMNS}) PARTITION BY RANGE (occurred_at)")
    op.execute("COMMENT ON TABLE incidents IS 'one partition per calendar month (UTC) of "
               "occurred_at, incidents_yYYYYmMM, created by the store when a load needs it'")
    if kind is not None:
        _move_rows()
    op.execute("ALTER TABLE incidents ADD PRIMARY KEY (incident_id, occurred_at)")
    _indexes()


def _move_rows() -> None:
    """Quarantine the rows without a date, create the months of the others, copy them."""
    op.execute(f"""
        INSERT INTO quarantine (quarantine_id, layer, source_file, source_row, reason, detail,
                                raw, quarantined_at)
        SELECT 'm0004:' || incident_id, 'incidents', source_file, source_row, 'missing_date',
               'column ''occurred_at'' is empty: the incidents table is partitioned by its '
               || 'month (migration 0004); load the row again with its date',
               (to_jsonb(o) - 'geometry'
                || jsonb_build_object('geometry', ST_AsText(o.geometry)))::text,
               now()
        FROM {_OLD} AS o
        WHERE occurred_at IS NULL
        ON CONFLICT (quarantine_id) DO NOTHING""")
    months = op.get_bind().execute(sa.text(
        f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS m FROM {_OLD} "
        "WHERE occurred_at IS NOT NULL ORDER BY m")).scalars().all()
    for start in months:
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        op.execute(f"CREATE TABLE incidents_y{start.year:04d}m{start.month:02d} PARTITION OF "
                   f"incidents FOR VALUES FROM ('{start:%Y-%m-%d} 00:00:00+00') "
                   f"TO ('{end:%Y-%m-%d} 00:00:00+00')")
    op.execute(f"INSERT INTO incidents ({_NAMES}) SELECT {_NAMES} FROM {_OLD} "
               "WHERE occurred_at IS NOT NULL")
    op.execute(f"DROP TABLE {_OLD}")
    op.execute("UPDATE riskmap_layers SET updated_at = now() WHERE name = 'incidents'")


def downgrade() -> None:
    """Back to one ``incidents`` table keyed by ``incident_id`` (rows and indexes kept)."""
    op.execute(f"CREATE TABLE {_OLD} ({_COLUMNS})")
    op.execute(f"INSERT INTO {_OLD} ({_NAMES}) SELECT {_NAMES} FROM incidents")
    op.execute("DROP TABLE incidents")
    op.execute(f"ALTER TABLE {_OLD} RENAME TO incidents")
    op.execute("ALTER TABLE incidents ALTER COLUMN occurred_at DROP NOT NULL")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_pkey PRIMARY KEY (incident_id)")
    _indexes()
