"""Hotspot forecasts scored by hit rate, PAI and PEI*: nested tuning, baselines, bootstrap.

Methods (:data:`METHODS`): naive recent counts, a Gaussian KDE with time decay, Gi*, a
near-repeat kernel, a long-term/recent blend and a self-exciting point process; baselines
(:data:`BASELINES`): all-history counts and a plain 200 m KDE. Each method's parameters are
chosen by a rolling backtest on the incidents before the cut-off only
(:mod:`geo.forecast_tune`); every figure gets a bootstrap interval from resampling the test
incidents (:mod:`geo.forecast_metrics`), and a best method is named only when it beats
all-history counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import geopandas as gpd
import h3ronpy
import shapely
from h3ronpy.vector import ContainmentMode, coordinates_to_cells, wkb_to_cells

from riskmap.geo.aggregate import parent_cells, sorted_unique, unit_codes
from riskmap.geo.forecast_kernel import hex_kde
from riskmap.geo.forecast_methods import (
    BASELINES,
    DAY_NS,
    METHODS,
    ForecastGrid,
    ForecastParams,
    History,
    Units,
    candidates,
    fit_sepp,
)
from riskmap.geo.forecast_metrics import (
    Replicates,
    replicate_scores,
    score_selection,
    select_units,
)
from riskmap.geo.forecast_tune import Choice, tune
from riskmap.geo.hotspots import h3_weights, mahalla_weights
from riskmap.geo.points import xy
from riskmap.geo.surface import utm_crs

__all__ = [
    "ALL_METHODS",
    "BASELINES",
    "COVERAGES",
    "METHODS",
    "ForecastGrid",
    "ForecastParams",
    "History",
    "Units",
    "backtest",
    "describe_params",
    "evaluate_forecast",
    "h3_units",
    "hex_kde",
    "mahalla_units",
    "method_scores",
    "score_selection",
    "select_units",
    "tune_params",
]

COVERAGES = (0.01, 0.02, 0.05, 0.10)
#: every method evaluate scores by default: the forecasts, then the baselines
ALL_METHODS = METHODS + BASELINES
#: the area share whose PAI the nested backtest maximises (the headline figure)
TUNE_COVERAGES = (0.05,)
#: the reference a best method has to beat
REFERENCE = "counts"
_METRICS = ("hit_rate", "pai", "pei")
_UPPER = {"hit_rate": 1.0, "pai": np.inf, "pei": 1.0}


_PARAM_TEXT = {
    "bandwidth_m": ("bandwidth", "{:g} m"),
    "half_life_days": ("half-life", "{:g} d"),
    "lookback_days": ("history", "{:g} d"),
    "gi_lookback_days": ("history", "{:g} d"),
    "nr_bandwidth_m": ("bandwidth", "{:g} m"),
    "nr_tau_days": ("decay", "{:g} d"),
    "blend_bandwidth_m": ("bandwidth", "{:g} m"),
    "blend_recent_days": ("recent", "{:g} d"),
    "blend_weight": ("recent weight", "{:.2f}"),
    "sepp_bandwidth_m": ("background", "{:g} m"),
    "sepp_lookback_days": ("history", "{:g} d"),
    "shrink_bandwidth_m": ("towards a KDE of", "{:g} m"),
    "shrink_half_life_days": ("half-life", "{:g} d"),
    "shrink_k_years": ("prior weight", "{:g} years"),
    "adaptive_bandwidth_m": ("pilot bandwidth", "{:g} m"),
    "adaptive_half_life_days": ("half-life", "{:g} d"),
}
_NONE_TEXT = {"half_life_days": "no decay", "shrink_half_life_days": "no decay",
              "adaptive_half_life_days": "no decay"}


def describe_params(params: dict[str, Any]) -> str:
    """A method's parameters in words (the ``params`` of a row or of ``chosen``).

    Examples
    --------
    >>> describe_params({"bandwidth_m": 100.0, "half_life_days": 730.0, "lookback_days": None})
    'bandwidth 100 m, half-life 730 d, history all'
    >>> describe_params({"half_life_days": None}), describe_params({})
    ('no decay', 'fixed')
    """
    parts = []
    for key, value in params.items():
        label, spec = _PARAM_TEXT.get(key, (key, "{}"))
        if value is None:
            parts.append(_NONE_TEXT.get(key, f"{label} all"))
        else:
            parts.append(f"{label} {spec.format(value)}")
    return ", ".join(parts) or "fixed"


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
    cells = sorted_unique(np.asarray(cells, dtype=np.int64))
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


# --------------------------------------------------------------------------- fitting


def _ns(ts: pd.Timestamp | str) -> int:
    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _check_methods(methods: Sequence[str]) -> list[str]:
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown method {bad[0]!r}; expected one of {ALL_METHODS}")
    return list(methods)


def _choose(h: History, methods: Sequence[str], cutoff: int, horizon_days: int, *,
            tune_: bool, grid: ForecastGrid | None, params: ForecastParams,
            coverages: Sequence[float], folds: int | None) -> dict[str, Choice]:
    grid = grid if tune_ and grid is not None else (ForecastGrid() if tune_ else
                                                     ForecastGrid.fixed(params))
    return {m: tune(h, m, cutoff, horizon_days, grid=grid, defaults=params,
                    coverages=coverages, folds=folds) if tune_
            else Choice(m, params.of(m), False, float("nan"), 0, 1)
            for m in methods}


def _with(params: ForecastParams, choice: Choice) -> ForecastParams:
    return replace(params, **choice.params)


def tune_params(
    units: Units,
    incidents: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int = 28,
    methods: Sequence[str] = ALL_METHODS,
    grid: ForecastGrid | None = None,
    params: ForecastParams | None = None,
    coverages: Sequence[float] = TUNE_COVERAGES,
    folds: int | None = None,
) -> dict[str, Choice]:
    """Each method's parameters, chosen by a rolling backtest on incidents before ``cutoff``.

    Use it for the live forecast: with ``cutoff`` = now, the chosen parameters (and the
    method with the best ``Choice.score``) come from the history alone.

    Parameters
    ----------
    units, incidents, cutoff, horizon_days
        As in :func:`evaluate_forecast`.
    methods
        Methods to tune (fixed ones are scored on the same inner folds).
    grid
        Candidate values (default :class:`ForecastGrid`).
    params
        Defaults kept where there is too little history.
    coverages
        Area shares whose mean PAI is maximised.
    folds
        Inner folds (default: enough to cover a year, 3 to 12).

    Returns
    -------
    dict
        Method -> :class:`~geo.forecast_tune.Choice`.
    """
    h = History.from_frame(units, incidents)
    return {m: tune(h, m, _ns(cutoff), horizon_days, grid=grid or ForecastGrid(),
                    defaults=params or ForecastParams(), coverages=coverages, folds=folds)
            for m in _check_methods(methods)}


def method_scores(
    method: str,
    units: Units,
    incidents: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int = 28,
    params: ForecastParams | None = None,
    tune: bool = False,
    grid: ForecastGrid | None = None,
) -> np.ndarray:
    """Risk score per unit from incidents strictly before ``cutoff``.

    Methods
    -------
    naive
        Count in the last ``horizon_days`` before the cut-off.
    counts
        All-history count (per km² for mahallas).
    kde_200m
        Plain Gaussian KDE, 200 m, all history.
    kde
        Gaussian KDE (``bandwidth_m``, events of the last ``lookback_days`` weighted by a
        ``half_life_days`` decay), averaged over the unit's res-9 lattice (:func:`hex_kde`).
    gi
        Gi* z-score of counts in the last ``gi_lookback_days`` (per km² for mahallas).
    near_repeat
        Prospective hotspotting (Bowers, Johnson & Pease 2004 style): every recent event adds
        ``exp(-age / nr_tau_days) * Gaussian(distance, nr_bandwidth_m)``.
    blend
        ``(1 - blend_weight)`` x all-history KDE + ``blend_weight`` x KDE of the last
        ``blend_recent_days`` (each scaled to sum 1).
    sepp
        Expected incidents over the horizon from a self-exciting point process
        (:class:`~geo.forecast_sepp.SelfExcitingProcess`, background ``sepp_bandwidth_m``).

    Parameters
    ----------
    method
        One of :data:`ALL_METHODS`.
    units
        From :func:`h3_units` or :func:`mahalla_units`.
    incidents
        ``occurred_at`` (UTC), ``h3`` (res 9), and ``mahalla_id`` for mahalla units.
    cutoff
        Forecast time.
    horizon_days
        Forecast horizon (the naive window; the tuning's test window).
    params
        :class:`ForecastParams` (the values used without ``tune``).
    tune
        Choose the parameters first by :func:`tune_params` (keyword-only).
    grid
        Candidates for ``tune``.

    Returns
    -------
    numpy.ndarray
        float score per unit (higher = riskier).
    """
    _check_methods([method])
    params = params or ForecastParams()
    h = History.from_frame(units, incidents)
    c = _ns(cutoff)
    if tune:
        choice = _choose(h, [method], c, horizon_days, tune_=True, grid=grid, params=params,
                         coverages=TUNE_COVERAGES, folds=None)[method]
        params = _with(params, choice)
    return next(iter(candidates(method, h, c, horizon_days, ForecastGrid.fixed(params))))[1]


# --------------------------------------------------------------------------- evaluation


def _interval(samples: np.ndarray, confidence: float, estimate: float,
              upper: float = np.inf) -> tuple[float, float]:
    """Bias-corrected percentile interval: the percentiles shifted by ``mean - estimate``.

    The shift matters for PEI*: the best possible hits of resampled incidents are biased
    upwards (the top units of a noisy count look better than they are), so the plain
    percentile interval of PEI* would sit below the estimate. For hit rate, PAI and
    differences of PAI (linear in the counts) the shift is ~0.
    """
    v = np.asarray(samples, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    a = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(v, [a, 100 - a]) - (v.mean() - estimate)
    return float(lo), float(min(hi, max(upper, estimate)))


def _evaluate_at(h: History, cutoff: int, *, horizon_days: int, methods: list[str],
                 coverages: Sequence[float], choices: dict[str, Choice],
                 params: ForecastParams, replicates: int, seed: int,
                 confidence: float) -> dict[str, Any]:
    """One fold: scores, point figures, bootstrap replicates (under ``_reps``)."""
    area = h.units.area
    test = slice(int(np.searchsorted(h.t, cutoff)),
                 int(np.searchsorted(h.t, cutoff + horizon_days * DAY_NS)))
    counts = h.unit_counts(test)
    rep = Replicates(counts, area, replicates, seed=seed)
    rows, reps = [], {}
    for m in methods:
        used = _with(params, choices[m])
        scores = next(iter(candidates(m, h, cutoff, horizon_days, ForecastGrid.fixed(used))))[1]
        for cov in coverages:
            r = score_selection(scores, area, counts, cov)
            sel = select_units(scores, area, cov)
            boot = replicate_scores(rep, sel, cov, r["area_share"])
            reps[(m, cov)] = boot
            row: dict[str, Any] = {"method": m, "coverage": cov, "hit_rate": r["hit_rate"],
                                   "pai": r["pai"], "pei": r["pei"],
                                   "area_share": r["area_share"]}
            for k, b in zip(_METRICS, boot, strict=True):
                row[f"{k}_lo"], row[f"{k}_hi"] = _interval(b, confidence, row[k], _UPPER[k])
            row["params"] = used.of(m)
            rows.append(row)
    chosen = {m: choices[m].as_dict() for m in methods}
    if "sepp" in chosen:
        chosen["sepp"]["fit"] = _sepp_fit(h, cutoff, _with(params, choices["sepp"]))
    return {"cutoff": pd.Timestamp(cutoff, tz="UTC"), "test_incidents": int(counts.sum()),
            "methods": rows, "chosen": chosen, "recommended": _recommend(choices, rows),
            "_reps": reps}


def _recommend(choices: dict[str, Choice], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The method the history before the cut-off favours (best inner score), and its scores.

    This is the honest pick for the next period: made without the test window, unlike the
    verdict's leader (the best on the test window itself). Ties go to all-history counts.
    """
    scored = {m: c.score for m, c in choices.items() if np.isfinite(c.score)}
    if not scored:
        return {"method": None, "inner_score": None, "pai": {}}
    # ties go to all-history counts, the reference, then to the order of the methods
    m = max(sorted(scored, key=lambda k: k != REFERENCE), key=lambda k: scored[k])
    return {"method": m, "inner_score": scored[m],
            "pai": {f"{float(r['coverage']):g}": r["pai"] for r in rows if r["method"] == m}}


def _sepp_fit(h: History, cutoff: int, params: ForecastParams) -> dict[str, float | None]:
    """The fitted process behind the ``sepp`` scores (from the memo), in readable units."""
    proc, _ = fit_sepp(h, cutoff, params.sepp_bandwidth_m, params.sepp_lookback_days)
    if proc.theta_ is None or proc.p_background_ is None:
        return {"offspring": None, "trigger_days": None, "trigger_m": None,
                "background_share": None}
    return {"offspring": proc.theta_, "trigger_days": 1.0 / (proc.omega_ or np.inf),
            "trigger_m": 1000.0 * (proc.sigma_km_ or 0.0),
            "background_share": float(np.mean(proc.p_background_))
            if proc.p_background_.size else None}


def _verdict(rows: list[dict[str, Any]], reps: dict[tuple[str, float], np.ndarray],
             coverages: Sequence[float], confidence: float) -> dict[str, dict[str, Any]]:
    """Per coverage: the highest-PAI method, and whether it beats all-history counts.

    It beats counts when its PAI is higher and the paired bootstrap interval of the
    difference (same resampled test incidents for both) lies above 0.
    """
    out = {}
    for cov in coverages:
        at = {r["method"]: r["pai"] for r in rows if r["coverage"] == cov
              and r["pai"] is not None and np.isfinite(r["pai"])}
        rivals = {m: p for m, p in at.items() if m != REFERENCE}
        if not rivals:
            continue
        leader = max(rivals, key=lambda m: rivals[m])
        v: dict[str, Any] = {"method": leader, "leader": leader, "pai": rivals[leader],
                             "counts_pai": at.get(REFERENCE), "diff": None, "diff_lo": None,
                             "diff_hi": None, "beats_counts": None}
        if REFERENCE in at:
            diff = reps[(leader, cov)] - reps[(REFERENCE, cov)]
            d = rivals[leader] - at[REFERENCE]
            lo, hi = _interval(diff, confidence, d)
            beats = bool(d > 0 and np.isfinite(lo) and lo > 0)
            v.update({"diff": d, "diff_lo": lo, "diff_hi": hi, "beats_counts": beats,
                      "method": leader if beats else None})
        out[f"{float(cov):g}"] = v
    return out


def _settings(cutoff: pd.Timestamp | str | int, horizon_days: int,
              methods: Sequence[str]) -> tuple[int, list[str]]:
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    return (cutoff if isinstance(cutoff, int) else _ns(cutoff)), _check_methods(methods)


def evaluate_forecast(
    incidents: pd.DataFrame,
    units: Units,
    cutoff: pd.Timestamp | str,
    *,
    horizon_days: int = 28,
    methods: Sequence[str] = ALL_METHODS,
    coverages: Sequence[float] = COVERAGES,
    params: ForecastParams | None = None,
    tune: bool = True,
    grid: ForecastGrid | None = None,
    tune_folds: int | None = None,
    tune_coverages: Sequence[float] = TUNE_COVERAGES,
    replicates: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit every method on data before ``cutoff`` and score it on the next ``horizon_days``.

    With ``tune`` each method's parameters are first chosen by a rolling backtest on the
    incidents before the cut-off (:func:`tune_params`); the test window is never seen.

    Parameters
    ----------
    incidents
        ``occurred_at`` (UTC), ``h3`` (res 9), and ``mahalla_id`` for mahalla units.
    units
        From :func:`h3_units` or :func:`mahalla_units`.
    cutoff
        Forecast time.
    horizon_days
        Test window.
    methods
        Methods to score (default: :data:`ALL_METHODS`).
    coverages
        Area shares.
    params
        Parameter values used without ``tune`` (and where history is too short to tune).
    tune
        Choose parameters by the nested backtest (keyword-only; default True).
    grid
        Candidate values (default :class:`ForecastGrid`).
    tune_folds
        Inner folds (default: enough to cover a year, 3 to 12).
    replicates
        Bootstrap replicates (resampled test incidents) for the intervals; 0 for none.
    confidence
        Interval level.
    seed
        Bootstrap seed.

    Returns
    -------
    dict
        ``cutoff``, ``test_incidents`` (incidents in ``[cutoff, cutoff + horizon)`` that
        fall in a unit), ``methods`` (one row per method and coverage: ``method``,
        ``coverage``, ``hit_rate``, ``pai``, ``pei``, ``area_share``, ``*_lo``/``*_hi``
        interval bounds, ``params``), ``chosen`` (method -> what the tuning chose),
        ``recommended`` (the method with the best inner score, picked without the test
        window, and its PAI per coverage), ``best`` (coverage -> verdict against
        all-history counts on the test window: ``method`` is None unless the leader beats
        counts), ``bootstrap`` (replicates, confidence, seed).
    """
    params = params or ForecastParams()
    c, methods = _settings(cutoff, horizon_days, methods)
    h = History.from_frame(units, incidents)
    choices = _choose(h, methods, c, horizon_days, tune_=tune, grid=grid, params=params,
                      coverages=tune_coverages, folds=tune_folds)
    res = _evaluate_at(h, c, horizon_days=horizon_days, methods=methods, coverages=coverages,
                       choices=choices, params=params, replicates=replicates, seed=seed,
                       confidence=confidence)
    reps = res.pop("_reps")
    pai_reps = {k: v[1] for k, v in reps.items()}
    res["best"] = _verdict(res["methods"], pai_reps, coverages, confidence)
    res["bootstrap"] = {"replicates": int(replicates), "confidence": confidence, "seed": seed}
    return res


def _nanmean(values: list[Any]) -> float:
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def _last_cutoff(incidents: pd.DataFrame, horizon_days: int,
                 last_cutoff: pd.Timestamp | str | None) -> pd.Timestamp:
    if last_cutoff is not None:
        return pd.Timestamp(_ns(last_cutoff), tz="UTC")
    latest = pd.Timestamp(incidents["occurred_at"].max())
    latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest.tz_convert("UTC")
    return (latest - pd.Timedelta(days=horizon_days)).floor("D")


def _summary_rows(folds: list[dict[str, Any]], reps: list[dict], methods: list[str],
                  coverages: Sequence[float], confidence: float
                  ) -> tuple[list[dict[str, Any]], dict[tuple[str, float], np.ndarray]]:
    """Means and spreads over folds; intervals from fold-averaged bootstrap replicates."""
    detail = pd.DataFrame([r for f in folds for r in f["methods"]])
    rows, pai_reps = [], {}
    for m in methods:
        for cov in coverages:
            g = detail[(detail["method"] == m) & (detail["coverage"] == cov)]
            row: dict[str, Any] = {"method": m, "coverage": float(cov)}
            for i, k in enumerate(_METRICS):
                v = g[k].to_numpy(dtype=float)
                v = v[np.isfinite(v)]
                row[k] = float(v.mean()) if v.size else np.nan
                row[f"{k}_std"] = float(v.std()) if v.size else np.nan
                per_fold = [r[(m, cov)][i] for r in reps if r[(m, cov)][i].size]
                avg = (np.nanmean(np.vstack(per_fold), axis=0) if per_fold
                       else np.zeros(0))
                row[f"{k}_lo"], row[f"{k}_hi"] = _interval(avg, confidence, row[k], _UPPER[k])
                if k == "pai":
                    pai_reps[(m, cov)] = avg
            rows.append(row)
    return rows, pai_reps


def backtest(
    incidents: pd.DataFrame,
    units: Units,
    *,
    folds: int = 4,
    horizon_days: int = 28,
    last_cutoff: pd.Timestamp | str | None = None,
    methods: Sequence[str] = ALL_METHODS,
    coverages: Sequence[float] = COVERAGES,
    params: ForecastParams | None = None,
    tune: bool = True,
    grid: ForecastGrid | None = None,
    tune_folds: int | None = None,
    tune_coverages: Sequence[float] = TUNE_COVERAGES,
    replicates: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Rolling-origin backtest over ``folds`` cut-offs, each ``horizon_days`` apart.

    The last cut-off defaults to the day (UTC midnight) ``horizon_days`` before the latest
    incident, so its test window is complete; earlier cut-offs step back by the horizon. At
    each cut-off the parameters are chosen again from the history before it (nested); the
    folds share the kernels and the inner scores they have in common.

    Returns
    -------
    dict
        ``test_incidents`` (total), ``methods`` (means over folds with ``*_std`` spreads
        and ``*_lo``/``*_hi`` intervals of the fold mean, from the fold-averaged bootstrap
        replicates), ``best`` (verdict per coverage, as in :func:`evaluate_forecast`),
        ``chosen`` (method -> the latest fold's choice plus ``per_fold`` parameters),
        ``recommended`` (the latest fold's nested pick, the pick per fold, and the picks'
        PAI averaged over the folds), ``folds`` (:func:`evaluate_forecast` per cut-off),
        ``bootstrap``.
    """
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    params = params or ForecastParams()
    last = _last_cutoff(incidents, horizon_days, last_cutoff)
    _, methods = _settings(last, horizon_days, methods)
    h = History.from_frame(units, incidents)
    cutoffs = [last - pd.Timedelta(days=horizon_days * k) for k in range(folds)][::-1]
    fold_res, reps = [], []
    for i, cut in enumerate(cutoffs):
        c = _ns(cut)
        choices = _choose(h, methods, c, horizon_days, tune_=tune, grid=grid, params=params,
                          coverages=tune_coverages, folds=tune_folds)
        res = _evaluate_at(h, c, horizon_days=horizon_days, methods=methods,
                           coverages=coverages, choices=choices, params=params,
                           replicates=replicates, seed=seed + i, confidence=confidence)
        reps.append(res.pop("_reps"))
        res["best"] = _verdict(res["methods"], {k: v[1] for k, v in reps[-1].items()},
                               coverages, confidence)
        fold_res.append(res)
    rows, pai_reps = _summary_rows(fold_res, reps, methods, coverages, confidence)
    chosen = {m: fold_res[-1]["chosen"][m] | {"per_fold": [f["chosen"][m]["params"]
                                                          for f in fold_res]}
              for m in methods}
    picks = [f["recommended"] for f in fold_res]
    recommended = {
        "method": picks[-1]["method"], "inner_score": picks[-1]["inner_score"],
        "per_fold": [p["method"] for p in picks],
        # the nested pick's own out-of-sample figures: its PAI averaged over the folds
        "pai": {f"{float(c):g}": _nanmean([p["pai"].get(f"{float(c):g}") for p in picks])
                for c in coverages},
    }
    return {
        "test_incidents": int(sum(f["test_incidents"] for f in fold_res)),
        "methods": rows,
        "best": _verdict(rows, pai_reps, coverages, confidence),
        "chosen": chosen,
        "recommended": recommended,
        "folds": fold_res,
        "bootstrap": {"replicates": int(replicates), "confidence": confidence, "seed": seed},
    }
