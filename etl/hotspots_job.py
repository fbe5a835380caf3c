"""Hotspot analytics shared by the build, the exports and the app: counts, Gi*, trends, status, KDE.

One place decides which incidents each analysis uses:

- **H3 cells (point maps) and the KDE surface** use incidents with a place of occurrence. The
  categories in :data:`layers.spec.NON_SPATIAL_CATEGORIES` (cybercrime, fraud: located at the
  victim's home mahalla) are left out unless ``include_non_spatial=True``.
- **Mahallas** use every category, the non-spatial ones by the victim's mahalla.

Time windows are half-open ``[start, end)`` in UTC. Study units are the H3 cells whose centre
lies inside the mahalla layer (:func:`geo.hotspots.study_cells`) or the mahallas themselves,
so zero-count units take part in Gi* (6 edge neighbours for cells, Queen contiguity for
mahallas, ``esda.G_Local(transform='B', star=True)``, two-sided normal p, classes at
90/95/99 % after a Benjamini-Hochberg FDR correction, on by default).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import geopandas as gpd
import shapely

from riskmap.geo.aggregate import monthly_counts, parent_cells, rate_per_1000, unit_codes
from riskmap.geo.forecast import (
    ForecastGrid,
    ForecastParams,
    Units,
    backtest,
    evaluate_forecast,
    h3_units,
    mahalla_units,
)
from riskmap.geo.h3index import cell_centers
from riskmap.geo.hotspots import (
    CENTRE_RULE_FROM,
    QuietSplit,
    _binary_star,
    benjamini_hochberg,
    classify_gi,
    gi_star_z,
    h3_adjacency,
    h3_star_sizes,
    mahalla_weights,
    study_cells,
    two_sided_p,
)
from riskmap.geo.status import StatusRule, format_numbers, gi_class_label, status_history
from riskmap.geo.surface import MAX_CELLS, Surface, kde_surface, utm_crs
from riskmap.geo.trends import EmergingHotSpots
from riskmap.layers.spec import NON_SPATIAL_CATEGORIES

__all__ = [
    "LEVELS",
    "analysis_mask",
    "compute_hotspots",
    "default_window",
    "evaluate",
    "evaluation_units",
    "gi_star",
    "gi_star_split",
    "hotspot_table",
    "kde",
    "status_history_frame",
    "study_lattice",
    "study_units",
    "trends_and_status",
]

LEVELS = ("h3", "mahalla")
_CACHE: OrderedDict[tuple[Any, ...], tuple[np.ndarray, Any]] = OrderedDict()
_CACHE_SIZE = 8


# --------------------------------------------------------------------------- helpers


def _utc(value: pd.Timestamp | str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _month_start(ts: pd.Timestamp) -> pd.Timestamp:
    ts = ts.tz_convert("UTC").tz_localize(None)
    return pd.Timestamp(ts.year, ts.month, 1).tz_localize("UTC")


def _check_level(level: str, res: int) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if level == "h3" and not 0 <= int(res) <= 9:
        raise ValueError(f"res must be an H3 resolution 0..9 (incidents are at 9), got {res}")


def default_window(
    incidents: pd.DataFrame, months: int = 12, *, now: pd.Timestamp | None = None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The last ``months`` full calendar months of data, as ``[start, end)`` in UTC.

    The latest incident's month is full when it is over (``now`` is past it) or the latest
    incident falls on its last day; a month still running is left out (its data are still
    coming in). ``(None, None)`` without data.

    Examples
    --------
    >>> default_window(pd.DataFrame({"occurred_at": pd.to_datetime([], utc=True)}))
    (None, None)
    >>> t = pd.DataFrame({"occurred_at": pd.to_datetime(["2025-03-05"], utc=True)})
    >>> [str(d.date()) for d in default_window(t, 12, now=pd.Timestamp("2026-01-01", tz="UTC"))]
    ['2024-04-01', '2025-04-01']
    >>> [str(d.date()) for d in default_window(t, 12, now=pd.Timestamp("2025-03-20", tz="UTC"))]
    ['2024-03-01', '2025-03-01']
    """
    occ = pd.to_datetime(incidents["occurred_at"], utc=True).dropna()
    if occ.empty:
        return None, None
    latest = occ.max()
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    end = _month_start(latest)
    following = _month_start(latest + pd.offsets.MonthBegin(1))
    if (latest + pd.Timedelta(days=1)).month != latest.month or following <= now:
        end = following  # the latest month is complete
    start = end - pd.DateOffset(months=months)
    return pd.Timestamp(start), pd.Timestamp(end)


