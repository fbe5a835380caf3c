"""Alembic environment: configured in code by :func:`layers.postgis.alembic_config`, no alembic.ini.

``PostgisStore.migrate`` passes an open connection (inside its own transaction, holding an advisory
lock) as ``config.attributes["connection"]``; the ``alembic`` command line falls back to the
``sqlalchemy.url`` option or ``RISKMAP_STORE``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

__all__: list[str] = []

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("RISKMAP_STORE", "")
    if not url.startswith("postgresql"):
        raise RuntimeError("set sqlalchemy.url or RISKMAP_STORE to a postgresql+psycopg:// URL")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
