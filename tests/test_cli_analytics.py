"""Tests for `riskmap evaluate`, `riskmap export hotspots` and `riskmap export kde`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import h3
import shapely
from rasterio.io import MemoryFile

from riskmap.cli import cli
from riskmap.etl.rasters import read_raster
from riskmap.geo.hotspots import study_cells
from riskmap.layers.store import open_store
from tests import fixtures
from tests.conftest import shared_file


def _incidents() -> gpd.GeoDataFrame:
    """The tiny world's incidents plus a cell of M1 and its ring hit every 5 days of 2024."""
    centre = h3.latlng_to_cell(40.106, 67.848, 9)
    pts = [h3.cell_to_latlng(c) for c in h3.grid_disk(centre, 1)]
    days = pd.date_range("2024-01-03", "2024-12-28", freq="5D", tz="UTC")
    rows = [{"incident_id": f"C{k}-{i}", "occurred_at": d + pd.Timedelta(hours=k),
             "category": "theft", "h3": fixtures.cell(lng, lat), "mahalla_id": "M1",
             "district": "Sharof Rashidov", "region": fixtures.REGION,
             "geocode_precision": "coordinates", "geometry": shapely.Point(lng, lat)}
            for k, (lat, lng) in enumerate(pts) for i, d in enumerate(days) if (i + k) % 2 == 0]
    extra = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    return gpd.GeoDataFrame(pd.concat([fixtures.incidents(), extra], ignore_index=True),
                            crs=4326)


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    """An embedded store with the tiny world's mahallas and the incidents above."""
    path = str(tmp_path / "store")
    with open_store(path) as store:
        store.replace("mahallas", fixtures.mahallas())
        store.replace("incidents", _incidents())
    return path


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", [["evaluate"], ["export", "hotspots"], ["export", "kde"]])
def test_help(command: list[str]) -> None:
    out = _run(*command, "--help")
    assert "--store" in out and len(out.splitlines()) > 5


def test_evaluate_prints_and_writes_the_report(store_dir: str, tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    out = _run("evaluate", "--store", store_dir, "--cutoff", "2024-10-01", "--horizon-days",
               "30", "--report", str(report_path))
    assert "naive" in out and "near_repeat" in out
    assert "best at 5% of the area:" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert set(report) >= {"test_incidents", "methods", "best"}
    inc = _incidents()
    when = inc["occurred_at"]
    expected = ((when >= pd.Timestamp("2024-10-01", tz="UTC"))
                & (when < pd.Timestamp("2024-10-31", tz="UTC"))
                & (inc["category"] != "fraud")).sum()
    assert report["test_incidents"] == int(expected)
    for row in report["methods"]:
        assert set(row) >= {"method", "coverage", "hit_rate", "pai", "pei"}
    kde5 = next(r for r in report["methods"] if r["method"] == "kde" and r["coverage"] == 0.05)
    assert kde5["hit_rate"] > 0
    # the read went through the data-access layer and was audited
    with open_store(store_dir) as store:
        audit = store.read("audit")
    assert set(audit.loc[audit["layer"] == "incidents", "action"]) == {"report"}


def test_evaluate_folds_keep_means_and_add_detail(store_dir: str, tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    out = _run("evaluate", "--store", store_dir, "--cutoff", "2024-11-01", "--folds", "3",
               "--level", "mahalla", "--report", str(report_path))
    assert "±" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert len(report["folds"]) == 3
    assert all("pai_std" in r for r in report["methods"])


def test_export_hotspots_mahalla_csv(store_dir: str, tmp_path: Path) -> None:
    out_path = tmp_path / "hm.csv"
    _run("export", "hotspots", "--store", store_dir, "--level", "mahalla", "--from",
         "2024-01-01", "--to", "2024-12-31", "-o", str(out_path))
    table = pd.read_csv(out_path)
    assert {"id", "count", "rate", "gi_z", "gi_p", "gi_class", "trend", "status", "name",
            "district", "region"} <= set(table.columns)
    inc = _incidents()
    local = inc["occurred_at"].dt.tz_convert("Asia/Tashkent")
    in_2024 = inc[(local >= pd.Timestamp("2024-01-01", tz="Asia/Tashkent"))
                  & (local < pd.Timestamp("2025-01-01", tz="Asia/Tashkent"))]
    counts = table.set_index("id")["count"]
    assert counts["M1"] == int((in_2024["mahalla_id"] == "M1").sum())
    assert table.set_index("id").loc["M1", "rate"] == pytest.approx(counts["M1"] / 1.2)
    assert set(table["status"]) <= {"green", "yellow", "red"}


def test_export_hotspots_h3_geojson(store_dir: str, tmp_path: Path) -> None:
    out_path = tmp_path / "h9.geojson"
    _run("export", "hotspots", "--store", store_dir, "--level", "h3", "--res", "9",
         "--category", "theft", "--format", "geojson", "-o", str(out_path))
    frame = gpd.read_file(out_path)
    assert len(frame) > 0
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 9 for c in frame["id"])
    # each geometry is the cell's hexagon
    first = frame.iloc[0]
    hexagon = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(first["id"])])
    assert first.geometry.symmetric_difference(hexagon).area < 1e-12
    hot = frame[frame["gi_class"].str.startswith("hot")]
    assert len(hot) > 0
    assert frame["count"].sum() > 0