def analysis_mask(
    incidents: pd.DataFrame,
    *,
    level: str = "h3",
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
) -> np.ndarray:
    """Which incidents an analysis at ``level`` uses (window, categories, non-spatial rule).

    Parameters
    ----------
    incidents
        ``occurred_at`` (UTC) and ``category``.
    level
        ``"h3"`` drops :data:`~layers.spec.NON_SPATIAL_CATEGORIES` unless
        ``include_non_spatial``; ``"mahalla"`` keeps them (victim's mahalla).
    start, end
        Half-open window; None leaves a side open.
    categories
        Categories to use (None: all).
    include_non_spatial
        Keep cybercrime and fraud on the H3 level too (keyword-only).

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    occ = pd.to_datetime(incidents["occurred_at"], utc=True)
    mask = np.array(occ.notna().to_numpy(dtype=bool), copy=True)
    s, e = _utc(start), _utc(end)
    if s is not None:
        mask &= (occ >= s).fillna(False).to_numpy(dtype=bool)
    if e is not None:
        mask &= (occ < e).fillna(False).to_numpy(dtype=bool)
    cat = incidents["category"].astype("string")
    if categories is not None:
        mask &= cat.isin(list(categories)).fillna(False).to_numpy(dtype=bool)
    if level == "h3" and not include_non_spatial:
        mask &= ~cat.isin(list(NON_SPATIAL_CATEGORIES)).fillna(False).to_numpy(dtype=bool)
    return mask


def _layer_key(mahallas: gpd.GeoDataFrame, level: str, res: int) -> tuple[Any, ...]:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(mahallas["mahalla_id"].astype(str).to_numpy(), dtype="U").tobytes())
    for wkb in shapely.to_wkb(mahallas.geometry.to_numpy()):
        digest.update(wkb if wkb is not None else b"-")
    if level == "h3" and res < CENTRE_RULE_FROM:  # cells that meet the layer (a stored
        digest.update(b"meets")                    # lattice made by the centre rule is stale)
    return (level, int(res), len(mahallas), digest.hexdigest())


def study_units(
    mahallas: gpd.GeoDataFrame, *, level: str = "h3", res: int = 9
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Study unit ids and binary Gi* weights (cached for the last few layers).

    Parameters
    ----------
    mahallas
        The mahalla layer (EPSG:4326) that defines the study area.
    level
        ``"h3"``: cells at ``res`` whose centre is inside a mahalla, 6 edge neighbours;
        ``"mahalla"``: mahalla ids, Queen contiguity.
    res
        H3 resolution (level ``"h3"`` only).

    Returns
    -------
    ids : numpy.ndarray
        int64 cells (sorted) or mahalla ids (layer order).
    w : scipy.sparse.csr_matrix
        0/1 weights aligned with ``ids``, self weight 1 on the diagonal (the Gi* star). A
        sparse matrix rather than a libpysal ``W``: a country has millions of res-9 cells and
        ``W``'s dict-of-lists costs seconds per million; :func:`geo.hotspots.gi_star_z` and
        :class:`geo.trends.EmergingHotSpots` take it as it is.
    """
    _check_level(level, res)
    key = _layer_key(mahallas, level, res)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    if level == "h3":
        ids = study_cells(mahallas, res)
        w = h3_adjacency(ids, star=True)  # with the self weight, made row block by row block
    else:
        ids = mahallas["mahalla_id"].to_numpy()
        adj = sp.csr_matrix(mahalla_weights(mahallas.reset_index(drop=True)).sparse, dtype=float)
        adj.data[:] = 1.0
        w = sp.csr_matrix(adj + sp.identity(adj.shape[0], format="csr"))
    _CACHE[key] = (ids, w)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return ids, w


