"""A failed incident load leaves the store exactly as it was, on both backends."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from riskmap.errors import InputFileError
from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from tests.etl.grid import centre, grid_frame

NOW = pd.Timestamp("2025-06-01T00:00:00Z")


def _csv(path: Path, n: int, *, prefix: str = "R", broken_at: int | None = None) -> Path:
    lon, lat = centre(4)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["incident_id", "occurred_at", "category", "lat", "lon"])
        for i in range(n):
            if broken_at is not None and i == broken_at:
                fh.write('"unterminated,quote\n')
                continue
            w.writerow([f"{prefix}{i}", "2025-01-10 10:00", "theft", lat, lon + (i % 50) * 1e-5])
    return path


def _snapshot(store) -> tuple[pd.DataFrame, pd.DataFrame]:
    inc = store.read("incidents", columns=["incident_id", "category", "content_hash"])
    q = store.read("quarantine", columns=["quarantine_id", "reason"])
    return (inc.sort_values("incident_id").reset_index(drop=True),
            q.sort_values("quarantine_id").reset_index(drop=True))


def test_a_file_broken_half_way_changes_nothing(store, tmp_path):
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    ingest_incidents(_csv(tmp_path / "good.csv", 50, prefix="G"), store, ctx)
    before = _snapshot(store)
    broken = _csv(tmp_path / "broken.csv", 5000, prefix="B", broken_at=4000)
    with pytest.raises(InputFileError, match=r"broken\.csv"):
        ingest_incidents(broken, store, ctx, chunk_rows=1000)  # fails after 3 chunks
    after = _snapshot(store)
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])


def test_a_killed_ingest_process_changes_nothing(store_url, tmp_path):
    from riskmap.layers import open_store

    store = open_store(store_url)
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    ingest_incidents(_csv(tmp_path / "good.csv", 50, prefix="G"), store, ctx)
    before = _snapshot(store)
    big = _csv(tmp_path / "big.csv", 300_000, prefix="K")
    env = {**os.environ, "RISKMAP_STORE": store_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskmap", "ingest", "incidents", str(big), "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)  # well inside the load: reading, geocoding or writing
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    after = _snapshot(open_store(store_url))
    if killed:
        assert proc.returncode == -signal.SIGKILL
        pd.testing.assert_frame_equal(before[0], after[0])
        pd.testing.assert_frame_equal(before[1], after[1])
    else:  # the machine was fast enough to finish: then everything must be there
        assert len(after[0]) == len(before[0]) + 300_000
    # the store still works after the kill
    report = ingest_incidents(_csv(tmp_path / "more.csv", 10, prefix="M"), open_store(store_url),
                              ctx)
    assert report.loaded == 10
