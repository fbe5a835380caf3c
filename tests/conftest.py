"""Shared fixtures: the tiny world, a fresh PostGIS database per test, and the two-backend ``store``.

PostGIS comes from ``RISKMAP_TEST_POSTGIS_URL`` (``./scripts/test`` starts a throwaway cluster
and sets it). Without it the PostGIS tests FAIL with a message saying so; set
``RISKMAP_ALLOW_NO_POSTGIS=1`` to skip them instead (``./scripts/test`` never does, and it fails
when any test marked ``postgis`` was skipped).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from tests import fixtures

POSTGIS_ENV = "RISKMAP_TEST_POSTGIS_URL"
SHARED_DATA_ENV = "RISKMAP_SHARED_DATA"
SHARED_SKIP_REPORT_ENV = "RISKMAP_SHARED_SKIP_REPORT"
#: the real, openly licensed data beside the repository (../shared/data), or RISKMAP_SHARED_DATA
SHARED_DATA = Path(os.environ.get(SHARED_DATA_ENV)
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")
ALLOW_NO_POSTGIS_ENV = "RISKMAP_ALLOW_NO_POSTGIS"
SKIP_REPORT_ENV = "RISKMAP_POSTGIS_SKIP_REPORT"

# CI machines have 2 slow cores: no per-example deadline; examples stay few per test.
settings.register_profile("riskmap", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("riskmap")


# ---- no test writes to the user's log ---------------------------------------------------------

@pytest.fixture(autouse=True)
def _cli_log_in_tmp(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Unexpected CLI errors are logged under the test's temp folder, not ~/.local/state."""
    monkeypatch.setenv("RISKMAP_LOG_FILE", str(tmp_path_factory.getbasetemp() / "riskmap.log"))
    monkeypatch.delenv("RISKMAP_DEBUG", raising=False)


# ---- the tiny world --------------------------------------------------------------------------

@pytest.fixture
def tiny_world() -> dict[str, pd.DataFrame]:
    """Every built-in layer of the tiny Jizzakh world (see ``tests/fixtures.py``), fresh copies."""
    return fixtures.tiny_world()


# ---- the real data in ../shared/data ---------------------------------------------------------

def shared_file(relative: str) -> Path:
    """A file of ``../shared/data``; skips the test, naming the file, when it is not there.

    ``./scripts/test`` fails the run when such a skip happens although the folder exists.
    """
    path = SHARED_DATA / relative
    if not path.exists():
        report = os.environ.get(SHARED_SKIP_REPORT_ENV)
        if report:
            with open(report, "a", encoding="utf-8") as fh:
                fh.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]}: {path}\n")
        pytest.skip(f"real data not found: {path} (the shared data folder beside the repository, "
                    f"or set {SHARED_DATA_ENV})")
    return path


# ---- PostGIS ---------------------------------------------------------------------------------

def _libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, dbname: str) -> str:
    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgis_url() -> str:
    """URL of the PostGIS test server (from ``RISKMAP_TEST_POSTGIS_URL``)."""
    url = os.environ.get(POSTGIS_ENV)
    if not url:
        message = (f"{POSTGIS_ENV} is not set: run the tests with ./scripts/test, which starts a "
                   f"throwaway PostGIS cluster (or set {ALLOW_NO_POSTGIS_ENV}=1 to skip the "
                   "PostGIS tests on purpose)")
        if os.environ.get(ALLOW_NO_POSTGIS_ENV) == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    return url


@pytest.fixture(scope="session")
def _postgis_template(postgis_url: str) -> Iterator[str]:
    """A database with PostGIS and the migrated schema, cloned for each test."""
    from riskmap.layers.postgis import PostgisStore

    name = f"riskmap_tmpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        PostgisStore(_with_database(postgis_url, name)).close()  # migrates
        yield name
    finally:
        with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgis_db(postgis_url: str, _postgis_template: str) -> Iterator[str]:
    """URL of a fresh database for this test, already migrated (a copy of a template)."""
    name = f"riskmap_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_postgis_template}"')
    try:
        yield _with_database(postgis_url, name)
    finally:
        with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def blank_postgis_db(postgis_url: str) -> Iterator[str]:
    """URL of an empty database (no PostGIS extension, no schema) for migration tests."""
    name = f"riskmap_b_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield _with_database(postgis_url, name)
    finally:
        with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_MIGRATED_TABLES = ("mahallas", "incidents", "cameras", "planned_cameras", "infrastructure",
                    "quarantine", "audit", "place_aliases", "incident_addresses", "users",
                    "sessions", "login_failures", "jobs", "ingest_runs", "riskmap_layers",
                    "roadmaps", "roadmap_measures", "derived_dirty", "derived_state")
_RESET = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables
           WHERE schemaname = current_schema()
             AND tablename NOT IN ('alembic_version', 'spatial_ref_sys', {keep}) LOOP
    EXECUTE format('DROP TABLE %I CASCADE', r.tablename);
  END LOOP;
  TRUNCATE {tables};
END $$
""".format(keep=", ".join(f"'{t}'" for t in _MIGRATED_TABLES), tables=", ".join(_MIGRATED_TABLES))


@pytest.fixture(scope="session")
def _postgis_shared(postgis_url: str, _postgis_template: str) -> Iterator[str]:
    """One migrated database shared by the contract tests, emptied before each test."""
    name = f"riskmap_s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_postgis_template}"')
    try:
        yield _with_database(postgis_url, name)
    finally:
        with psycopg.connect(_libpq(postgis_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgis_empty_db(_postgis_shared: str) -> str:
    """URL of a migrated database holding no data (derived tables dropped, layers truncated).

    Cheaper than :func:`postgis_db` (no ``CREATE DATABASE``); use ``postgis_db`` when a test
    changes the schema itself.
    """
    with psycopg.connect(_libpq(_postgis_shared), autocommit=True) as conn:
        # the audit log's append-only triggers refuse TRUNCATE: the test cluster's superuser
        # empties it with triggers off for this session
        conn.execute("SET session_replication_role = replica")
        conn.execute(_RESET)
    return _postgis_shared


# ---- the store, on both backends -------------------------------------------------------------

@pytest.fixture(params=["embedded", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store: a data directory (embedded) or an emptied PostGIS database."""
    if request.param == "embedded":
        return str(tmp_path / "store")
    return str(request.getfixturevalue("postgis_empty_db"))


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    """An empty, opened store; the same test runs on the embedded and the PostGIS backend."""
    from riskmap.layers.store import open_store

    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


# ---- no silent PostGIS skips -----------------------------------------------------------------

def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record skipped ``postgis`` tests for ``./scripts/test``, which fails on any of them."""
    path = os.environ.get(SKIP_REPORT_ENV)
    # a test skipped for want of ../shared/data is the shared-data check's to judge (it fails
    # the run when the folder is there), not a PostGIS skip
    shared = "real data not found" in str(report.longrepr or "")
    if (path and report.skipped and "postgis" in report.keywords and not shared
            and not hasattr(report, "wasxfail")):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{report.nodeid}\n")
