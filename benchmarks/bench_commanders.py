"""Time the commanders' map callback on >= 1M incidents by calling the callback functions directly.

Run: ``python benchmarks/bench_commanders.py [--incidents 1000000] [--store PATH]``.

Without ``--store`` it writes a synthetic embedded store (a 98 x 98 grid of mahallas, 9,604 in
4 regions of 49 districts, ``--incidents`` clustered incidents over 24 months, 1,000 cameras)
to a temporary directory; with ``--store`` it uses an existing store (e.g. the large demo).
It then builds the app's model, warms it (first read, status history, contiguity), and
replays a list of filter changes (metric, level, region, district, months, categories,
zoom, layers) through :func:`app.callbacks.commanders.render_map`, serialising each figure to
JSON as Dash does (``plotly.io.json.to_json_plotly``). Printed per change: the time of the cold first pass and the median of the
warm passes; overall the median and p95, the ratio to the overview page's map update for the
same filters (the baseline: counts only), and to ``np.sort`` of 1M floats (a machine-speed
yardstick). The target is a map update under 1 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from plotly.io.json import to_json_plotly

import geopandas as gpd
import shapely

from riskmap.app.callbacks.commanders import panel, red_list_rows, render_map
from riskmap.app.callbacks.overview import render as overview_render
from riskmap.app.commanders_data import CommandersView, data_for
from riskmap.app.data import AppModel
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess

__all__ = ["main", "synthetic_store"]

_CATS = ("theft", "assault", "burglary", "robbery", "fraud", "drugs", "hooliganism", "traffic")


def synthetic_store(root: Path, n_incidents: int, *, seed: int = 0) -> str:
    """Write the synthetic country to an embedded store in ``root``; return its url."""
    rng = np.random.default_rng(seed)
    side, step, lon0, lat0 = 98, 0.04, 62.0, 38.0
    r, c = np.divmod(np.arange(side * side), side)
    x0, y0 = lon0 + c * step, lat0 + r * step
    region = np.array([f"Region {'ABCD'[i]}" for i in (r // 49) * 2 + (c // 49)], dtype=object)
    district = np.array([f"District {i:03d}" for i in (r // 7) * 14 + (c // 7)], dtype=object)
    ids = np.array([f"M{i:05d}" for i in range(side * side)], dtype=object)
    mahallas = gpd.GeoDataFrame({
        "mahalla_id": ids, "name": [f"Mahalla {i}" for i in range(side * side)],
        "name_cyrillic": [None] * len(ids), "district": district, "region": region,
        "population": rng.integers(800, 12_000, len(ids)).astype(float),
    }, geometry=shapely.box(x0, y0, x0 + step, y0 + step), crs="EPSG:4326")

    n_hot = int(n_incidents * 0.6)
    centres = rng.uniform([lon0, lat0], [lon0 + side * step, lat0 + side * step], (250, 2))
    pick = rng.integers(0, len(centres), n_hot)
    hot = centres[pick] + rng.normal(0, 0.012, (n_hot, 2))
    flat = rng.uniform([lon0, lat0], [lon0 + side * step, lat0 + side * step],
                       (n_incidents - n_hot, 2))
    xy = np.clip(np.vstack([hot, flat]), [lon0 + 1e-6, lat0 + 1e-6],
                 [lon0 + side * step - 1e-6, lat0 + side * step - 1e-6])
    col = ((xy[:, 0] - lon0) / step).astype(int)
    row = ((xy[:, 1] - lat0) / step).astype(int)
    m = row * side + col
    start = pd.Timestamp("2024-01-01", tz="UTC").value
    span = pd.Timestamp("2025-12-31", tz="UTC").value - start
    t = start + (span * np.sqrt(rng.uniform(0, 1, n_incidents))).astype(np.int64)  # growing
    incidents = gpd.GeoDataFrame({
        "incident_id": np.char.add("I", np.arange(n_incidents).astype(str)).astype(object),
        "occurred_at": pd.to_datetime(t, utc=True),
        "category": rng.choice(_CATS, n_incidents,
                               p=[0.3, 0.15, 0.12, 0.08, 0.1, 0.08, 0.1, 0.07]).astype(object),
        "h3": cells_from_lonlat(xy[:, 0], xy[:, 1], 9),
        "mahalla_id": ids[m], "district": district[m], "region": region[m],
        "geocode_precision": np.full(n_incidents, "coordinates", dtype=object),
        "flags": np.full(n_incidents, "", dtype=object),
        "source_file": np.full(n_incidents, "bench.csv", dtype=object),
        "source_row": np.arange(n_incidents) + 2,
        "content_hash": np.arange(n_incidents),
    }, geometry=shapely.points(xy), crs="EPSG:4326")
    cam_m = rng.integers(0, len(ids), 1000)
    cams = gpd.GeoDataFrame({
        "camera_id": [f"C{i:04d}" for i in range(1000)],
        "type": rng.choice(["overview", "traffic", "face_recognition"], 1000).astype(object),
        "bearing_deg": rng.uniform(0, 360, 1000), "fov_deg": np.full(1000, 90.0),
        "range_m": np.full(1000, 80.0), "height_m": np.full(1000, 6.0),
        "installed_on": [None] * 1000, "status": np.full(1000, "active", dtype=object),
        "mahalla_id": ids[cam_m], "district": district[cam_m], "region": region[cam_m],
    }, geometry=shapely.points(x0[cam_m] + step / 2, y0[cam_m] + step / 2), crs="EPSG:4326")
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", mahallas)
        txn.replace("incidents", incidents)
        txn.replace("cameras", cams)
    return str(root)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _scenarios(model: AppModel) -> list[tuple[str, CommandersView, dict | None]]:
    regions = model.regions()
    r0 = regions[0] if regions else None
    r1 = regions[-1] if regions else None
    d0 = model.districts(r1)[0] if r1 and model.districts(r1) else None
    _first, last = model.date_bounds()
    half = date(last.year, max(last.month - 5, 1), 1) if last else None
    b = model.mahallas.total_bounds
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    res8 = {"range": [cx - 0.2, cx + 0.2, cy - 0.15, cy + 0.15]}
    res9 = {"range": [cx - 0.05, cx + 0.05, cy - 0.04, cy + 0.04]}
    return [
        ("mahallas, count, all", CommandersView(), None),
        ("mahallas, count, one region", CommandersView(region=r0), None),
        ("mahallas, Gi* class, theft", CommandersView(metric="gi_class",
                                                      categories=("theft",)), None),
        ("mahallas, status, last 6 months", CommandersView(metric="status", start=half,
                                                           end=last), None),
        ("mahallas, rate, one district", CommandersView(metric="rate", region=r1,
                                                        district=d0), None),
        ("mahallas, count + cameras", CommandersView(layers=("cameras",)), None),
        ("H3 res 7, count, all", CommandersView(level="h3"), None),
        ("H3 res 7, Gi* class, one region", CommandersView(level="h3", metric="gi_class",
                                                            region=r0), None),
        ("H3 res 8 (zoomed), count", CommandersView(level="h3"), res8),
        ("H3 res 9 (zoomed), Gi* class", CommandersView(level="h3", metric="gi_class"), res9),
        ("mahallas, count + KDE, one region", CommandersView(region=r0, layers=("kde",)), None),
    ]


def main() -> None:
    """Build or open the store, warm the model, then time the filter changes."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--store", default=None, help="use this store instead of a synthetic one")
    ap.add_argument("--passes", type=int, default=4, help="warm passes over the changes")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-commanders-") as tmp:
        _run(args, tmp)


