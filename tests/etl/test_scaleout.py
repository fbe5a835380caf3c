"""Scale-out on Dask (etl.scaleout): a 2-worker local cluster gives the single-process results,
cell by cell, on both store backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from riskmap.etl.build import build_all
from riskmap.etl.derive_hotspots import HOTSPOT_LAYERS
from riskmap.etl.incremental import CUBE_LAYERS, cube_frames
from riskmap.etl.scaleout import cluster, cube_on, month_runs
from riskmap.layers.store import open_store
from tests.etl.grid import centre, grid_frame
from tests.etl.test_incremental_build import SETTINGS, _base, _batches, _frame


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A local cluster of two worker processes (one thread each), shared by the module."""
    with cluster(workers=2) as c:
        yield c


def _assert_same(a: Any, b: Any, names: tuple[str, ...]) -> None:
    for name in names:
        assert a.has(name) and b.has(name), name
        pd.testing.assert_frame_equal(_frame(a, name), _frame(b, name), check_dtype=False,
                                      obj=name)


def test_month_runs_cover_every_month_once() -> None:
    codes = np.array([3, 1, 2, 2, 40, 41, 100])
    runs = month_runs(codes, 4)
    got = [c for a, b in runs for c in np.unique(codes) if a <= c <= b]
    assert sorted(got) == [1, 2, 3, 40, 41, 100]
    assert len(runs) == 4 and runs == sorted(runs)
    assert month_runs(np.array([], dtype=int), 4) == []
    assert len(month_runs(np.arange(60), 2)) == 10  # at most 6 months a task


def test_cube_on_the_cluster_equals_the_whole_count(store, client) -> None:
    first, late, _ = _batches()
    _base(store)
    for batch in (first, late):
        with store.transaction() as txn:
            txn.upsert("incidents", batch)
    want = cube_frames(store.read("incidents"))
    got = cube_on(client, store)
    assert got.keys() == want.keys()
    assert len(got["incident_cube_h3"]) > 100  # the parts came back and were put together
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)


def test_build_on_the_cluster_equals_the_single_process_build(store_url: str, tmp_path,
                                                              client) -> None:
    first, late, deleted = _batches()
    on = open_store(store_url)
    one = open_store(str(tmp_path / "one"))
    try:
        for s in (on, one):
            _base(s, like=on)
            with s.transaction() as txn:
                txn.upsert("incidents", first)
        r_on = build_all(on, SETTINGS, client=client)
        r_one = build_all(one, SETTINGS)
        assert r_on.ok and r_one.ok, (r_on.summary, r_one.summary)
        assert r_on.summary["hotspots"]["mode"] == "full"
        _assert_same(on, one, (*HOTSPOT_LAYERS, *CUBE_LAYERS))
        # a later load: the touched months are counted again on the cluster
        for s in (on, one):
            with s.transaction() as txn:
                txn.upsert("incidents", late)
                txn.delete("incidents", deleted)
        r_on = build_all(on, SETTINGS, client=client)
        r_one = build_all(one, SETTINGS)
        assert r_on.summary["hotspots"]["mode"] == "incremental", r_on.summary
        _assert_same(on, one, (*HOTSPOT_LAYERS, *CUBE_LAYERS))
    finally:
        for s in (on, one):
            s.close()


def test_a_scheduler_that_cannot_be_reached_is_an_os_error() -> None:
    with pytest.raises(OSError), cluster(scheduler="tcp://127.0.0.1:9", timeout="2s"):
        pass
    with pytest.raises(ValueError, match="not both"), cluster(2, "tcp://127.0.0.1:9"):
        pass


