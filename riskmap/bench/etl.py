"""Benchmark of the incident ETL and the stores against the bare vectorised calls they build on.

Generates ~9,500 synthetic mahalla polygons and N located incidents as CSV, then measures in one
run, each figure beside its target:

1. the bare floor: pyarrow CSV read + h3ronpy cells + STRtree/contains_xy point-in-polygon on
   the same points;
2. the whole ``ingest incidents`` job into a fresh embedded store (target: within 1.8x the bare
   floor, peak memory under 1.5 GiB);
3. the same job into a fresh PostGIS database when ``postgis`` is given (a scratch database
   created on that server and dropped afterwards; target: within 1.5x the embedded ingest);
4. a daily load of 1,000 new incidents into a store already holding ``big_rows`` incidents
   vs into an empty one (target: at most 2x), on each store measured.

Each job runs in a child process so that its peak memory (max RSS) is its own. The big store is
filled with synthetic incidents written straight through the store (no CSV, no geocoding), in
transactions of one million rows, as years of loads would have left it.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

import geopandas as gpd
import shapely

__all__ = ["DATA_START", "fill_store", "make_daily", "make_incidents", "make_inputs", "make_mahallas", "run",
           "scratch_database", "synthetic_incidents"]

_BBOX = (64.5, 37.2, 68.9, 41.3)  # Kashkadarya/Surkhandarya/Jizzakh-ish extent
_START = pd.Timestamp("2024-01-01")
_DAYS = 2 * 365
#: first day of the generated incidents (they span two years from it)
DATA_START = _START
_CATEGORIES = np.array(["theft", "o'g'irlik", "кража", "assault", "robbery", "hooliganism",
                        "traffic", "drugs"])
#: targets printed beside the figures
TARGETS = {"ingest_vs_bare": 1.8, "peak_mib": 1536, "postgis_vs_embedded": 1.5,
           "daily_big_vs_empty": 2.0}


# ---- inputs ----------------------------------------------------------------------------------

def _towns(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = _BBOX
    return rng.uniform([minx, miny], [maxx, maxy], size=(40, 2))


def make_mahallas(folder: Path, *, mahallas: int, seed: int = 7) -> Path:
    """Write ``mahallas.parquet``: a Voronoi tessellation denser near 40 "towns"."""
    rng = np.random.default_rng(seed + 1)
    minx, miny, maxx, maxy = _BBOX
    towns = _towns(seed)
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
    path = folder / "mahallas.parquet"
    gdf.to_parquet(path)
    return path


def _points(rng: np.random.Generator, rows: int, seed: int) -> np.ndarray:
    minx, miny, maxx, maxy = _BBOX
    towns = _towns(seed)
    pts = towns[rng.integers(0, len(towns), rows)] + rng.normal(0, 0.08, (rows, 2))
    return np.clip(pts, [minx + 1e-4, miny + 1e-4], [maxx - 1e-4, maxy - 1e-4])


def make_incidents(path: Path, *, rows: int, seed: int = 7, prefix: str = "I",
                   start: pd.Timestamp = _START, days: float = _DAYS) -> Path:
    """Write a CSV of located incidents (``incident_id, occurred_at, category, lat, lon``)."""
    rng = np.random.default_rng(seed)
    pts = _points(rng, rows, 7)
    secs = start.value // 10**9 + rng.integers(0, max(int(days * 86400), 1), rows)
    table = pa.table({
        "incident_id": pa.array(np.char.add(prefix, np.arange(rows).astype(str))),
        "occurred_at": pa.array(pd.to_datetime(secs, unit="s").strftime("%Y-%m-%dT%H:%M:%S")),
        "category": pa.array(_CATEGORIES[rng.integers(0, len(_CATEGORIES), rows)]),
        "lat": pa.array(np.round(pts[:, 1], 6)),
        "lon": pa.array(np.round(pts[:, 0], 6)),
    })
    pacsv.write_csv(table, path)
    return path


def make_inputs(folder: Path, *, rows: int, mahallas: int, seed: int = 7) -> tuple[Path, Path]:
    """Write ``mahallas.parquet`` and ``incidents.csv`` (located rows over two years)."""
    mpath = make_mahallas(folder, mahallas=mahallas, seed=seed)
    ipath = make_incidents(folder / "incidents.csv", rows=rows, seed=seed)
    return mpath, ipath


def make_daily(folder: Path, day: int, *, rows: int = 1_000) -> Path:
    """A day's file: ``rows`` new incidents on one day of the last month of the data."""
    day_start = _START + pd.Timedelta(days=_DAYS - 10 + day)
    return make_incidents(folder / f"daily-{day}.csv", rows=rows, seed=1000 + day,
                          prefix=f"D{day}-", start=day_start, days=1)


