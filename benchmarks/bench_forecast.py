"""Time the tuned forecast backtest on real police-recorded crime and print its figures (not a test).

Run: ``python benchmarks/bench_forecast.py [--data chicago] [--folds 4] [--horizon-days 30]``.
It loads a file of ``../shared/data/real-crime`` (or ``$RISKMAP_SHARED_DATA``), places the
incidents on H3 res-9 cells over the 0.01-degree squares that hold any incident (the study
area), and runs ``geo.forecast.backtest`` twice: with the nested tuning, bootstrap and every
method (the thing measured), and with the old fixed parameters and no bootstrap (the baseline
measured in the same run). It prints both times, their ratio, the time of ``np.sort`` of as
many floats (a machine-speed yardstick), then the table of every method at 1, 2, 5 and 10 %
with intervals, the chosen parameters and the verdicts. ``--markdown`` prints the table as
Markdown for docs/forecasts.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import geopandas as gpd
import shapely
from h3ronpy.vector import coordinates_to_cells

from riskmap.geo.forecast import ForecastParams, Units, backtest
from riskmap.geo.hotspots import h3_adjacency, study_cells

__all__ = ["load", "main"]

_DATA = Path(os.environ.get("RISKMAP_SHARED_DATA")
             or Path(__file__).resolve().parents[2] / "shared" / "data") / "real-crime"
_SHEETS = {"austin": "Austin", "fort-worth": "Fort Worth", "seattle": "Seattle"}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Incidents (``occurred_at`` UTC, ``h3``) and their lon/lat, from one shared file."""
    if name == "chicago":
        raw = pd.read_csv(_DATA / "chicago_aggravated_assaults.csv.gz")
        t = pd.to_datetime(raw["date"]).dt.tz_localize("UTC")
        lon, lat = raw["longitude"].to_numpy(), raw["latitude"].to_numpy()
    elif name == "cincinnati":  # one row per offence: keep one per incident
        raw = pd.read_csv(_DATA / "cincinnati_burglary.csv.gz").drop_duplicates("incident_no")
        t = pd.to_datetime(raw["offense_date"], utc=True)
        lon, lat = raw["longitude"].to_numpy(), raw["latitude"].to_numpy()
    elif name == "vancouver":  # UTM 10N metres, date and time over five columns
        from pyproj import Transformer

        raw = pd.read_csv(_DATA / "vancouver_thefts.csv.gz").dropna(subset=["X", "Y"])
        raw = raw[raw["X"] > 0]
        t = pd.to_datetime(raw[["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"]].set_axis(
            ["year", "month", "day", "hour", "minute"], axis=1)).dt.tz_localize("UTC")
        lon, lat = Transformer.from_crs(32610, 4326, always_xy=True).transform(
            raw["X"].to_numpy(), raw["Y"].to_numpy())
    else:
        raw = pd.read_excel(_DATA / "aggravated_assaults.xlsx", sheet_name=_SHEETS[name])
        t = pd.to_datetime(raw["date"]).dt.tz_localize("UTC")
        lon, lat = raw["longitude"].to_numpy(), raw["latitude"].to_numpy()
    ok = np.isfinite(lon) & np.isfinite(lat) & t.notna().to_numpy()
    lon, lat = np.asarray(lon, dtype=float)[ok], np.asarray(lat, dtype=float)[ok]
    cells = np.asarray(coordinates_to_cells(lat, lon, 9)).view(np.int64)
    inc = pd.DataFrame({"occurred_at": t.to_numpy()[ok], "h3": cells})
    return inc, lon, lat


