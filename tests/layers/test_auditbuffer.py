"""Write-behind audit records (layers.auditbuffer) on both backends: the app's requests do not
wait for the audit log, yet every record lands, in order, chained, and a read of the log shows
them all; a process that exits flushes what it queued."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from riskmap.layers import auditlog
from riskmap.layers.access import DataAccess
from riskmap.layers.auditbuffer import buffer_for
from riskmap.layers.store import open_store

REPO = Path(__file__).resolve().parents[2]


def test_deferred_records_land_in_order_and_chained(store: object) -> None:
    access = DataAccess(store, user="amina", client="10.0.0.7", defer_audit=True)
    buf = buffer_for(store)
    buf.interval_s = 3600.0  # only the read below may write them (no background append)
    for i in range(25):
        access.audit("view", layer="commanders", detail={"i": i})
    assert buf.pending == 25  # queued: the calls returned without touching the log
    log = store.read("audit")  # a read of the log flushes first
    assert buf.pending == 0
    mine = log[log["user"] == "amina"].sort_values("seq")
    assert [json.loads(d)["i"] for d in mine["detail"]] == list(range(25))
    assert set(mine["client"]) == {"10.0.0.7"}
    assert auditlog.verify(log).ok


def test_background_thread_appends_without_a_read(store: object) -> None:
    access = DataAccess(store, user="bekzod", defer_audit=True)
    buf = buffer_for(store)
    buf.interval_s = 0.05
    access.audit("view", layer="commanders")
    deadline = time.monotonic() + 30
    while buf.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert buf.pending == 0
    log = store.read("audit")
    assert (log["user"] == "bekzod").sum() == 1


def test_a_second_store_of_the_same_url_sees_queued_records(store: object) -> None:
    access = DataAccess(store, user="dilnoza", defer_audit=True)
    buffer_for(store).interval_s = 3600.0
    access.audit("export", layer="incidents", rows=7)
    other = open_store(store.url)
    try:
        assert other.has("audit")
        log = other.read("audit")
    finally:
        other.close()
    assert log.loc[log["user"] == "dilnoza", "rows"].tolist() == [7]


def test_the_records_of_an_exiting_process_are_flushed(store_url: str) -> None:
    code = (
        "import sys\n"
        "from riskmap.layers.store import open_store\n"
        "from riskmap.layers.access import DataAccess\n"
        "from riskmap.layers.auditbuffer import buffer_for\n"
        "s = open_store(sys.argv[1])\n"
        "buffer_for(s).interval_s = 3600.0\n"
        "a = DataAccess(s, user='exiting', defer_audit=True)\n"
        "for i in range(3):\n"
        "    a.audit('view', layer='commanders')\n"
        "assert buffer_for(s).pending == 3\n"
    )
    subprocess.run([sys.executable, "-c", code, store_url], check=True, cwd=REPO, timeout=120)
    reopened = open_store(store_url)
    try:
        log = reopened.read("audit")
    finally:
        reopened.close()
    assert (log["user"] == "exiting").sum() == 3
    assert auditlog.verify(log).ok


def test_immediate_audit_is_unchanged(store: object) -> None:
    DataAccess(store, user="cli-user").audit("ingest", layer="incidents", rows=3)
    assert buffer_for(store).pending == 0
    log = store.read("audit")
    assert isinstance(log, pd.DataFrame) and (log["user"] == "cli-user").sum() == 1
