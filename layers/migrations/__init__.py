"""Alembic migrations of the PostGIS store (run by :meth:`layers.postgis.PostgisStore.migrate`)."""

__all__: list[str] = []
