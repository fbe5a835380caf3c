"""How the stores behave as they grow: incidents loaded a year (1 M rows) at a time (not a test).

Run: ``python benchmarks/bench_growth.py [--sizes 1,3,10] [--postgis URL] [--folder DIR]``.

For each store (the embedded store, and PostGIS when ``--postgis`` names a server on which a
scratch database may be created), synthetic located incidents are loaded through the whole
``ingest incidents`` job from CSV files of ``--file-rows`` rows each (a year of incidents per
file, going back in time, as a history is loaded), until the store holds each size of
``--sizes`` (millions). Every file is ingested in its own process, so its time and peak memory
are its own. At each size the script prints: the time and peak memory of the files of that
step, a daily load of 1,000 rows (median of 3), a read of one month filtered on
``occurred_at``, a read of 1,000 incidents by id, the size on disk, then ``riskmap build``
after those loads (what a deployment runs after them) and ``riskmap build --full``, each in
its own process (time per step, peak memory), and, unless ``--app-repeat 0``, the commanders'
page in headless Chromium (``riskmap bench app --pages commanders``: p50 and p95 of every
interaction, and of the first load).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from riskmap.bench.etl import (
    DATA_START,
    child,
    machine_load,
    make_daily,
    make_incidents,
    make_mahallas,
    scratch_database,
)

__all__ = ["main"]


def _size(url: str) -> int:
    """Bytes the store takes: the data directory, or the database."""
    if not url.startswith("postgresql"):
        return sum(p.stat().st_size for p in Path(url).rglob("*") if p.is_file())
    from riskmap.layers import open_store

    with open_store(url) as store, store._cursor() as cur:  # type: ignore[attr-defined]
        return int(cur.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def _reads(url: str, loaded_ids: list[str]) -> tuple[float, float]:
    """Seconds to read one month (filtered on occurred_at) and 1,000 incidents by id."""
    from riskmap.layers import open_store

    month = DATA_START + pd.Timedelta(days=2 * 365 - 45)
    with open_store(url) as store:
        t0 = time.perf_counter()
        got = store.read("incidents", filters=[("occurred_at", ">=", month),
                                               ("occurred_at", "<", month + pd.Timedelta(
                                                   days=30))])
        t1 = time.perf_counter()
        rng = np.random.default_rng(3)
        wanted = [loaded_ids[i] for i in rng.integers(0, len(loaded_ids), 1000)]
        by_id = store.read("incidents", filters=[("incident_id", "in", wanted)])
        t2 = time.perf_counter()
    assert len(got) > 0 and len(by_id) > 0
    return t1 - t0, t2 - t1


def grow(kind: str, url: str, folder: Path, sizes: list[int], file_rows: int,
         repeat: int = 3, app_repeat: int = 2) -> None:
    """Load files until the store at ``url`` holds each size; print a line per size."""
    mpath = folder / "mahallas.parquet"
    loaded, year, day = 0, 0, 100
    ids: list[str] = []
    for size in sizes:
        target = size * 1_000_000
        times, peaks = [], []
        while loaded < target:
            rows = min(file_rows, target - loaded)
            start = DATA_START + pd.Timedelta(days=2 * 365) - pd.Timedelta(days=365 * (year + 1))
            path = make_incidents(folder / f"year-{year}.csv", rows=rows, seed=100 + year,
                                  prefix=f"Y{year}-", start=start, days=365)
            job = child("ingest", url, mpath, path)
            path.unlink()
            times.append(job["total_s"])
            peaks.append(job["peak_rss_mib"])
            ids += [f"Y{year}-{i}" for i in range(0, rows, 997)]
            loaded += rows
            year += 1
        daily = child("daily", url, mpath, *[make_daily(folder, day + i) for i in range(repeat)])
        day += repeat
        loaded += 1000 * repeat
        month_s, by_id_s = _reads(url, ids)
        print(f"{kind:8s} {size:>4d} M rows | {len(times)} file(s) in {sum(times):7.1f} s "
              f"({min(times):5.1f}-{max(times):5.1f} s each), peak {max(peaks):6.0f} MiB | "
              f"daily 1,000 rows {daily['median_s'] * 1000:6.0f} ms | one month read "
              f"{month_s:5.2f} s | 1,000 ids {by_id_s * 1000:5.0f} ms | "
              f"{_size(url) / 2**30:5.2f} GiB | {machine_load()}", flush=True)
        for full in (False, True):
            built = child("build", url, "1" if full else "0")
            steps = ", ".join(f"{k} {v:.1f}" for k, v in built["steps_s"].items())
            modes = ", ".join(sorted({str(m) for m in built["modes"].values() if m}))
            print(f"{kind:8s} {size:>4d} M rows | build{' --full' if full else ''} "
                  f"{built['build_s']:6.1f} s ({steps}; {modes}), peak "
                  f"{built['peak_rss_mib']:6.0f} MiB | {machine_load()}", flush=True)
        if app_repeat:
            print(f"{kind:8s} {size:>4d} M rows | commanders' page: "
                  f"{_page_latency(url, app_repeat, folder)} | {machine_load()}", flush=True)


def _page_latency(url: str, repeat: int, folder: Path) -> str:
    """The commanders' page in headless Chromium (``riskmap bench app``): the slowest
    interaction's p95, the median of the interactions' p50, and the first load."""
    import json
    import subprocess

    out = folder / "bench-app.json"
    run = subprocess.run([sys.executable, "-m", "riskmap", "bench", "app", "--store", url,
                          "--pages", "commanders", "--repeat", str(repeat), "--json", str(out)],
                         check=False, capture_output=True, text=True)
    if run.returncode or not out.exists():
        return f"not measured ({(run.stderr or run.stdout).strip().splitlines()[-1:]})"
    figures = json.loads(out.read_text())
    inter = {k: v for k, v in figures["interactions"].items() if v["n"]}
    if not inter:  # the page never drew (the bench's notes say why): a figure, not a crash
        return f"not measured ({'; '.join(figures.get('notes', [])) or 'no interaction timed'})"
    worst = max(inter, key=lambda k: inter[k]["p95"])
    p50 = float(np.median([v["p50"] for v in inter.values()]))
    met = sum(v["p95"] <= v["target_s"] for v in inter.values())
    first = figures["first_load"].get("commanders", {})
    return (f"{len(inter)} interactions x {repeat}: median p50 {p50:.2f} s, {met} within "
            f"{inter[worst]['target_s']:g} s at p95, slowest {worst} p95 {inter[worst]['p95']:.2f}"
            f" s; first load p50 {first.get('p50')} s")


@contextlib.contextmanager
def _embedded(folder: Path) -> Iterator[str]:
    path = folder / "embedded-store"
    shutil.rmtree(path, ignore_errors=True)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    """Parse the options and grow each store."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,3,10", help="store sizes in millions, ascending")
    ap.add_argument("--file-rows", type=int, default=1_000_000, help="rows per loaded file")
    ap.add_argument("--postgis", default=None, metavar="URL", help="also grow a PostGIS store")
    ap.add_argument("--no-embedded", action="store_true", help="only PostGIS")
    ap.add_argument("--folder", type=Path, default=None, help="work folder (default: temp)")
    ap.add_argument("--app-repeat", type=int, default=2,
                    help="rounds of the commanders' page in Chromium at each size (0: none)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = args.folder or Path(tempfile.mkdtemp(prefix="riskmap-growth-"))
    folder.mkdir(parents=True, exist_ok=True)
    make_mahallas(folder, mahallas=9_500)
    print(f"sizes {sizes} M, files of {args.file_rows:,} rows; {machine_load()}; "
          f"python {sys.version.split()[0]}", flush=True)
    if not args.no_embedded:
        with _embedded(folder) as url:
            grow("embedded", url, folder, sizes, args.file_rows, app_repeat=args.app_repeat)
    if args.postgis:
        with scratch_database(args.postgis) as url:
            grow("PostGIS", url, folder, sizes, args.file_rows, app_repeat=args.app_repeat)
    if args.folder is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
