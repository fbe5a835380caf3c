"""The language each user chose for the app (``users.language``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

The app's language switch keeps the choice in the URL (``?lang=``) and in the user's profile,
so that the next login opens in the same language. Empty: the browser's language decides.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``users.language``."""
    op.add_column("users", sa.Column("language", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop ``users.language``."""
    op.drop_column("users", "language")
