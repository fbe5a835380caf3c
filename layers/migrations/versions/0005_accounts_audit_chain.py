"""Accounts (users, sessions, failed logins), jobs, and an append-only, hash-chained audit log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

``users`` hold the people who may log in (role, scope, Argon2id hash, lock-out), ``sessions``
the logged-in sessions every app worker shares (token as SHA-256 only), ``login_failures``
recent failed logins for throttling, ``jobs`` the long work run by worker processes (state,
progress, result). ``audit`` gains the client address, the outcome and a
hash chain (``seq``, ``prev_hash``, ``hash``; see ``layers/access.py``); rows written before
this revision keep empty chain fields and are reported as unchained by ``riskmap audit
verify``. A trigger refuses UPDATE, DELETE and TRUNCATE of ``audit`` for every role that does
not first disable it (which takes the table's owner and is itself visible in the log of the
database server), so the app's role can only add records.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.TIMESTAMP(timezone=True)

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION riskmap_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def upgrade() -> None:
    """Create the account tables; chain and protect the audit log."""
    op.create_table(
        "users",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("regions", sa.Text),
        sa.Column("districts", sa.Text),
        sa.Column("suppressed_elsewhere", sa.Boolean),
        sa.Column("password_hash", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("locked_until", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("client", sa.Text),
        sa.Column("csrf", sa.Text),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"])
    op.create_table(
        "login_failures",
        sa.Column("failure_id", sa.Text, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("username", sa.Text),
        sa.Column("client", sa.Text),
    )
    op.create_index("ix_login_failures_username", "login_failures", ["username"])
    op.create_index("ix_login_failures_client", "login_failures", ["client"])
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("region", sa.Text),
        sa.Column("dedupe_key", sa.Text),
        sa.Column("params", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("progress", sa.Float),
        sa.Column("message", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("started_at", _TS),
        sa.Column("finished_at", _TS),
        sa.Column("worker", sa.Text),
        sa.Column("heartbeat", _TS),
        sa.Column("result", sa.Text),
    )
    for col in ("status", "owner", "dedupe_key"):
        op.create_index(f"ix_jobs_{col}", "jobs", [col])
    for name, typ in (("client", sa.Text), ("outcome", sa.Text), ("seq", sa.BigInteger),
                      ("prev_hash", sa.Text), ("hash", sa.Text)):
        op.add_column("audit", sa.Column(name, typ))
    op.create_index("ix_audit_seq", "audit", ["seq"], unique=True)
    op.create_index("ix_audit_at", "audit", ["at"])
    op.execute(_APPEND_ONLY)
    op.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
               "FOR EACH ROW EXECUTE FUNCTION riskmap_audit_append_only()")
    op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
               "FOR EACH STATEMENT EXECUTE FUNCTION riskmap_audit_append_only()")


def downgrade() -> None:
    """Drop the account tables, the triggers and the chain columns."""
    op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
    op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
    op.execute("DROP FUNCTION IF EXISTS riskmap_audit_append_only()")
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_index("ix_audit_seq", table_name="audit")
    for name in ("hash", "prev_hash", "seq", "outcome", "client"):
        op.drop_column("audit", name)
    op.drop_table("jobs")
    op.drop_table("login_failures")
    op.drop_table("sessions")
    op.drop_table("users")
