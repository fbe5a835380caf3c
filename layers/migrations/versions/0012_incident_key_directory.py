"""A directory of incident ids: which month each stored incident is in.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

``incidents`` is partitioned by month of ``occurred_at`` (revision 0004), so its primary key is
``(incident_id, occurred_at)`` and PostgreSQL has no index on ``incident_id`` alone: a lookup
by id (every load asks which of its ids are stored, then deletes the stored rows of the ids it
rewrites) probed the key index of every month, ~16 ms a month for 1,000 ids, so a daily load
grew with the years of history. ``incidents_keys`` holds one row per stored incident,
``(incident_id PRIMARY KEY, occurred_at)``: a lookup reads it once, then only the months its
ids are in. The primary key also makes an id unique across months in the database itself.

The store keeps it in step with ``incidents`` in the same transaction as every write
(``layers/postgis.py``): a row written to ``incidents`` by hand, outside the store, is not in
it and is not found by id. Filled here from the stored rows (an id stored twice, which the
store never writes, keeps its latest month).
"""

from __future__ import annotations

from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``incidents_keys`` from the stored incidents; index it once, after the fill."""
    op.execute('CREATE TABLE incidents_keys (incident_id text COLLATE "C" NOT NULL, '
               "occurred_at timestamp with time zone NOT NULL)")
    op.execute("COMMENT ON TABLE incidents_keys IS 'the month of every stored incident id, "
               "kept by the store with each write of incidents'")
    op.execute("INSERT INTO incidents_keys (incident_id, occurred_at) "
               "SELECT DISTINCT ON (incident_id) incident_id, occurred_at FROM incidents "
               "ORDER BY incident_id, occurred_at DESC")
    op.execute("ALTER TABLE incidents_keys ADD PRIMARY KEY (incident_id)")


def downgrade() -> None:
    """Drop ``incidents_keys`` (``incidents`` is left as it is)."""
    op.execute("DROP TABLE incidents_keys")
