"""A load killed mid-statement must not leave its PostGIS session running and holding locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from riskmap.layers.postgis import PostgisStore
from tests import fixtures
from tests.conftest import _libpq

pytestmark = pytest.mark.postgis

#: a child that takes the incidents table's lock in a store transaction, then works for 60 s
#: in a statement that never talks to the client (like the INSERT .. SELECT of an upsert)
_CHILD = textwrap.dedent("""
    import sys
    from riskmap.layers.postgis import PostgisStore
    store = PostgisStore(sys.argv[1])
    with store.transaction() as txn:
        txn.cur.execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        txn.cur.execute("SELECT pg_sleep(60) /* riskmap-kill-test */")
""")


def _sessions(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                       "'%riskmap-kill-test%' AND pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


def _until(predicate, seconds: float) -> float:
    """Seconds until ``predicate()`` holds; fails after ``seconds``."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > seconds:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - t0


def test_a_killed_load_ends_its_session_at_once(postgis_db: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, postgis_db],
                             env={**os.environ}, stderr=subprocess.PIPE)
    with psycopg.connect(_libpq(postgis_db), autocommit=True) as conn:
        try:
            _until(lambda: _sessions(conn) == 1, 60)  # the child holds the lock, sleeping
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        gone = _until(lambda: _sessions(conn) == 0, 20)
    assert gone < 5, f"the killed load's session ran on for {gone:.1f} s"
    # the lock went with it: the next load does not wait
    with PostgisStore(postgis_db) as store:
        t0 = time.monotonic()
        store.append("incidents", fixtures.incidents())
        assert time.monotonic() - t0 < 10
        assert store.count("incidents") == len(fixtures.incidents())


def test_sessions_carry_the_guard_settings(postgis_db: str) -> None:
    with PostgisStore(postgis_db) as store, store.transaction() as txn:
        got = dict(txn.cur.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('client_connection_check_interval', 'idle_in_transaction_session_timeout', "
            "'application_name', 'TimeZone')").fetchall())
    assert got == {"client_connection_check_interval": "1000",
                   "idle_in_transaction_session_timeout": "600000",
                   "application_name": "riskmap", "TimeZone": "UTC"}