def test_export_kde_stored_and_recomputed(store_dir: str, tmp_path: Path) -> None:
    _run("build", "--store", store_dir, "--only", "hotspots", "--no-progress")
    stored = tmp_path / "risk.tif"
    out = _run("export", "kde", "--store", store_dir, "-o", str(stored))
    assert "stored KDE surface" in out
    with open_store(store_dir) as store:
        row = store.read("kde_surface").iloc[0]
    arr, transform, crs = read_raster(stored)
    assert arr.shape == (row["height"], row["width"]) and crs.startswith("EPSG:326")
    wide = tmp_path / "wide.tif"
    out = _run("export", "kde", "--store", store_dir, "-o", str(wide), "--bandwidth-m", "600",
               "--cell-m", "50")
    assert "bandwidth 600 m" in out
    arr2, transform2, _ = read_raster(wide)
    assert transform2.a == 50.0
    # same incidents, wider kernel: same mass, lower peak
    mass = arr.sum() * (transform.a / 1000) ** 2
    mass2 = arr2.sum() * (transform2.a / 1000) ** 2
    assert mass2 == pytest.approx(mass, rel=0.02)
    assert arr2.max() < arr.max()
    with MemoryFile(stored.read_bytes()) as mem, mem.open() as src:
        assert src.overviews(1) or min(src.shape) < 512