def _run(args: argparse.Namespace, tmp: str) -> None:
    if args.store:
        url = args.store
    else:
        t = _timed(lambda: synthetic_store(Path(tmp) / "store", args.incidents))
        url = str(Path(tmp) / "store")
        print(f"synthetic store: {args.incidents:,} incidents, 9,604 mahallas ({t:.1f} s)")
    model = AppModel(DataAccess(open_store(url), user="bench", audit=False))
    data = data_for(model)
    print(f"model load: {_timed(model.load):.2f} s ({model.n_incidents:,} incidents, "
          f"{len(model.mahallas):,} mahallas)")
    print(f"status history (layer or computed): {_timed(data.status_history):.2f} s")
    yard = float(np.median([_timed(lambda: np.sort(np.random.default_rng(1).random(1_000_000)))
                            for _ in range(3)]))

    scenarios = _scenarios(model)
    cold: dict[str, float] = {}
    warm: dict[str, list[float]] = {name: [] for name, _, _ in scenarios}
    for p in range(args.passes + 1):
        for name, view, viewport in scenarios:
            s = _timed(lambda v=view, vp=viewport: to_json_plotly(render_map(data, v, vp)[0]))
            (warm[name].append(s) if p else cold.__setitem__(name, s))

    base: list[float] = []
    for _ in range(args.passes):
        for _name, view, _vp in scenarios:
            if view.level == "mahalla":
                q = view.query()
                base.append(_timed(lambda q=q: to_json_plotly(overview_render(model, q)[0])))
    print(f"\n{'filter change':<38} {'cold':>9} {'warm median':>12}")
    for name, _, _ in scenarios:
        print(f"{name:<38} {cold[name] * 1000:7.0f} ms {np.median(warm[name]) * 1000:9.0f} ms")
    all_warm = np.concatenate([np.asarray(v) for v in warm.values()])
    med, p95 = float(np.median(all_warm)), float(np.quantile(all_warm, 0.95))
    bmed = float(np.median(base))
    print(f"\nmap update, warm: median {med * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {all_warm.max() * 1000:.0f} ms over {len(all_warm)} updates; "
          f"cold max {max(cold.values()) * 1000:.0f} ms")
    print(f"baseline (overview map, counts only): median {bmed * 1000:.0f} ms -> "
          f"ratio {med / bmed:.2f}x; yardstick np.sort(1M) {yard * 1000:.0f} ms -> "
          f"{med / yard:.1f}x sort")
    mid = str(model.mahallas["mahalla_id"].iloc[len(model.mahallas) // 2])
    t_panel = np.median([_timed(lambda: panel(data, CommandersView(), mid)) for _ in range(3)])
    t_red = np.median([_timed(lambda: red_list_rows(data, CommandersView())) for _ in range(3)])
    print(f"mahalla panel {t_panel * 1000:.0f} ms; red list {t_red * 1000:.0f} ms")
    print("target: map update < 1000 ms:", "MET" if p95 < 1.0 else "NOT MET")


if __name__ == "__main__":
    main()
