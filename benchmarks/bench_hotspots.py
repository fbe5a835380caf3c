"""Time counts, Gi* and KDE on ~1M synthetic incidents over ~50k res-9 cells (not a test).

Run: ``python benchmarks/bench_hotspots.py [--points 1000000]``. Each line prints the median
of 3 runs, the throughput, and two ratios: against a simple baseline doing the same job, and
against ``np.sort`` of the same number of floats (a machine-speed yardstick, so numbers from
different machines compare).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

import esda
import geopandas as gpd
import shapely
from h3ronpy.vector import coordinates_to_cells

from riskmap.geo.aggregate import count_by_cell, count_by_mahalla, monthly_counts, unit_codes
from riskmap.geo.forecast import hex_kde
from riskmap.geo.hotspots import GiStar, benjamini_hochberg, gi_star_z, h3_weights, study_cells
from riskmap.geo.surface import kde_surface
from riskmap.geo.trends import EmergingHotSpots

__all__ = ["main"]


def _median_time(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _line(
    name: str, seconds: float, n: int, unit: str, baseline: float | None, yard: float
) -> None:
    base = f"{seconds / baseline:6.2f}x baseline" if baseline else "      -         "
    print(
        f"{name:<42} {seconds * 1000:9.1f} ms  {n / seconds / 1e6:8.2f} M {unit}/s  {base}  "
        f"{seconds / yard:7.1f}x sort"
    )


def _emerging_baseline(counts: np.ndarray, w: object) -> np.ndarray:
    """The emerging hot spot sums written the plain way: scipy.stats' normal tail, the FDR one
    month (column) at a time, and Mann-Kendall's S as the sign of every difference."""
    z = gi_star_z(counts, w)
    p = 2.0 * stats.norm.sf(np.abs(z))
    q = np.column_stack([benjamini_hochberg(p[:, t]) for t in range(p.shape[1])])
    s = np.zeros(z.shape[0])
    for lag in range(1, z.shape[1]):
        s += np.sign(z[:, lag:] - z[:, :-lag]).sum(axis=1)
    return q + s[:, None]


def main() -> None:
    """Build a synthetic city, then time each hot-path step."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument(
        "--side-deg", type=float, default=0.95, help="study area width in degrees (~50k cells)"
    )
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    lon0, lat0 = 68.9, 41.0
    side = args.side_deg
    n = args.points
    n_hot = n // 3
    lon = np.r_[
        rng.uniform(lon0, lon0 + side, n - n_hot), lon0 + side * 0.5 + rng.normal(0, 0.02, n_hot)
    ]
    lat = np.r_[
        rng.uniform(lat0, lat0 + side * 0.75, n - n_hot),
        lat0 + side * 0.4 + rng.normal(0, 0.015, n_hot),
    ]
    t = pd.Series(
        pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 730, n), unit="D")
    )
    # mahallas: a 100 x 95 grid of boxes (9,500)
    xs = np.linspace(lon0, lon0 + side, 101)
    ys = np.linspace(lat0, lat0 + side * 0.75, 96)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    boxes = shapely.box(
        gx.ravel(), gy.ravel(), gx.ravel() + np.diff(xs)[0], gy.ravel() + np.diff(ys)[0]
    )
    mahallas = gpd.GeoDataFrame(
        {"mahalla_id": np.arange(boxes.size), "population": 3000.0}, geometry=boxes, crs=4326
    )
    col = np.clip(np.searchsorted(xs, lon) - 1, 0, 99)
    row = np.clip(np.searchsorted(ys, lat) - 1, 0, 94)
    mid = row * 100 + col

    yard = _median_time(lambda: np.sort(rng.random(n)))
    print(f"{n:,} points; np.sort yardstick {yard * 1000:.1f} ms")

    t_cells = _median_time(lambda: coordinates_to_cells(lat, lon, 9))
    cells9 = np.asarray(coordinates_to_cells(lat, lon, 9)).view(np.int64)
    _line("point -> res-9 cell (h3ronpy)", t_cells, n, "pts", None, yard)

    base = _median_time(lambda: pd.Series(cells9).value_counts())
    for res in (9, 8, 7):
        s = _median_time(lambda res=res: count_by_cell(cells9, res))
        _line(f"count_by_cell res {res} (baseline pandas)", s, n, "rows", base, yard)
    base_m = _median_time(lambda: pd.Series(mid).value_counts())
    s = _median_time(lambda: count_by_mahalla(mid, mahallas))
    _line("count_by_mahalla 9,500 (baseline pandas)", s, n, "rows", base_m, yard)
    codes = unit_codes(mid, pd.Index(mahallas["mahalla_id"]))
    s = _median_time(
        lambda: monthly_counts(codes, t, len(mahallas), start="2023-01", end="2024-12")
    )
    _line("monthly_counts 9,500 x 24", s, n, "rows", None, yard)

    t0 = time.perf_counter()
    study = study_cells(mahallas, 9)
    t_study = time.perf_counter() - t0
    _line(f"study_cells ({study.size:,} cells)", t_study, study.size, "cells", None, yard)
    t_w = _median_time(lambda: h3_weights(study, star=True))
    w = h3_weights(study, star=True)
    _line("h3_weights grid_disk -> W (star)", t_w, study.size, "cells", None, yard)
    counts = count_by_cell(cells9).set_index("h3")["count"].reindex(study, fill_value=0)
    y = counts.to_numpy(dtype=float)
    w0 = h3_weights(study)
    base_gi = _median_time(lambda: esda.G_Local(y, w0, transform="B", star=True, permutations=0))
    s = _median_time(lambda: GiStar().fit(y, w))
    _line("GiStar analytic + FDR (baseline esda raw W)", s, study.size, "cells", base_gi, yard)
    s = _median_time(lambda: gi_star_z(y, w0))
    _line("gi_star_z vectorised (baseline esda)", s, study.size, "cells", base_gi, yard)
    Y = np.tile(y[:, None], (1, 24))
    s = _median_time(lambda: gi_star_z(Y, w0))
    _line("gi_star_z 24 months at once", s, study.size * 24, "cell-months", base_gi * 24, yard)
    months = rng.poisson(np.maximum(Y, 0.05) / 24 * rng.uniform(0.5, 1.5, 24))
    base_em = _median_time(lambda: _emerging_baseline(months, w0))
    s = _median_time(lambda: EmergingHotSpots().fit(months, w0))
    _line("emerging hot spots 24 months (baseline: per", s, study.size * 24, "cell-months",
          base_em, yard)
    print("  column FDR, scipy.stats, sign-of-difference Mann-Kendall)")

    bounds = (lon0, lat0, lon0 + side, lat0 + side * 0.75)
    base_kde = _median_time(lambda: np.histogram2d(lon, lat, bins=(650, 650)))
    s = _median_time(lambda: kde_surface(lon, lat, bandwidth_m=400, cell_size_m=100, bounds=bounds))
    arr = kde_surface(lon, lat, bandwidth_m=400, cell_size_m=100, bounds=bounds).array
    _line(
        f"kde_surface {arr.shape[0]}x{arr.shape[1]} (baseline histogram2d)",
        s,
        n,
        "pts",
        base_kde,
        yard,
    )
    s = _median_time(lambda: hex_kde(cells9, study, 400))
    _line("hex_kde on the study lattice", s, n, "pts", None, yard)


if __name__ == "__main__":
    main()