def synthetic_incidents(rows: int, *, first: int = 0, seed: int = 11,
                        start: pd.Timestamp = _START, days: float = _DAYS) -> gpd.GeoDataFrame:
    """Incidents-layer rows as a load leaves them (ids ``S<n>``, 9,500 mahallas), in time order.

    Written straight into a store to make it big: the geocoding is not repeated (the mahalla
    of a row is drawn at random, its H3 cell computed from its point).
    """
    from riskmap.geo.h3index import cells_from_lonlat

    rng = np.random.default_rng(seed + first)
    pts = _points(rng, rows, 7)
    when = (start.tz_localize("UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, int(days * 86400), rows)), unit="s"))
    m = rng.integers(0, 9_500, rows)
    mahalla = pd.Series(np.char.add("B-", np.char.zfill(m.astype(str), 5)), dtype="string")
    cats = np.array(["theft", "assault", "robbery", "hooliganism", "traffic", "drugs"])
    return gpd.GeoDataFrame({
        "incident_id": pd.Series(np.char.add("S", np.arange(first, first + rows).astype(str)),
                                 dtype="string"),
        "occurred_at": when.as_unit("us"),
        "category": pd.Series(cats[rng.integers(0, len(cats), rows)], dtype="string"),
        "h3": cells_from_lonlat(pts[:, 0], pts[:, 1], 9),
        "mahalla_id": mahalla,
        "district": pd.Series(np.char.add("D", (m // 60).astype(str)), dtype="string"),
        "region": pd.Series("Bench", index=range(rows), dtype="string"),
        "geocode_precision": pd.Series("coordinates", index=range(rows), dtype="string"),
        "flags": pd.Series(pd.NA, index=range(rows), dtype="string"),
        "source_file": pd.Series("synthetic.csv", index=range(rows), dtype="string"),
        "source_row": pd.array(np.arange(first, first + rows) + 2, dtype="Int64"),
        "content_hash": pd.array(rng.integers(-2**62, 2**62, rows), dtype="Int64"),
    }, geometry=shapely.points(pts[:, 0], pts[:, 1]), crs=4326)


def fill_store(url: str, rows: int, *, first: int = 0, chunk: int = 1_000_000) -> float:
    """Add ``rows`` synthetic incidents to the store at ``url``; return the seconds it took.

    Loaded a year at a time going back from the end of the CSV inputs' two years (a million
    incidents a year, about the national rate), one transaction each, as years of loads leave
    a store; then ``ANALYZE`` on PostGIS, as autovacuum would have run by the next day.
    """
    from riskmap.layers import open_store
    from riskmap.layers.postgis import PostgisStore

    end = _START + pd.Timedelta(days=_DAYS)
    t0 = time.perf_counter()
    with open_store(url) as store:
        for i, start in enumerate(range(first, first + rows, chunk)):
            n = min(chunk, first + rows - start)
            year = end - pd.Timedelta(days=365 * (i + 1))
            frame = synthetic_incidents(n, first=start, start=year, days=365 * n / chunk)
            with store.transaction() as txn:
                txn.upsert("incidents", frame)
        if isinstance(store, PostgisStore):
            with store._cursor() as cur:
                cur.execute("ANALYZE incidents")
                cur.connection.commit()
    return time.perf_counter() - t0


# ---- the bare floor --------------------------------------------------------------------------

def bare_calls(mahallas: Path, incidents: Path) -> dict[str, float]:
    """Time the floor: CSV read, H3 cells and point-in-polygon on the same points.

    ``cpu_s`` is the CPU time of the process (all its threads) over the three calls.
    """
    from riskmap.geo.h3index import cells_from_lonlat
    from riskmap.geo.join import PolygonIndex

    polys = np.asarray(gpd.read_parquet(mahallas).geometry.values)
    c0 = time.process_time()
    t0 = time.perf_counter()
    table = pacsv.read_csv(incidents)
    t1 = time.perf_counter()
    lon = table.column("lon").to_numpy()
    lat = table.column("lat").to_numpy()
    cells = cells_from_lonlat(lon, lat, 9)
    t2 = time.perf_counter()
    idx = PolygonIndex(polys).locate(lon, lat)
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    assert (cells > 0).all() and (idx >= 0).mean() > 0.99
    return {"csv_read_s": t1 - t0, "h3_s": t2 - t1, "pip_s": t3 - t2, "total_s": t3 - t0,
            "cpu_s": cpu}


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the median over runs."""
    return {k: float(np.median([r[k] for r in runs])) for k in runs[0]}


# ---- jobs run in a child process -------------------------------------------------------------

def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _server_cpu(store: Any) -> float | None:
    """CPU seconds used so far by the server processes of a PostGIS store's database, when
    the server runs on this machine (read from /proc); None otherwise (or embedded)."""
    from riskmap.layers.postgis import PostgisStore

    if not isinstance(store, PostgisStore):
        return None
    with store._cursor() as cur:
        pids = [r[0] for r in cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall()]
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total

def _job_ingest(url: str, mahallas: str, incidents: str) -> dict[str, Any]:
    """Load the mahallas (untimed) into a fresh store, then time the incident ingest."""
    from riskmap.etl.features import ingest_mahallas
    from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
    from riskmap.layers import open_store

    with open_store(url) as store:
        if not store.has("mahallas"):
            ingest_mahallas(mahallas, store)
        base = _peak_mib()
        server0 = _server_cpu(store)
        c0 = time.process_time()
        t0 = time.perf_counter()
        ctx = load_context(store, aliases=load_aliases())
        t1 = time.perf_counter()
        report = ingest_incidents(incidents, store, ctx)
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        server1 = _server_cpu(store)
    server = server1 - server0 if server0 is not None and server1 is not None else None
    return {"context_s": t1 - t0, "ingest_s": t2 - t1, "total_s": t2 - t0,
            "cpu_s": cpu + (server or 0.0), "client_cpu_s": cpu, "server_cpu_s": server,
            "loaded": report.loaded, "quarantined": report.quarantined,
            "peak_rss_mib": _peak_mib(), "rss_before_mib": base}


def _job_daily(url: str, mahallas: str, *files: str) -> dict[str, Any]:
    """Time the ingest of each daily file (the geocoding context is built first, untimed)."""
    from riskmap.etl.features import ingest_mahallas
    from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
    from riskmap.layers import open_store

    times, cpus = [], []
    with open_store(url) as store:
        if not store.has("mahallas"):
            ingest_mahallas(mahallas, store)
        before = store.count("incidents")
        ctx = load_context(store, aliases=load_aliases())
        for path in files:
            server0 = _server_cpu(store)
            c0 = time.process_time()
            t0 = time.perf_counter()
            report = ingest_incidents(path, store, ctx)
            times.append(time.perf_counter() - t0)
            server1 = _server_cpu(store)
            cpus.append(time.process_time() - c0 + (
                server1 - server0 if server0 is not None and server1 is not None else 0.0))
            assert report.loaded == report.input_rows, report.summary()
    return {"store_rows": before, "times_s": times, "median_s": float(np.median(times)),
            "cpu_s": cpus, "median_cpu_s": float(np.median(cpus)), "peak_rss_mib": _peak_mib()}


def _job_fill(url: str, mahallas: str, rows: str, first: str) -> dict[str, Any]:
    """Load the mahallas if absent, then add synthetic incidents."""
    from riskmap.etl.features import ingest_mahallas
    from riskmap.layers import open_store

    with open_store(url) as store:
        if not store.has("mahallas"):
            ingest_mahallas(mahallas, store)
    seconds = fill_store(url, int(rows), first=int(first))
    return {"fill_s": seconds, "rows": int(rows), "peak_rss_mib": _peak_mib()}


def _job_build(url: str, full: str) -> dict[str, Any]:
    """Time ``riskmap build`` on the store (``full``: "1" for ``--full``): seconds per step,
    the whole build, its peak memory (the steps run side by side as by default)."""
    from riskmap.etl.build import build_all
    from riskmap.layers import open_store
    from riskmap.settings import load_settings

    settings = load_settings(store=url)
    with open_store(url) as store:
        t0 = time.perf_counter()
        result = build_all(store, settings, full=full == "1")
        seconds = time.perf_counter() - t0
    if not result.ok:
        raise RuntimeError(f"build failed: {result.summary}")
    return {"build_s": seconds, "steps_s": {k: v["seconds"] for k, v in result.summary.items()},
            "modes": {k: v.get("mode") for k, v in result.summary.items()},
            "peak_rss_mib": _peak_mib()}


_JOBS = {"ingest": _job_ingest, "daily": _job_daily, "fill": _job_fill, "build": _job_build}


def _child_main(job: str, *args: str) -> None:
    """Entry point of the child process: run one job, print its figures as JSON."""
    import gc

    gc.collect()
    print(json.dumps(_JOBS[job](*args)))


def child(job: str, *args: str | Path) -> dict[str, Any]:
    """Run a job in a fresh Python process and return its figures."""
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from riskmap.bench.etl import _child_main; _child_main(*sys.argv[1:])",
         job, *map(str, args)],
        check=False, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"benchmark job {job} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new database on the server at ``url`` (its URL), dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"riskmap_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine_load() -> str:
    """The 1-minute load average and the cores, for the record."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on this platform
        return f"{os.cpu_count()} cores"
    return f"load average {load:.2f} on {os.cpu_count()} cores"


# ---- the benchmark ---------------------------------------------------------------------------

def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def _verdict(value: float, target: float) -> str:
    return f"(target <= {target:g}: {'ok' if value <= target else 'MISSED'})"


def _daily(kind: str, make_url: Any, folder: Path, mpath: Path, big_rows: int,
           repeat: int) -> dict[str, Any]:
    """Daily loads into an empty store and into one holding ``big_rows`` incidents."""
    files = [make_daily(folder, day) for day in range(2 * repeat)]
    with make_url("empty") as empty_url:
        empty = child("daily", empty_url, mpath, *files[:repeat])
    with make_url("big") as big_url:
        fill = child("fill", big_url, mpath, big_rows, 0)
        big = child("daily", big_url, mpath, *files[repeat:])
    ratio = big["median_s"] / empty["median_s"]
    cpu_ratio = big["median_cpu_s"] / empty["median_cpu_s"]
    print(f"{kind}: daily load of 1,000 rows: {empty['median_s'] * 1000:.0f} ms into an empty "
          f"store, {big['median_s'] * 1000:.0f} ms into {big['store_rows']:,} rows "
          f"(filled in {fill['fill_s']:.0f} s) = {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
          f"{_verdict(ratio, TARGETS['daily_big_vs_empty'])}", flush=True)
    return {"empty": empty, "big": big, "fill": fill, "ratio": round(ratio, 2),
            "cpu_ratio": round(cpu_ratio, 2)}


def run(rows: int = 1_000_000, mahallas: int = 9_500, *, keep: Path | None = None,
        postgis: str | None = None, big_rows: int = 10_000_000, daily: bool = True,
        repeat: int = 3) -> dict[str, Any]:
    """Run the benchmark and return its figures (also printed)."""
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="riskmap-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _run(folder, rows, mahallas, postgis, big_rows if daily else 0, repeat)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, rows: int, mahallas: int, postgis: str | None, big_rows: int,
         repeat: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    mpath, ipath = make_inputs(folder, rows=rows, mahallas=mahallas)
    print(f"inputs: {rows:,} incidents, {mahallas:,} mahallas in {time.perf_counter() - t0:.1f} s"
          f" ({folder}); {machine_load()}", flush=True)
    store_dir = folder / "store"
    bares = [bare_calls(mpath, ipath)]
    shutil.rmtree(store_dir, ignore_errors=True)
    job = child("ingest", store_dir, mpath, ipath)
    pg = None
    if postgis:
        with scratch_database(postgis) as url:
            pg = child("ingest", url, mpath, ipath)
    bares += [bare_calls(mpath, ipath) for _ in range(max(repeat - 1, 1))]  # before and after
    bare = _median_run(bares)
    ratio = job["total_s"] / bare["total_s"]
    cpu_ratio = job["cpu_s"] / bare["cpu_s"]
    figures: dict[str, Any] = {
        "rows": rows, "mahallas": mahallas, "machine": machine_load(),
        "bare": {k: round(v, 3) for k, v in bare.items()},
        "bare_runs_s": [round(b["total_s"], 3) for b in bares],
        "ingest": _rounded(job),
        "incidents_per_s": round(rows / job["total_s"]),
        "ratio_vs_bare": round(ratio, 2), "cpu_ratio_vs_bare": round(cpu_ratio, 2),
    }
    print(f"bare vectorised calls: {bare['total_s']:.2f} s, {bare['cpu_s']:.2f} s CPU (median "
          f"of {len(bares)}: CSV read {bare['csv_read_s']:.2f}, H3 {bare['h3_s']:.2f}, "
          f"point-in-polygon {bare['pip_s']:.2f})")
    print(f"embedded ingest: {job['total_s']:.2f} s, {job['cpu_s']:.2f} s CPU (context "
          f"{job['context_s']:.2f}, load {job['ingest_s']:.2f}) = "
          f"{figures['incidents_per_s']:,} incidents/s; {job['loaded']:,} loaded, "
          f"{job['quarantined']:,} quarantined")
    print(f"  ratio embedded/bare: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
          f"{_verdict(ratio, TARGETS['ingest_vs_bare'])}")
    print(f"  peak memory: {job['peak_rss_mib']:.0f} MiB "
          f"{_verdict(job['peak_rss_mib'], TARGETS['peak_mib'])}", flush=True)
    if pg is not None:
        pg_ratio = pg["total_s"] / job["total_s"]
        pg_cpu = pg["cpu_s"] / job["cpu_s"]
        figures["postgis"] = _rounded(pg)
        figures["postgis_vs_embedded"] = round(pg_ratio, 2)
        figures["postgis_cpu_vs_embedded"] = round(pg_cpu, 2)
        server = (f" + server {pg['server_cpu_s']:.2f}" if pg["server_cpu_s"] is not None
                  else " (server CPU not readable)")
        print(f"PostGIS ingest: {pg['total_s']:.2f} s, CPU client {pg['client_cpu_s']:.2f}"
              f"{server} s (context {pg['context_s']:.2f}, load {pg['ingest_s']:.2f}), peak "
              f"{pg['peak_rss_mib']:.0f} MiB; {pg['loaded']:,} loaded")
        print(f"  ratio PostGIS/embedded: {pg_ratio:.2f}x wall, {pg_cpu:.2f}x CPU "
              f"{_verdict(pg_ratio, TARGETS['postgis_vs_embedded'])}", flush=True)
    if big_rows:
        @contextlib.contextmanager
        def embedded_url(name: str) -> Iterator[str]:
            path = folder / f"daily-{name}"
            shutil.rmtree(path, ignore_errors=True)
            try:
                yield str(path)
            finally:
                shutil.rmtree(path, ignore_errors=True)

        figures["daily_embedded"] = _daily("embedded", embedded_url, folder, mpath, big_rows,
                                           repeat)
        if postgis:
            figures["daily_postgis"] = _daily(
                "PostGIS", lambda _name: scratch_database(postgis), folder, mpath, big_rows,
                repeat)
    print(f"machine at the end: {machine_load()}")
    return figures
