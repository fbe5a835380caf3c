"""Ingest runs: one record per load of a file.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

``ingest_runs`` holds who loaded which file (its name, size and SHA-256, never a path), when,
how it ended (``ok``, ``failed`` or ``refused``), the counts, the quarantined rows by reason,
the error, and the bounded report (see ``riskmap/etl/runs.py``). Like ``jobs`` it is
bookkeeping: its writes do not change the store's version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    """Create ``ingest_runs``."""
    op.create_table(
        "ingest_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("ended_at", _TS),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("client", sa.Text),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("file_size", sa.BigInteger),
        sa.Column("file_sha256", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("input_rows", sa.BigInteger),
        sa.Column("loaded", sa.BigInteger),
        sa.Column("updated", sa.BigInteger),
        sa.Column("duplicates", sa.BigInteger),
        sa.Column("quarantined", sa.BigInteger),
        sa.Column("by_reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("summary", sa.Text),
        sa.Column("report", sa.Text),
    )
    for col in ("started_at", "outcome", "file_name"):
        op.create_index(f"ix_ingest_runs_{col}", "ingest_runs", [col])


def downgrade() -> None:
    """Drop ``ingest_runs``."""
    op.drop_table("ingest_runs")