def test_evaluate_prints_chosen_parameters_intervals_and_verdicts(store_dir: str,
                                                                  tmp_path: Path) -> None:
    from riskmap.geo.forecast import describe_params

    report_path = tmp_path / "eval.json"
    out = _run("evaluate", "--store", store_dir, "--cutoff", "2024-10-01", "--horizon-days",
               "30", "--bootstrap", "200", "--report", str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert {r["method"] for r in report["methods"]} == {
        "naive", "kde", "gi", "near_repeat", "blend", "sepp", "shrink", "adaptive", "counts",
        "kde_200m"}
    # what the inner backtest chose is in the report and on the terminal
    for m in ("kde", "gi", "near_repeat", "blend", "sepp"):
        chosen = report["chosen"][m]
        assert chosen["tuned"] and chosen["inner_folds"] >= 3
        assert f"{m:<12} {describe_params(chosen['params'])}" in out
    # every figure has its bootstrap interval
    for row in report["methods"]:
        for k in ("hit_rate", "pai"):
            if row[k] is not None:
                assert row[f"{k}_lo"] <= row[k] <= row[f"{k}_hi"]
    assert "95% bootstrap interval, 200 resamples" in out
    rec = report["recommended"]
    inner = {m: c["inner_score"] for m, c in report["chosen"].items()}
    assert rec["method"] in inner and rec["inner_score"] == max(inner.values())
    assert f"chosen without the scored period): {rec['method']} " in out
    # a best method is named only when it beats all-history counts
    for cov, v in report["best"].items():
        where = f"best at {float(cov):.0%} of the area:"
        if v["beats_counts"]:
            assert v["method"] == v["leader"] and v["diff_lo"] > 0
            assert f"{where} {v['method']} " in out
        else:
            assert v["method"] is None
            assert f"{where} none beats all-history counts" in out


def test_evaluate_fixed_parameters(store_dir: str, tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    _run("evaluate", "--store", store_dir, "--cutoff", "2024-10-01", "--no-tune",
         "--bandwidth-m", "500", "--lookback-days", "200", "--bootstrap", "0",
         "--report", str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    kde = report["chosen"]["kde"]
    assert kde["tuned"] is False
    assert kde["params"] == {"bandwidth_m": 500.0, "half_life_days": None, "lookback_days": 200}
    assert report["chosen"]["gi"]["params"] == {"gi_lookback_days": 200}
    assert all(r["pai_lo"] is None for r in report["methods"])  # no resamples, no intervals
    # a fixed bandwidth is kept while the rest is tuned
    _run("evaluate", "--store", store_dir, "--cutoff", "2024-10-01", "--bandwidth-m", "350",
         "--bootstrap", "0", "--report", str(report_path))
    kde = json.loads(report_path.read_text(encoding="utf-8"))["chosen"]["kde"]
    assert kde["tuned"] is True and kde["params"]["bandwidth_m"] == 350.0


def _chicago_inputs(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """Chicago's assaults moved onto Jizzakh's latitude (as ../shared/tools/realdata-smoke)
    and a grid of 0.01-degree test mahallas over the squares that hold any incident."""
    raw = pd.read_csv(shared_file("real-crime/chicago_aggravated_assaults.csv.gz"))
    lat = (raw["latitude"] + 40.1 - 41.8).round(6)
    lon = (raw["longitude"] + 67.8 + 87.7).round(6)
    rows = pd.DataFrame({"incident_id": [f"CHI{i}" for i in range(len(raw))],
                         "occurred_at": raw["date"], "category": "assault", "lat": lat,
                         "lon": lon})
    csv_path = tmp_path / "chicago.csv"
    rows.to_csv(csv_path, index=False)
    x0, y0 = lon.min() - 0.005, lat.min() - 0.005
    squares = np.unique(np.c_[((lon - x0) // 0.01).astype(int),
                              ((lat - y0) // 0.01).astype(int)], axis=0)
    west, south = x0 + squares[:, 0] * 0.01, y0 + squares[:, 1] * 0.01
    n = len(squares)
    grid = gpd.GeoDataFrame(
        {"mahalla_id": [f"M{i:04d}" for i in range(n)], "name": [f"Mahalla {i}" for i in range(n)],
         "district": [f"Tuman {i % 7 + 1}" for i in range(n)], "region": "Sinov viloyati",
         "population": 3000.0},
        geometry=shapely.box(west, south, west + 0.01, south + 0.01), crs=4326)
    grid_path = tmp_path / "mahallas.gpkg"
    grid.to_file(grid_path, driver="GPKG")
    return csv_path, grid_path, rows


@pytest.mark.slow
def test_evaluate_on_real_chicago_assaults_beats_both_baselines(tmp_path: Path) -> None:
    """Ten years of real assaults through ingest and evaluate: fit before 2019, score 2019."""
    csv_path, grid_path, rows = _chicago_inputs(tmp_path)
    store = str(tmp_path / "store")
    _run("ingest", "mahallas", str(grid_path), "--store", store)
    _run("ingest", "incidents", str(csv_path), "--store", store)
    report_path = tmp_path / "eval.json"
    out = _run("evaluate", "--store", store, "--cutoff", "2019-01-01", "--horizon-days", "365",
               "--bootstrap", "500", "--report", str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    # scored on 2019 (UTC; the file's local times read as Tashkent time) in the study cells
    with open_store(store) as st:
        stored = st.read("incidents", columns=["incident_id", "occurred_at", "h3"])
        cells = study_cells(st.read("mahallas"), 9)
    assert len(stored) == len(rows)
    when = pd.to_datetime(rows["occurred_at"]).dt.tz_localize("Asia/Tashkent").dt.tz_convert("UTC")
    start = pd.Timestamp("2019-01-01", tz="UTC")
    in_2019 = set(rows["incident_id"][(when >= start) & (when < start + pd.Timedelta(days=365))])
    inside = stored["h3"].astype("int64").isin(cells) & stored["incident_id"].isin(in_2019)
    assert report["test_incidents"] == int(inside.sum()) > 0.99 * len(in_2019)
    at5 = {r["method"]: r for r in report["methods"] if r["coverage"] == 0.05}
    best = report["best"]["0.05"]
    assert best["beats_counts"] is True and best["diff_lo"] > 0
    assert best["method"] not in {"counts", "kde_200m"}
    assert at5[best["method"]]["pai"] > at5["kde_200m"]["pai"]
    assert at5[best["method"]]["pai"] > at5["counts"]["pai"]
    # the history chose small kernels with a memory of a few years (not the generator's 400 m)
    kde = report["chosen"]["kde"]["params"]
    assert kde["bandwidth_m"] <= 200 and kde["half_life_days"] is not None
    assert f"best at 5% of the area: {best['method']} " in out
