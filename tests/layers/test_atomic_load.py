"""A load killed with SIGKILL before its transaction commits leaves the store exactly as it was.

Runs on both backends: a child process opens the store, starts a transaction that replaces the
incidents with a big layer (and adds a derived table), and dies before the commit, either by
killing itself right after staging the writes or by being killed by the parent mid-load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.layers.store import open_store
from tests import fixtures

_CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, pandas as pd, geopandas as gpd, shapely
    from riskmap.layers.store import open_store

    url, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(7)
    ids = pd.Series(np.arange(n)).astype(str)
    big = gpd.GeoDataFrame({
        "incident_id": "K" + ids,
        "occurred_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
            rng.integers(0, 365 * 86400, n), unit="s"),
        "category": np.where(rng.random(n) < 0.5, "theft", "assault"),
        "h3": np.full(n, 617567145898016767, dtype="int64"),
        "mahalla_id": "M1",
        "geocode_precision": "coordinates",
    }, geometry=shapely.points(67.84 + rng.random(n) * 0.02, 40.10 + rng.random(n) * 0.02),
       crs="EPSG:4326")
    store = open_store(url)
    with store.transaction() as txn:
        txn.delete("cameras", ["C1", "C2", "C3"])
        txn.replace("scratch_derived", pd.DataFrame({"x": np.arange(n)}))
        if mode == "self":
            txn.replace("incidents", big)
            print("staged", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        print("loading", flush=True)
        while True:  # the parent kills us while rows stream in
            txn.replace("incidents", big)
""")


def _snapshot(url: str) -> dict[str, object]:
    store = open_store(url)
    try:
        return {
            "names": store.layer_names(),
            "counts": {n: store.count(n) for n in ("incidents", "cameras", "scratch_derived")},
            "incidents": store.read("incidents").sort_values("incident_id").to_wkb()
            .reset_index(drop=True),
            "cameras": sorted(store.read("cameras")["camera_id"]),
        }
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["self", "parent"])
def test_killed_load_leaves_the_store_as_it_was(store_url: str, mode: str) -> None:
    world = fixtures.tiny_world()
    with open_store(store_url) as store:
        store.replace("incidents", world["incidents"])
        store.replace("cameras", world["cameras"])
    before = _snapshot(store_url)

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, store_url, mode, "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        line = child.stdout.readline().strip() if child.stdout else ""
        assert line in {"staged", "loading"}, child.stderr.read() if child.stderr else line
        if mode == "parent":
            time.sleep(0.5)  # let it stream rows into the open transaction
            child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()

    after = _snapshot(store_url)
    # (derived_dirty: the marks of what loads touched, for the next build, written with them)
    assert after["names"] == before["names"] == ["cameras", "derived_dirty", "incidents"]
    assert after["counts"] == before["counts"] == {"incidents": 6, "cameras": 3,
                                                   "scratch_derived": 0}
    assert after["cameras"] == ["C1", "C2", "C3"]
    pd.testing.assert_frame_equal(after["incidents"], before["incidents"])

    # the dead writer left no lock behind: the next load goes through
    with open_store(store_url) as store:
        store.replace("incidents", world["incidents"].iloc[:2])
        assert store.count("incidents") == 2
