"""Forecast evaluation: naive, KDE, Gi* and near-repeat scores backtested by hit rate, PAI and PEI*."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import geopandas as gpd
import h3ronpy
import shapely
from h3ronpy.vector import ContainmentMode, cells_to_coordinates, coordinates_to_cells, wkb_to_cells
from libpysal.weights import W

from riskmap.geo.aggregate import parent_cells, unit_codes
from riskmap.geo.hotspots import gi_star_z, h3_weights, mahalla_weights
from riskmap.geo.points import xy
from riskmap.geo.surface import utm_crs

__all__ = [
    "COVERAGES",
    "METHODS",
    "ForecastParams",
    "Units",
    "backtest",
    "evaluate_forecast",
    "h3_units",
    "hex_kde",
    "mahalla_units",
    "method_scores",
    "score_selection",
    "select_units",
]

COVERAGES = (0.01, 0.02, 0.05, 0.10)
METHODS = ("naive", "kde", "gi", "near_repeat")
_EARTH_KM = 6371.0088
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Units:
    """Spatial units a forecast ranks, plus a res-9 H3 lattice to evaluate kernels on.

    Attributes
    ----------
    kind
        ``"h3"`` or ``"mahalla"``.
    ids
        Unit ids (H3 cells at ``resolution``, or mahalla ids).
    area
        Area per unit in km² (H3: all 1.0, the units being treated as equal-area).
    w
        Binary contiguity weights (for Gi*).
    lattice
        Res-9 cells covering the units (for H3 units: their res-9 children; for mahallas: the
        cells whose centre is inside, or the cell of the representative point).
    lattice_unit
        Unit position of each lattice cell.
    resolution
        H3 resolution of the units (None for mahallas).
    """

    kind: str
    ids: np.ndarray
    area: np.ndarray
    w: W
    lattice: np.ndarray
    lattice_unit: np.ndarray
    resolution: int | None = None


@dataclass(frozen=True)
class ForecastParams:
    """Method parameters.

    Parameters
    ----------
    lookback_days
        History used by ``kde`` and ``gi`` (default 365).
    bandwidth_m
        Gaussian KDE bandwidth for ``kde`` (default 400 m).
    nr_bandwidth_m
        Spatial bandwidth of the near-repeat kernel (default 300 m).
    nr_tau_days
        Time constant of the near-repeat exponential decay (default 14 days); events older than
        ``6 * nr_tau_days`` are ignored.
    """

    lookback_days: int = 365
    bandwidth_m: float = 400.0
    nr_bandwidth_m: float = 300.0
    nr_tau_days: float = 14.0


# --------------------------------------------------------------------------- units


def h3_units(cells: np.ndarray, resolution: int = 9) -> Units:
    """Units from study cells at ``resolution`` (<= 9), treated as equal-area.

    Parameters
    ----------
    cells
        Unique H3 cells at ``resolution`` (e.g. :func:`geo.hotspots.study_cells`).
    resolution
        Their resolution.

    Returns
    -------
    Units
    """
    cells = np.unique(np.asarray(cells, dtype=np.int64))
    if resolution == 9:
        lattice = cells
    else:
        lattice = np.asarray(h3ronpy.change_resolution(cells.view(np.uint64), 9)).view(np.int64)
    lattice_unit = unit_codes(parent_cells(lattice, resolution), cells)
    return Units(
        "h3", cells, np.ones(cells.size), h3_weights(cells), lattice, lattice_unit, resolution
    )


def mahalla_units(mahallas: gpd.GeoDataFrame) -> Units:
    """Units from a mahalla layer: real areas (km², local UTM) and Queen contiguity.

    Parameters
    ----------
    mahallas
        ``mahalla_id`` and polygon ``geometry`` in EPSG:4326.

    Returns
    -------
    Units

    Raises
    ------
    ValueError
        If a geometry is missing or empty (the message names the mahalla ids).
    """
    mahallas = mahallas.reset_index(drop=True)
    geoms = mahallas.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        ids = mahallas["mahalla_id"].to_numpy()[bad][:5].tolist()
        raise ValueError(
            f"mahalla_units: {int(bad.sum())} mahallas have no geometry (e.g. {ids}); "
            "expected a polygon per mahalla"
        )
    lists = pa.array(
        wkb_to_cells(shapely.to_wkb(geoms), 9, containment_mode=ContainmentMode.ContainsCentroid)
    )
    offsets = lists.offsets.to_numpy()
    cells = lists.flatten().to_numpy().view(np.int64)
    owner = np.repeat(np.arange(len(mahallas)), np.diff(offsets))
    has = np.diff(offsets) > 0
    if (~has).any():
        rx, ry = xy(shapely.point_on_surface(geoms[~has]))
        extra = np.asarray(coordinates_to_cells(ry, rx, 9)).view(
            np.int64
        )
        cells = np.concatenate([cells, extra])
        owner = np.concatenate([owner, np.flatnonzero(~has)])
    crs = utm_crs(xy(shapely.centroid(geoms))[0])
    area = mahallas.geometry.to_crs(crs).area.to_numpy() / 1e6
    return Units(
        "mahalla",
        mahallas["mahalla_id"].to_numpy(),
        area,
        mahalla_weights(mahallas),
        cells,
        owner,
        None,
    )


def _incident_codes(units: Units, incidents: pd.DataFrame) -> np.ndarray:
    if units.kind == "h3":
        cells = incidents["h3"].to_numpy(dtype=np.int64)
        if units.resolution != 9:
            cells = parent_cells(cells, units.resolution or 9)
        return unit_codes(cells, units.ids)
    return unit_codes(incidents["mahalla_id"].to_numpy(), units.ids)


# --------------------------------------------------------------------------- kernels


def _centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rb = pa.record_batch(cells_to_coordinates(np.asarray(cells, dtype=np.int64).view(np.uint64)))
    return rb.column("lat").to_numpy(), rb.column("lng").to_numpy()


def _local_dist_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Equirectangular distance; within 0.1% of great-circle at kernel ranges (< 5 km)."""
    k = np.pi / 180.0 * _EARTH_KM
    dy = (lat2 - lat1) * k
    dx = (lon2 - lon1) * k * np.cos(np.radians(lat1))
    return np.hypot(dx, dy)