def study_lattice(mahallas: gpd.GeoDataFrame, res: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """The H3 study cells at ``res`` (sorted) and their Gi* star sizes, cached as
    :func:`study_units` is: what :func:`geo.hotspots.quiet_split_h3` cuts a lattice with. A
    country's res-9 lattice is 3.8 M cells and 27 M neighbour pairs; the sizes are 4 MB."""
    _check_level("h3", res)
    key = (*_layer_key(mahallas, "h3", res), "sizes")
    if key not in _CACHE:
        made = _CACHE.get(key[:-1])  # the weights, when this process already has them
        if made is not None:
            ids, w = made
            sizes = np.diff(_binary_star(w).indptr).astype(np.int8)
        else:
            ids = study_cells(mahallas, res)
            sizes = h3_star_sizes(ids)
        _CACHE[key] = (ids, sizes)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def gi_star(counts: np.ndarray, w: sp.spmatrix, *, fdr: bool = True) -> tuple[np.ndarray, ...]:
    """Gi* z, two-sided p, BH q and class, as :class:`geo.hotspots.GiStar` (analytic).

    Same numbers as ``GiStar(fdr=fdr).fit(counts, w)`` (``esda.G_Local(transform='B',
    star=True)``, p = 2 (1 - Phi(|z|))), computed with the vectorised
    :func:`geo.hotspots.gi_star_z` on the sparse matrix, which stays fast for millions of
    cells. Constant counts give z = 0, p = 1.

    Returns
    -------
    z, p, q, gi_class : numpy.ndarray
    """
    return _gi_star(np.asarray(counts, dtype=float), lambda y: gi_star_z(y, w), None, fdr)


def gi_star_split(counts: np.ndarray, split: QuietSplit, *, fdr: bool = True,
                  ) -> tuple[np.ndarray, ...]:
    """:func:`gi_star` on a lattice cut by :func:`geo.hotspots.quiet_split`: ``counts`` per
    row of the split (0 on its quiet rows); the figures of each row are those of the cells it
    stands for on the whole lattice."""
    counts = np.asarray(counts, dtype=float)
    return _gi_star(counts, lambda y: split.gi_star_z(y[: split.n_active]), split.weight, fdr)


def _gi_star(counts: np.ndarray, z_of: Any, weight: np.ndarray | None,
             fdr: bool) -> tuple[np.ndarray, ...]:
    if counts.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty, np.zeros(0, dtype=object)
    z = z_of(counts) if np.ptp(counts) > 0 else np.zeros(counts.shape)
    p = two_sided_p(z)
    q = benjamini_hochberg(p, weight)
    return z, p, q, classify_gi(z, q if fdr else p)


def _codes(incidents: pd.DataFrame, ids: np.ndarray, level: str, res: int) -> np.ndarray:
    if level == "h3":
        cells = pd.to_numeric(incidents["h3"], errors="coerce").fillna(0).to_numpy(np.int64)
        if res != 9:
            cells = parent_cells(cells, res)
        return unit_codes(cells, ids)
    return unit_codes(incidents["mahalla_id"].astype(object).to_numpy(), ids)


def _population(mahallas: gpd.GeoDataFrame) -> np.ndarray:
    if "population" not in mahallas:
        return np.full(len(mahallas), np.nan)
    return pd.to_numeric(mahallas["population"], errors="coerce").to_numpy(dtype=float)


# --------------------------------------------------------------------------- counts + Gi*


def compute_hotspots(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    level: str = "h3",
    res: int = 9,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
    fdr: bool = True,
) -> pd.DataFrame:
    """Counts, rates and Gi* hot/cold spots per study unit for a window and category set.

    Parameters
    ----------
    incidents
        Columns ``h3`` (int64, res 9), ``mahalla_id``, ``occurred_at`` (UTC), ``category``.
    mahallas
        ``mahalla_id``, ``population`` (optional), polygon ``geometry`` (EPSG:4326): the study
        area for cells and the units for ``level="mahalla"``.
    level
        ``"h3"`` or ``"mahalla"``.
    res
        H3 resolution of the cells (7, 8 or 9 typically); incidents are lifted to it.
    start, end
        Half-open window ``[start, end)`` (UTC; naive is taken as UTC); None = open.
    categories
        Categories to count (None: all).
    include_non_spatial
        Count cybercrime and fraud on H3 cells too (they are always counted per mahalla).
    fdr
        Classify from Benjamini-Hochberg q-values (default) instead of raw p.

    Returns
    -------
    pandas.DataFrame
        One row per study unit (zero counts included): ``id`` (int64 cell, or mahalla_id),
        ``count`` (int64), ``rate`` (per 1,000 residents; for mahallas with a known
        population, **NaN for H3 cells**: population is not spread onto cells), ``gi_z``,
        ``gi_p`` (two-sided), ``gi_q`` (BH), ``gi_class`` (hot_99 ... cold_99).
        Incidents outside the study units are not counted.
    """
    _check_level(level, res)
    ids, w = study_units(mahallas, level=level, res=res)
    mask = analysis_mask(incidents, level=level, start=start, end=end, categories=categories,
                         include_non_spatial=include_non_spatial)
    codes = _codes(incidents, ids, level, res)[mask]
    counts = np.bincount(codes[codes >= 0], minlength=len(ids)).astype(np.int64)
    if level == "mahalla":
        rate = rate_per_1000(counts, _population(mahallas))
    else:
        rate = np.full(len(ids), np.nan)
    z, p, q, cls = gi_star(counts, w, fdr=fdr)
    return pd.DataFrame({
        "id": ids.astype(np.int64) if level == "h3" else ids,
        "count": counts,
        "rate": rate,
        "gi_z": z,
        "gi_p": p,
        "gi_q": q,
        "gi_class": pd.array(cls, dtype="string"),
    })


# --------------------------------------------------------------------------- trends + status


def _month_range(
    incidents: pd.DataFrame, end: pd.Timestamp | str | None, months: int
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last month (month starts) of the ``months`` months before ``end``."""
    e = _utc(end)
    if e is None:
        e = default_window(incidents, months)[1]
        if e is None:
            return None
    last = _month_start(e - pd.Timedelta(1, "ns"))
    first = last - pd.DateOffset(months=months - 1)
    return pd.Timestamp(first), last


def trends_and_status(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    level: str = "h3",
    res: int = 9,
    end: pd.Timestamp | None = None,
    months: int = 12,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
    fdr: bool = True,
    rule: StatusRule | None = None,
) -> pd.DataFrame:
    """Emerging hot spot trend and current status per study unit.

    The trend is :class:`geo.trends.EmergingHotSpots` (monthly Gi*, Mann-Kendall, the ArcGIS
    classes such as ``new_hot_spot`` or ``intensifying_hot_spot``) over the ``months`` full
    months before ``end``. The status is the :class:`geo.status.StatusRule` for the last of
    those months (window ``rule.window_months``). For H3 cells the same rule is applied with
    the cells' own Gi* and no population (so no rate test): red = significant hot spot with
    incidents, green = no incident in the window, yellow otherwise.

    Parameters
    ----------
    incidents, mahallas, level, res, categories, include_non_spatial, fdr
        As in :func:`compute_hotspots`.
    end
        Exclusive end; the last month analysed is the one holding ``end - 1 ns``. Default:
        the end of the last full month of data.
    months
        Number of monthly bins for the trend (default 12).
    rule
        Status rule (default: ``StatusRule(fdr=fdr)``).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``trend`` (emerging class), ``trend_z``, ``trend_p`` (Mann-Kendall of the
        monthly Gi* z), ``status`` (green/yellow/red), ``why`` (one line), in study-unit order.
    """
    _check_level(level, res)
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    ids, w = study_units(mahallas, level=level, res=res)
    rule = rule or StatusRule(fdr=fdr)
    span = _month_range(incidents, end, max(months, 1))
    n = len(ids)
    out = pd.DataFrame({"id": ids.astype(np.int64) if level == "h3" else ids})
    if span is None or n == 0:
        out["trend"] = pd.array(["no_pattern"] * n, dtype="string")
        out["trend_z"] = np.zeros(n)
        out["trend_p"] = np.ones(n)
        out["status"] = pd.array(["green"] * n, dtype="string")
        out["why"] = pd.array([f"green: no recorded crime in {rule.window_months} months"] * n,
                              dtype="string")
        return out
    first, last = span
    mask = analysis_mask(incidents, level=level, categories=categories,
                         include_non_spatial=include_non_spatial)
    codes = _codes(incidents, ids, level, res)
    monthly, _ = monthly_counts(codes, incidents["occurred_at"], n, start=first, end=last,
                                mask=mask)
    ehs = EmergingHotSpots(fdr=fdr).fit(monthly, w)
    out["trend"] = pd.array(ehs.category, dtype="string")
    out["trend_z"] = ehs.trend_z
    out["trend_p"] = ehs.trend_p
    if level == "h3":
        status, why = _cell_status(codes, incidents["occurred_at"], mask, w, last=last,
                                   rule=rule)
    else:
        hist = _mahalla_history(incidents, mahallas, w, mask, start=last, end=last, rule=rule)
        status, why = hist["status"].to_numpy(), hist["why"].to_numpy()
    out["status"] = pd.array(status, dtype="string")
    out["why"] = pd.array(why, dtype="string")
    return out


def _cell_status(
    codes: np.ndarray,
    occurred_at: pd.Series,
    mask: np.ndarray,
    w: sp.spmatrix,
    *,
    last: pd.Timestamp,
    rule: StatusRule,
) -> tuple[np.ndarray, np.ndarray]:
    """The status rule on cells (no population, so no rate test), built column-wise.

    red: a Gi* hot spot at ``rule.gi_confidence`` with >= 1 incident in the window; green: no
    incident in the window; yellow otherwise. The reason strings are only formatted for the
    (few) cells that are not green.
    """
    win = rule.window_months
    first = last - pd.DateOffset(months=win - 1)
    monthly, _ = monthly_counts(codes, occurred_at, w.shape[0], start=first, end=last,
                                mask=mask)
    return cell_status_from_counts(monthly.sum(axis=1), w, rule=rule)


def cell_status_from_counts(count: np.ndarray, w: sp.spmatrix | None, *, rule: StatusRule,
                            gi: tuple[np.ndarray, ...] | None = None, explain: bool = True,
                            ) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_cell_status` from the count of each cell in the window (the core it runs on).

    ``gi`` is :func:`gi_star` of these counts with ``fdr=rule.fdr`` when the caller already has
    it (a national lattice's Gi* is not free); computed here otherwise. With ``explain=False``
    the reasons are not written (None): a string per busy cell of a country costs seconds.
    """
    win = rule.window_months
    count = np.asarray(count, dtype=np.int64)
    z, p, q, cls = gi if gi is not None else gi_star(count, w, fdr=rule.fdr)
    alpha = {90: 0.10, 95: 0.05, 99: 0.01}[rule.gi_confidence]
    red = (z > 0) & ((q if rule.fdr else p) <= alpha) & (count > 0)
    status = np.where(count == 0, "green", np.where(red, "red", "yellow")).astype(object)
    if not explain:
        return status, None
    why = np.full(count.shape, f"green: no recorded crime in {win} months", dtype=object)
    busy = np.flatnonzero(count > 0)
    label = gi_class_label(cls[busy])
    why[busy] = (status[busy] + ": " + count[busy].astype(str).astype(object)
                 + np.where(count[busy] == 1, " incident", " incidents").astype(object)
                 + f" in {win} months; Gi* z="
                 + format_numbers(z[busy], "%.1f") + " " + label)
    return status, why


def _mahalla_history(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    w: sp.spmatrix,
    mask: np.ndarray,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    rule: StatusRule,
) -> pd.DataFrame:
    """:func:`geo.status.status_history` on the selected incidents, with cached weights."""
    frame = pd.DataFrame({"mahalla_id": incidents["mahalla_id"].to_numpy()[mask],
                          "occurred_at": incidents["occurred_at"].to_numpy()[mask]})
    return status_history(frame, mahallas.reset_index(drop=True), start=start, end=end,
                          rule=rule, w=w)


def status_history_frame(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    months: int = 12,
    categories: Sequence[str] | None = None,
    fdr: bool = True,
    rule: StatusRule | None = None,
) -> pd.DataFrame:
    """Month-by-month mahalla status (green/yellow/red) with a one-line reason.

    Every category counts, non-spatial ones by the victim's mahalla.

    Parameters
    ----------
    incidents
        ``mahalla_id``, ``occurred_at`` (UTC), ``category``.
    mahallas
        ``mahalla_id``, ``population``, polygon ``geometry``.
    start, end
        Months reported: from the month of ``start`` to the month holding ``end - 1 ns``.
        Default: the ``months`` full months of data up to the last full month.
    months
        Number of months reported when ``start`` is None.
    categories
        Categories counted (None: all).
    fdr
        FDR correction of the Gi* test (used when ``rule`` is None).
    rule
        Status rule (default ``StatusRule(fdr=fdr)``).

    Returns
    -------
    pandas.DataFrame
        ``mahalla_id``, ``month``, ``status``, ``why``, ``count``, ``rate_per_1000``,
        ``gi_z``, ``gi_class`` (see :func:`geo.status.status_history`); empty without data.
    """
    rule = rule or StatusRule(fdr=fdr)
    span = _month_range(incidents, end, months)
    cols = ["mahalla_id", "month", "status", "why", "count", "rate_per_1000", "gi_z", "gi_class"]
    if span is None or len(mahallas) == 0:
        return pd.DataFrame({c: [] for c in cols})
    first, last = span
    if start is not None:
        first = _month_start(_utc(start))
    _, w = study_units(mahallas, level="mahalla")
    mask = analysis_mask(incidents, level="mahalla", categories=categories)
    return _mahalla_history(incidents, mahallas, w, mask, start=first, end=last, rule=rule)


# --------------------------------------------------------------------------- table + KDE


def hotspot_table(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    level: str = "h3",
    res: int = 9,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
    fdr: bool = True,
    rule: StatusRule | None = None,
) -> pd.DataFrame:
    """:func:`compute_hotspots` joined with :func:`trends_and_status` (trends up to ``end``).

    The trend and status use the 12 full months before ``end`` (default: the last full month
    of data), whatever the window of the counts. Same arguments as :func:`compute_hotspots`.

    Returns
    -------
    pandas.DataFrame
        ``id, count, rate, gi_z, gi_p, gi_q, gi_class, trend, status, why``.
    """
    hs = compute_hotspots(incidents, mahallas, level=level, res=res, start=start, end=end,
                          categories=categories, include_non_spatial=include_non_spatial,
                          fdr=fdr)
    ts = trends_and_status(incidents, mahallas, level=level, res=res, end=end,
                           categories=categories, include_non_spatial=include_non_spatial,
                           fdr=fdr, rule=rule)
    for col in ("trend", "status", "why"):
        hs[col] = ts[col].to_numpy()
    return hs


def _lonlat(incidents: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates; the res-9 cell centre where the point is missing or empty."""
    n = len(incidents)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if isinstance(incidents, gpd.GeoDataFrame) and incidents.geometry.name in incidents:
        geoms = incidents.geometry.to_numpy()
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        lon[ok] = shapely.get_x(geoms[ok])
        lat[ok] = shapely.get_y(geoms[ok])
    need = ~np.isfinite(lon)
    if need.any() and "h3" in incidents:
        cells = pd.to_numeric(incidents["h3"], errors="coerce").fillna(0).to_numpy(np.int64)
        sel = need & (cells > 0)
        if sel.any():
            clon, clat = cell_centers(cells[sel])
            lon[sel], lat[sel] = clon, clat
    return lon, lat


def kde(
    incidents: pd.DataFrame,
    *,
    bandwidth_m: float = 300.0,
    cell_m: float = 100.0,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
    bounds: tuple[float, float, float, float] | None = None,
) -> Surface:
    """Kernel density risk surface (incidents per km²) on a UTM grid.

    Incidents are placed at their point; those without one (mahalla-level geocodes) at the
    centre of their res-9 cell. Non-spatial categories are left out unless
    ``include_non_spatial``. When the grid would exceed :data:`geo.surface.MAX_CELLS`,
    ``cell_m`` is doubled until it fits (check the returned transform).

    Parameters
    ----------
    incidents
        ``occurred_at``, ``category``, ``h3``; a GeoDataFrame's points are used when present.
    bandwidth_m
        Gaussian kernel standard deviation (m).
    cell_m
        Grid cell size (m).
    start, end, categories, include_non_spatial
        As in :func:`compute_hotspots`.
    bounds
        Grid extent (min_lon, min_lat, max_lon, max_lat), e.g. the mahalla layer's bounds;
        default the points' extent.

    Returns
    -------
    geo.surface.Surface
    """
    mask = analysis_mask(incidents, level="h3", start=start, end=end, categories=categories,
                         include_non_spatial=include_non_spatial)
    lon, lat = _lonlat(incidents[mask] if not mask.all() else incidents)
    ok = np.isfinite(lon) & np.isfinite(lat)
    ext = bounds
    if ext is None and ok.any():
        ext = (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max())
    cell = float(cell_m)
    if ext is not None:
        cell = _fit_cell(ext, bandwidth_m, cell)
    return kde_surface(lon, lat, bandwidth_m=bandwidth_m, cell_size_m=cell, bounds=bounds,
                       crs=utm_crs(lon[ok]) if bounds is None and ok.any() else None)


def _fit_cell(ext: tuple[float, float, float, float], bandwidth_m: float, cell: float) -> float:
    """Smallest power-of-two multiple of ``cell`` giving a grid under MAX_CELLS (estimate)."""
    lat_mid = np.radians((ext[1] + ext[3]) / 2)
    width = (ext[2] - ext[0]) * 111_320 * max(np.cos(lat_mid), 0.1) + 6 * bandwidth_m
    height = (ext[3] - ext[1]) * 110_574 + 6 * bandwidth_m
    while (width / cell + 2) * (height / cell + 2) * 1.1 > MAX_CELLS:
        cell *= 2
    return cell


# --------------------------------------------------------------------------- evaluation


def evaluation_units(mahallas: gpd.GeoDataFrame, *, level: str = "h3", res: int = 9) -> Units:
    """Forecast units (:class:`geo.forecast.Units`) over the study area, weights cached.

    Res-9 cells are their own lattice and reuse the sparse weights of :func:`study_units`
    (no libpysal ``W`` for millions of cells); coarser cells and mahallas come from
    :func:`geo.forecast.h3_units` / :func:`geo.forecast.mahalla_units`.
    """
    _check_level(level, res)
    if level == "mahalla":
        return mahalla_units(mahallas.reset_index(drop=True))
    if res != 9:
        return h3_units(study_cells(mahallas, res), res)
    cells, w = study_units(mahallas, level="h3", res=9)
    return Units("h3", cells, np.ones(cells.size), w, cells, np.arange(cells.size), 9)


def evaluate(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    level: str = "h3",
    res: int = 9,
    cutoff: pd.Timestamp | str | None = None,
    horizon_days: int = 30,
    folds: int = 1,
    categories: Sequence[str] | None = None,
    include_non_spatial: bool = False,
    params: ForecastParams | None = None,
    tune: bool = True,
    grid: ForecastGrid | None = None,
    replicates: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Backtest the forecast methods and baselines by hit rate, PAI and PEI*, with intervals.

    Parameters
    ----------
    incidents
        ``h3``, ``mahalla_id``, ``occurred_at``, ``category``.
    mahallas
        The study area (and the units for ``level="mahalla"``).
    level, res, categories, include_non_spatial
        As in :func:`compute_hotspots` (non-spatial categories only count per mahalla unless
        ``include_non_spatial``).
    cutoff
        Forecast date (the last one with ``folds > 1``); default: ``horizon_days`` before the
        latest incident, so the test window is complete.
    horizon_days
        Test window length; earlier folds step back by it.
    folds
        1: one cut-off (:func:`geo.forecast.evaluate_forecast`); > 1: rolling backtest, the
        figures are means over folds with ``*_std`` spreads and a ``folds`` list.
    params
        :class:`geo.forecast.ForecastParams`: the values used without ``tune``.
    tune, grid
        Choose each method's parameters by a rolling backtest on the history before each
        cut-off, from the candidates in ``grid`` (:class:`geo.forecast.ForecastGrid`).
    replicates, seed
        Bootstrap replicates (resampled test incidents) for the intervals.

    Returns
    -------
    dict
        ``test_incidents``, ``methods`` (method, coverage, hit_rate, pai, pei, their
        ``*_lo``/``*_hi`` intervals, ...), ``chosen`` (parameters per method),
        ``recommended`` (the method the history before the cut-off favours), ``best`` (per
        coverage: the leading method and whether it beats all-history counts; ``method`` is
        None when it does not), ``level``, ``res``, ``horizon_days``, ``cutoffs``.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    mask = analysis_mask(incidents, level=level, categories=categories,
                         include_non_spatial=include_non_spatial)
    inc = incidents.loc[mask, ["h3", "mahalla_id", "occurred_at"]].reset_index(drop=True)
    inc["h3"] = pd.to_numeric(inc["h3"], errors="coerce").fillna(0).astype(np.int64)
    inc["occurred_at"] = pd.to_datetime(inc["occurred_at"], utc=True)
    units = evaluation_units(mahallas, level=level, res=res)
    if cutoff is None:
        if inc.empty:
            raise ValueError("no incidents to evaluate on")
        last = (inc["occurred_at"].max() - pd.Timedelta(days=horizon_days)).floor("D")
    else:
        last = _utc(cutoff)
    if folds > 1:
        res_ = backtest(inc, units, folds=folds, horizon_days=horizon_days, last_cutoff=last,
                        params=params, tune=tune, grid=grid, replicates=replicates, seed=seed)
        cutoffs = [f["cutoff"] for f in res_["folds"]]
    else:
        res_ = evaluate_forecast(inc, units, last, horizon_days=horizon_days, params=params,
                                 tune=tune, grid=grid, replicates=replicates, seed=seed)
        cutoffs = [res_.pop("cutoff")]
    res_.update({"level": level, "res": res if level == "h3" else None,
                 "horizon_days": int(horizon_days), "folds_n": int(max(folds, 1)),
                 "cutoffs": [str(pd.Timestamp(c).date()) for c in cutoffs]})
    return res_
