"""Benchmark of the incident ETL against the bare vectorised calls it is built on.

Generates ~9,500 synthetic mahalla polygons and N located incidents as CSV, then times
(1) the bare floor: pyarrow CSV read + h3ronpy cells + STRtree/contains_xy point-in-polygon
on the same points, and (2) the whole `ingest incidents` job into a fresh embedded store, run
in a child process so that its peak memory (max RSS) is measured on its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

import geopandas as gpd
import shapely

__all__ = ["make_inputs", "run"]

_BBOX = (64.5, 37.2, 68.9, 41.3)  # Kashkadarya/Surkhandarya/Jizzakh-ish extent


def make_inputs(folder: Path, *, rows: int, mahallas: int, seed: int = 7) -> tuple[Path, Path]:
    """Write ``mahallas.parquet`` (Voronoi tessellation) and ``incidents.csv`` (located rows)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = _BBOX
    # denser seeds near a few "towns" so sizes vary like real mahallas
    towns = rng.uniform([minx, miny], [maxx, maxy], size=(40, 2))
    near = towns[rng.integers(0, len(towns), mahallas // 2)] + rng.normal(0, 0.05, (mahallas // 2, 2))
    far = rng.uniform([minx, miny], [maxx, maxy], size=(mahallas - len(near), 2))
    seeds = np.clip(np.vstack([near, far]), [minx, miny], [maxx, maxy])
    box = shapely.box(*_BBOX)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    cells = shapely.intersection(cells, box)
    n = len(cells)
    gdf = gpd.GeoDataFrame({
        "mahalla_id": [f"B-{i:05d}" for i in range(n)],
        "name": [f"Bench {i}" for i in range(n)],
        "district": [f"D{i // 60}" for i in range(n)],
        "region": "Bench",
        "population": rng.integers(500, 8000, n),
    }, geometry=cells, crs=4326)
    mpath = folder / "mahallas.parquet"
    gdf.to_parquet(mpath)
    # incidents: mostly around towns, inside the box
    pts = towns[rng.integers(0, len(towns), rows)] + rng.normal(0, 0.08, (rows, 2))
    pts = np.clip(pts, [minx + 1e-4, miny + 1e-4], [maxx - 1e-4, maxy - 1e-4])
    start = pd.Timestamp("2024-01-01").value // 10**9
    secs = start + rng.integers(0, 2 * 365 * 86400, rows)
    cats = np.array(["theft", "o'g'irlik", "кража", "assault", "robbery", "hooliganism",
                     "traffic", "drugs"])
    table = pa.table({
        "incident_id": pa.array(np.char.add("I", np.arange(rows).astype(str))),
        "occurred_at": pa.array(pd.to_datetime(secs, unit="s").strftime("%Y-%m-%dT%H:%M:%S")),
        "category": pa.array(cats[rng.integers(0, len(cats), rows)]),
        "lat": pa.array(np.round(pts[:, 1], 6)),
        "lon": pa.array(np.round(pts[:, 0], 6)),
    })
    ipath = folder / "incidents.csv"
    pacsv.write_csv(table, ipath)
    return mpath, ipath


def bare_calls(mahallas: Path, incidents: Path) -> dict[str, float]:
    """Time the floor: CSV read, H3 cells and point-in-polygon on the same points."""
    from riskmap.geo.h3index import cells_from_lonlat
    from riskmap.geo.join import PolygonIndex

    polys = np.asarray(gpd.read_parquet(mahallas).geometry.values)
    t0 = time.perf_counter()
    table = pacsv.read_csv(incidents)
    t1 = time.perf_counter()
    lon = table.column("lon").to_numpy()
    lat = table.column("lat").to_numpy()
    cells = cells_from_lonlat(lon, lat, 9)
    t2 = time.perf_counter()
    idx = PolygonIndex(polys).locate(lon, lat)
    t3 = time.perf_counter()
    assert (cells > 0).all() and (idx >= 0).mean() > 0.99
    return {"csv_read_s": t1 - t0, "h3_s": t2 - t1, "pip_s": t3 - t2, "total_s": t3 - t0}


def _child_ingest(store_dir: str, mahallas: str, incidents: str) -> None:
    """Run in a child process: load mahallas (untimed), then time the incident ingest."""
    from riskmap.etl.features import ingest_mahallas
    from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
    from riskmap.layers import open_store

    store = open_store(store_dir)
    ingest_mahallas(mahallas, store)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    ctx = load_context(store, aliases=load_aliases())
    t1 = time.perf_counter()
    report = ingest_incidents(incidents, store, ctx)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"context_s": t1 - t0, "ingest_s": t2 - t1, "total_s": t2 - t0,
                      "loaded": report.loaded, "quarantined": report.quarantined,
                      "peak_rss_mib": peak / 1024, "rss_before_mib": base / 1024}))


def run(rows: int = 1_000_000, mahallas: int = 9_500, *, keep: Path | None = None) -> dict:
    """Run the benchmark and return its figures (also printed)."""
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="riskmap-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    mpath, ipath = make_inputs(folder, rows=rows, mahallas=mahallas)
    print(f"inputs: {rows:,} incidents, {mahallas:,} mahallas in {time.perf_counter() - t0:.1f} s"
          f" ({folder})", flush=True)
    bare = bare_calls(mpath, ipath)
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from riskmap.bench.etl import _child_ingest; _child_ingest(*sys.argv[1:])",
         str(folder / "store"), str(mpath), str(ipath)],
        check=True, capture_output=True, text=True)
    job = json.loads(out.stdout.strip().splitlines()[-1])
    figures = {
        "rows": rows, "mahallas": mahallas,
        "bare": {k: round(v, 3) for k, v in bare.items()},
        "ingest": {k: round(v, 3) if isinstance(v, float) else v for k, v in job.items()},
        "incidents_per_s": round(rows / job["total_s"]),
        "ratio_vs_bare": round(job["total_s"] / bare["total_s"], 2),
    }
    print(f"bare vectorised calls: {bare['total_s']:.2f} s (CSV read {bare['csv_read_s']:.2f}, "
          f"H3 {bare['h3_s']:.2f}, point-in-polygon {bare['pip_s']:.2f})")
    print(f"whole ingest: {job['total_s']:.2f} s (context {job['context_s']:.2f}, "
          f"load {job['ingest_s']:.2f}) = {figures['incidents_per_s']:,} incidents/s; "
          f"{job['loaded']:,} loaded, {job['quarantined']:,} quarantined")
    print(f"ratio whole/bare: {figures['ratio_vs_bare']:.2f}x (target <= 3x, < 10 s)")
    print(f"peak memory of the ingest process: {job['peak_rss_mib']:.0f} MiB (target < 2048)")
    return figures