def hex_kde(
    event_cells: np.ndarray,
    targets: np.ndarray,
    bandwidth_m: float,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian kernel density (per km²) of events, evaluated at the centres of ``targets``.

    Events sit at their res-9 cell centres; each spreads over the cells within
    ``k = ceil(3 sigma / spacing)`` rings (capped at 12) with the 2-D Gaussian
    ``exp(-d² / 2 sigma²) / (2 pi sigma²)``, d the (local equirectangular) distance between
    centres.
    Working on the H3 lattice keeps this independent of the study extent (a country-wide
    raster at 100 m would not fit in memory).

    Parameters
    ----------
    event_cells
        Res-9 cell per event (0 = missing, ignored).
    targets
        Res-9 cells to evaluate at (unique not required).
    bandwidth_m
        Kernel standard deviation in metres.
    weights
        Weight per event (default 1).

    Returns
    -------
    numpy.ndarray
        Density at each target (float64).
    """
    targets = np.asarray(targets, dtype=np.int64)
    out = np.zeros(targets.size)
    ev = np.asarray(event_cells, dtype=np.int64)
    wts = np.ones(ev.size) if weights is None else np.asarray(weights, dtype=float)
    ok = ev != 0
    if not ok.any() or targets.size == 0:
        return out
    src, inv = np.unique(ev[ok], return_inverse=True)
    mass = np.bincount(inv, weights=wts[ok])
    sigma_km = bandwidth_m / 1000.0
    spacing_km = 0.2008 * np.sqrt(3.0)
    k = int(min(max(np.ceil(3 * sigma_km / spacing_km), 1), 12))
    disk = pa.array(h3ronpy.grid_disk(src.view(np.uint64), k))
    offsets = disk.offsets.to_numpy()
    nbr = disk.flatten().to_numpy().view(np.int64)
    s_idx = np.repeat(np.arange(src.size), np.diff(offsets))
    uniq_t, t_inv = np.unique(targets, return_inverse=True)
    pos = np.clip(np.searchsorted(uniq_t, nbr), 0, uniq_t.size - 1)
    hit = uniq_t[pos] == nbr
    s_idx, pos = s_idx[hit], pos[hit]
    slat, slon = _centres(src)
    tlat, tlon = _centres(uniq_t)
    d = _local_dist_km(slat[s_idx], slon[s_idx], tlat[pos], tlon[pos])
    kern = np.exp(-(d**2) / (2 * sigma_km**2)) / (2 * np.pi * sigma_km**2)
    dens = np.bincount(pos, weights=mass[s_idx] * kern, minlength=uniq_t.size)
    return dens[t_inv]


def _lattice_mean(units: Units, values: np.ndarray) -> np.ndarray:
    n = units.ids.size
    ok = units.lattice_unit >= 0
    s = np.bincount(units.lattice_unit[ok], weights=values[ok], minlength=n)
    c = np.bincount(units.lattice_unit[ok], minlength=n)
    out = np.zeros(n)
    out[c > 0] = s[c > 0] / c[c > 0]
    return out


# --------------------------------------------------------------------------- methods


def _window(t: np.ndarray, cutoff_ns: int, days: float) -> np.ndarray:
    return (t >= cutoff_ns - int(days * _DAY_NS)) & (t < cutoff_ns)


def _naive(
    units: Units,
    codes: np.ndarray,
    cells: np.ndarray,
    t: np.ndarray,
    cutoff: int,
    horizon: int,
    prm: ForecastParams,
) -> np.ndarray:
    sel = _window(t, cutoff, horizon) & (codes >= 0)
    return np.bincount(codes[sel], minlength=units.ids.size).astype(float)


def _kde(
    units: Units,
    codes: np.ndarray,
    cells: np.ndarray,
    t: np.ndarray,
    cutoff: int,
    horizon: int,
    prm: ForecastParams,
) -> np.ndarray:
    sel = _window(t, cutoff, prm.lookback_days)
    return _lattice_mean(units, hex_kde(cells[sel], units.lattice, prm.bandwidth_m))


def _gi(
    units: Units,
    codes: np.ndarray,
    cells: np.ndarray,
    t: np.ndarray,
    cutoff: int,
    horizon: int,
    prm: ForecastParams,
) -> np.ndarray:
    sel = _window(t, cutoff, prm.lookback_days) & (codes >= 0)
    counts = np.bincount(codes[sel], minlength=units.ids.size).astype(float)
    if units.kind == "mahalla":
        counts = counts / np.maximum(units.area, 1e-9)
    return gi_star_z(counts, units.w)


def _near_repeat(
    units: Units,
    codes: np.ndarray,
    cells: np.ndarray,
    t: np.ndarray,
    cutoff: int,
    horizon: int,
    prm: ForecastParams,
) -> np.ndarray:
    sel = _window(t, cutoff, 6 * prm.nr_tau_days)
    age = (cutoff - t[sel]) / _DAY_NS
    wts = np.exp(-age / prm.nr_tau_days)
    return _lattice_mean(units, hex_kde(cells[sel], units.lattice, prm.nr_bandwidth_m, wts))


_METHOD_FUNCS: dict[str, Callable[..., np.ndarray]] = {
    "naive": _naive,
    "kde": _kde,
    "gi": _gi,
    "near_repeat": _near_repeat,
}


def _prepare(units: Units, incidents: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = _incident_codes(units, incidents)
    cells = incidents["h3"].to_numpy(dtype=np.int64)
    occ = incidents["occurred_at"]
    if isinstance(occ.dtype, pd.DatetimeTZDtype):
        occ = occ.dt.tz_convert("UTC").dt.tz_localize(None)
    t = occ.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return codes, cells, t


def _ns(ts: pd.Timestamp | str) -> int:
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def method_scores(
    method: str,
    units: Units,
    incidents: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int = 28,
    params: ForecastParams | None = None,
) -> np.ndarray:
    """Risk score per unit from incidents strictly before ``cutoff``.

    Methods
    -------
    naive
        Count in the last ``horizon_days`` before the cut-off.
    kde
        Mean Gaussian KDE (``bandwidth_m``, last ``lookback_days``) over the unit's res-9
        lattice (:func:`hex_kde`).
    gi
        Gi* z-score of counts in the last ``lookback_days`` (count per km² for mahallas).
    near_repeat
        Prospective hotspotting (Bowers, Johnson & Pease 2004 style): every recent event adds
        ``exp(-age / nr_tau_days) * Gaussian(distance, nr_bandwidth_m)``, i.e. a time-decayed
        KDE, averaged over the unit's lattice.

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    units
        From :func:`h3_units` or :func:`mahalla_units`.
    incidents
        ``occurred_at`` (UTC), ``h3`` (res 9), and ``mahalla_id`` for mahalla units.
    cutoff
        Forecast time.
    horizon_days
        Forecast horizon (the naive window).
    params
        :class:`ForecastParams`.

    Returns
    -------
    numpy.ndarray
        float score per unit (higher = riskier).
    """
    if method not in _METHOD_FUNCS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    codes, cells, t = _prepare(units, incidents)
    return _METHOD_FUNCS[method](
        units, codes, cells, t, _ns(cutoff), horizon_days, params or ForecastParams()
    )


# --------------------------------------------------------------------------- metrics


def select_units(scores: np.ndarray, area: np.ndarray, coverage: float) -> np.ndarray:
    """Greedy selection by descending score while the area stays within ``coverage``.

    Units are taken in order of score (ties: lower position first) while their cumulative
    area is <= ``coverage`` x total area; at least one unit is always taken. With equal areas
    this is the top ``floor(coverage * n)`` units.

    Returns
    -------
    numpy.ndarray
        Boolean mask of selected units.
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    area = np.asarray(area, dtype=float)
    order = np.argsort(-scores, kind="stable")
    cum = np.cumsum(area[order])
    take = cum <= coverage * area.sum() * (1 + 1e-9)
    if take.size:
        take[0] = True
    mask = np.zeros(scores.size, dtype=bool)
    mask[order[take]] = True
    return mask


def score_selection(
    scores: np.ndarray, area: np.ndarray, test_counts: np.ndarray, coverage: float
) -> dict[str, float]:
    """Hit rate, PAI and PEI* of the units selected by ``scores`` at an area ``coverage``.

    hit_rate = hits / test incidents; PAI = hit_rate / area share of the selection;
    PEI* = hits / best hits, where best hits is what a selection with the same area budget
    could have caught. With equal areas this is exact (the top counts). With unequal areas
    (mahallas) it is approximated by the better of two greedy selections, by test count per
    km² and by test count, under the same budget (the exact optimum is a knapsack problem), so
    PEI* can exceed 1 in rare cases.

    Returns
    -------
    dict
        ``hits``, ``best_hits``, ``area_share``, ``hit_rate``, ``pai``, ``pei`` (NaN when
        there are no test incidents).
    """
    area = np.asarray(area, dtype=float)
    counts = np.asarray(test_counts, dtype=float)
    n = counts.sum()
    sel = select_units(scores, area, coverage)
    hits = counts[sel].sum()
    share = area[sel].sum() / area.sum()
    best = max(
        counts[select_units(counts / np.maximum(area, 1e-12), area, coverage)].sum(),
        counts[select_units(counts, area, coverage)].sum(),
    )
    hit_rate = hits / n if n else np.nan
    return {
        "hits": float(hits),
        "best_hits": float(best),
        "area_share": float(share),
        "hit_rate": float(hit_rate),
        "pai": float(hit_rate / share) if n and share else np.nan,
        "pei": float(hits / best) if best else np.nan,
    }


def evaluate_forecast(
    incidents: pd.DataFrame,
    units: Units,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int = 28,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = COVERAGES,
    params: ForecastParams | None = None,
) -> dict[str, Any]:
    """Fit every method on data before ``cutoff`` and score it on the next ``horizon_days``.

    Returns
    -------
    dict
        ``{"cutoff", "test_incidents": n, "methods": [{"method", "coverage", "hit_rate",
        "pai", "pei", "area_share"}, ...]}``; test incidents are those in
        ``[cutoff, cutoff + horizon)`` that fall in a unit.
    """
    params = params or ForecastParams()
    codes, cells, t = _prepare(units, incidents)
    c = _ns(cutoff)
    test = (t >= c) & (t < c + horizon_days * _DAY_NS) & (codes >= 0)
    counts = np.bincount(codes[test], minlength=units.ids.size)
    rows = []
    for m in methods:
        if m not in _METHOD_FUNCS:
            raise ValueError(f"unknown method {m!r}; expected one of {METHODS}")
        scores = _METHOD_FUNCS[m](units, codes, cells, t, c, horizon_days, params)
        for cov in coverages:
            r = score_selection(scores, units.area, counts, cov)
            rows.append(
                {
                    "method": m,
                    "coverage": cov,
                    "hit_rate": r["hit_rate"],
                    "pai": r["pai"],
                    "pei": r["pei"],
                    "area_share": r["area_share"],
                }
            )
    return {"cutoff": pd.Timestamp(c, tz="UTC"), "test_incidents": int(test.sum()), "methods": rows}


def backtest(
    incidents: pd.DataFrame,
    units: Units,
    *,
    folds: int = 4,
    horizon_days: int = 28,
    last_cutoff: pd.Timestamp | str | None = None,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = COVERAGES,
    params: ForecastParams | None = None,
) -> dict[str, Any]:
    """Rolling-origin backtest over ``folds`` cut-offs, each ``horizon_days`` apart.

    The last cut-off defaults to the day (UTC midnight) ``horizon_days`` before the latest
    incident, so its test window is complete; earlier cut-offs step back by the horizon.

    Returns
    -------
    dict
        ``{"test_incidents": total, "methods": [{"method", "coverage", "hit_rate", "pai", "pei",
        "hit_rate_std", "pai_std", "pei_std"}, ...], "folds": [evaluate_forecast(...), ...]}``
        (means and population std over folds, NaN folds skipped).
    """
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    if last_cutoff is None:
        latest = pd.Timestamp(incidents["occurred_at"].max())
        latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest.tz_convert("UTC")
        last = (latest - pd.Timedelta(days=horizon_days)).floor("D")
    else:
        last = pd.Timestamp(_ns(last_cutoff), tz="UTC")
    cutoffs = [last - pd.Timedelta(days=horizon_days * k) for k in range(folds)][::-1]
    fold_res = [
        evaluate_forecast(
            incidents,
            units,
            c,
            horizon_days=horizon_days,
            methods=methods,
            coverages=coverages,
            params=params,
        )
        for c in cutoffs
    ]
    detail = pd.DataFrame([r | {"fold": i} for i, f in enumerate(fold_res) for r in f["methods"]])
    rows = []
    for (m, cov), g in detail.groupby(["method", "coverage"], sort=False):
        row: dict[str, Any] = {"method": m, "coverage": float(cov)}
        for k in ("hit_rate", "pai", "pei"):
            v = g[k].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[k] = float(v.mean()) if v.size else np.nan
            row[f"{k}_std"] = float(v.std()) if v.size else np.nan
        rows.append(row)
    return {
        "test_incidents": int(sum(f["test_incidents"] for f in fold_res)),
        "methods": rows,
        "folds": fold_res,
    }