def _incident_files(folder: Path) -> list[Path]:
    """Three CSV files: the third repeats two ids of the first (one changed) and has bad rows."""
    rng = np.random.default_rng(3)
    files = []
    for k in range(3):
        n = 400
        i = rng.integers(0, grid_frame().shape[0], n)
        xy = [centre(int(j)) for j in i]
        frame = pd.DataFrame({
            "id": [f"F{k}-{j}" for j in range(n)],
            "sana": (pd.Timestamp("2024-01-01") + pd.to_timedelta(
                rng.integers(0, 700 * 24, n), unit="h")).strftime("%Y-%m-%d %H:%M"),
            "turi": rng.choice(["o‘g‘irlik", "bezorilik", "theft", "fraud"], n),
            "lon": [p[0] for p in xy], "lat": [p[1] for p in xy]})
        if k == 2:
            frame.loc[0, "id"], frame.loc[1, "id"] = "F0-0", "F0-1"
            frame.loc[1, "turi"] = "assault"  # F0-1 changed, F0-0 maybe the same place/time
            frame["lat"] = frame["lat"].astype(object)
            frame.loc[5, "sana"], frame.loc[6, "lat"] = "not a date", "north"
        files.append(folder / f"part{k}.csv")
        frame.to_csv(files[-1], index=False)
    return files


def test_ingest_of_many_files_on_the_cluster_equals_loading_them_in_turn(tmp_path) -> None:
    runner = CliRunner()
    grid_frame().to_file(tmp_path / "m.geojson")
    files = _incident_files(tmp_path)
    stores = {}
    for name in ("cluster", "in-turn"):
        stores[name] = str(tmp_path / name)
        res = runner.invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                                  "--store", stores[name]])
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["ingest", "incidents", *map(str, files), "--store",
                              stores["cluster"], "--workers", "2", "--no-progress",
                              "--report", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    reports = json.loads((tmp_path / "r.json").read_text())
    assert [Path(r["file"]).name for r in reports] == ["part0.csv", "part1.csv", "part2.csv"]
    assert reports[2]["quarantined"] == 2 and reports[2]["updated"] + reports[2]["duplicates"] >= 2
    for f in files:
        res = runner.invoke(cli, ["ingest", "incidents", str(f), "--store", stores["in-turn"],
                                  "--no-progress"])
        assert res.exit_code == 0, res.output
    a, b = open_store(stores["cluster"]), open_store(stores["in-turn"])
    try:
        for layer in ("incidents", "quarantine"):
            key = "incident_id" if layer == "incidents" else "quarantine_id"
            # when a row was loaded differs; what was loaded must not
            fa, fb = (f.drop(columns=[c for c in ("ingested_at", "quarantined_at", "updated_at")
                                      if c in f]).sort_values(key).reset_index(drop=True)
                      for f in (_frame(a, layer), _frame(b, layer)))
            assert len(fa) > (1000 if layer == "incidents" else 1)
            pd.testing.assert_frame_equal(fa, fb, check_dtype=False, obj=layer)
        runs = a.read("ingest_runs")
        assert (runs["outcome"] == "ok").sum() >= 4  # the mahallas and each incident file
    finally:
        a.close()
        b.close()


def test_ingest_reports_a_failed_file_and_loads_the_others(tmp_path) -> None:
    runner = CliRunner()
    store = str(tmp_path / "s")
    grid_frame().to_file(tmp_path / "m.geojson")
    assert runner.invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                               "--store", store]).exit_code == 0
    good = _incident_files(tmp_path)[0]
    (tmp_path / "empty.csv").write_text("just,some,columns\n1,2,3\n", encoding="utf-8")
    res = runner.invoke(cli, ["ingest", "incidents", str(tmp_path / "empty.csv"), str(good),
                              str(tmp_path / "missing.csv"), "--store", store, "--workers", "2",
                              "--no-progress"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "empty.csv" in res.output and "missing.csv" in res.output
    assert "2 of 3 file(s) failed" in res.output
    s = open_store(store)
    try:
        assert s.count("incidents") == 400
        outcomes = s.read("ingest_runs").sort_values("started_at")["outcome"].tolist()
        assert outcomes[-3:] == ["refused", "ok", "refused"]
    finally:
        s.close()
    res = runner.invoke(cli, ["ingest", "cameras", str(good), "--store", store, "--workers", "2"])
    assert res.exit_code == 2 and "only incident files" in res.output