def study_units(lon: np.ndarray, lat: np.ndarray) -> Units:
    """Res-9 cells over the 0.01-degree squares that hold any incident."""
    x0, y0 = lon.min() - 0.005, lat.min() - 0.005
    sq = np.unique(np.c_[((lon - x0) // 0.01).astype(int), ((lat - y0) // 0.01).astype(int)],
                   axis=0)
    west, south = x0 + sq[:, 0] * 0.01, y0 + sq[:, 1] * 0.01
    boxes = gpd.GeoDataFrame(geometry=shapely.box(west, south, west + 0.01, south + 0.01),
                             crs=4326)
    ids = study_cells(boxes, 9)
    w = sp.csr_matrix(h3_adjacency(ids) + sp.identity(ids.size, format="csr"))
    return Units("h3", ids, np.ones(ids.size), w, ids, np.arange(ids.size), 9)


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _figure(row: dict[str, Any], key: str, spec: str) -> str:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    text = format(row[key], spec)
    return text if lo is None or not np.isfinite(lo) else f"{text} [{lo:{spec}}, {hi:{spec}}]"


def _table(report: dict[str, Any], *, markdown: bool) -> str:
    rows = pd.DataFrame(report["methods"])
    covs = sorted(rows["coverage"].unique())
    lines = []
    if markdown:
        lines.append("| method | " + " | ".join(f"PAI at {c:.0%}" for c in covs)
                     + " | hit rate at 5% | PEI* at 5% |")
        lines.append("|---" * (len(covs) + 3) + "|")
    for m, g in rows.groupby("method", sort=False):
        by = {r["coverage"]: r for r in g.to_dict("records")}
        cells = [_figure(by[c], "pai", ".2f") for c in covs]
        five = by.get(0.05)
        extra = ([_figure(five, "hit_rate", ".3f"), _figure(five, "pei", ".3f")] if five
                 else ["-", "-"])
        if markdown:
            lines.append(f"| {m} | " + " | ".join(cells + extra) + " |")
        else:
            lines.append(f"{m:<12} " + "  ".join(f"{c:>19}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    """Run the tuned and the fixed backtest on one real file and print times and figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="chicago",
                    choices=["chicago", "cincinnati", "vancouver", *_SHEETS])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--horizon-days", type=int, default=30)
    ap.add_argument("--last-cutoff", default=None, help="default: horizon before the last day")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    (inc, lon, lat), t_load = _timed(lambda: load(args.data))
    units, t_units = _timed(lambda: study_units(lon, lat))
    print(f"{args.data}: {len(inc):,} incidents {inc['occurred_at'].min():%Y-%m-%d} .. "
          f"{inc['occurred_at'].max():%Y-%m-%d}, {units.ids.size:,} res-9 cells "
          f"(load {t_load:.1f} s, units {t_units:.1f} s)")
    kw = {"folds": args.folds, "horizon_days": args.horizon_days,
          "last_cutoff": args.last_cutoff}
    cpu0 = time.process_time()
    tuned, t_tuned = _timed(lambda: backtest(inc, units, replicates=args.bootstrap, **kw))
    cpu = time.process_time() - cpu0
    fixed, t_fixed = _timed(lambda: backtest(
        inc, units, methods=["naive", "kde", "gi", "near_repeat"], tune=False,
        params=ForecastParams(), replicates=0, **kw))
    floats = np.random.default_rng(0).random(len(inc))
    _, t_sort = _timed(lambda: np.sort(floats))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cut = [f["cutoff"].strftime("%Y-%m-%d") for f in tuned["folds"]]
    print(f"{args.folds}-fold backtest, horizon {args.horizon_days} d, cut-offs {', '.join(cut)}, "
          f"{tuned['test_incidents']:,} test incidents")
    print(f"tuned ({len(tuned['chosen'])} methods, nested tuning, {args.bootstrap} resamples): {t_tuned:7.1f} s wall, "
          f"{cpu:7.1f} s CPU, peak RSS {peak:,.0f} MB")
    print(f"baseline: fixed parameters, the 4 old methods, no bootstrap: {t_fixed:7.1f} s  "
          f"-> {t_tuned / t_fixed:5.1f}x baseline, {t_tuned / t_sort:,.0f}x np.sort")
    print()
    print(_table(tuned, markdown=args.markdown))
    print()
    for m, c in tuned["chosen"].items():
        if c["params"]:
            print(f"chosen {m:<12} last fold {c['params']}; per fold {c['per_fold']}")
        if c.get("fit"):
            print(f"       sepp fit at the last cut-off: {c['fit']}")
    for cov, v in tuned["best"].items():
        verdict = ("beats" if v["beats_counts"] else "does not beat")
        print(f"at {float(cov):.0%}: leader {v['leader']} PAI {v['pai']:.2f} {verdict} counts "
              f"{v['counts_pai']:.2f}, difference {v['diff']:+.2f} "
              f"[{v['diff_lo']:+.2f}, {v['diff_hi']:+.2f}]")
    at5 = {r["method"]: r["pai"] for r in tuned["methods"] if r["coverage"] == 0.05}
    best = max((m for m in at5 if m not in ("counts", "kde_200m")), key=lambda m: at5[m])
    rec = tuned["recommended"]
    print(f"recommended (nested pick per fold): {rec['per_fold']}; its PAI over the folds: "
          + ", ".join(f"{float(c):.0%} {v:.2f}" for c, v in rec["pai"].items()))
    old = {r["method"]: r["pai"] for r in fixed["methods"] if r["coverage"] == 0.05}
    print("old fixed defaults, PAI at 5%: " + ", ".join(f"{m} {v:.2f}" for m, v in old.items()))
    print(f"best at 5%: {best} {at5[best]:.2f} = {at5[best] / at5['kde_200m']:.3f}x plain 200 m "
          f"KDE ({at5['kde_200m']:.2f}), {at5[best] / at5['counts']:.3f}x all-history counts "
          f"({at5['counts']:.2f})")


if __name__ == "__main__":
    main()
