"""Forecast methods: units, parameters and grids, and the scores each method gives at a cut-off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from libpysal.weights import W

from riskmap.geo.aggregate import parent_cells, sorted_unique, unit_codes
from riskmap.geo.forecast_kernel import KernelBank, cell_centres, local_km
from riskmap.geo.forecast_sepp import SelfExcitingProcess, TriggerPairs, trigger_pairs
from riskmap.geo.hotspots import gi_star_z

__all__ = [
    "ADAPTIVE_LEVELS_M",
    "BASELINES",
    "METHODS",
    "METHOD_PARAMS",
    "ForecastGrid",
    "ForecastParams",
    "History",
    "Units",
    "adaptive_levels",
    "candidates",
    "exposure_years",
    "shrunk_rates",
]

#: the forecast methods; the ones with parameters are tuned by the nested backtest
METHODS = ("naive", "kde", "gi", "near_repeat", "blend", "sepp", "shrink", "adaptive")
#: fixed reference methods a forecast has to beat
BASELINES = ("counts", "kde_200m")
#: which :class:`ForecastParams` fields each method uses
METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "naive": (),
    "counts": (),
    "kde_200m": (),
    "kde": ("bandwidth_m", "half_life_days", "lookback_days"),
    "gi": ("gi_lookback_days",),
    "near_repeat": ("nr_bandwidth_m", "nr_tau_days"),
    "blend": ("blend_bandwidth_m", "blend_recent_days", "blend_weight"),
    "sepp": ("sepp_bandwidth_m", "sepp_lookback_days"),
    "shrink": ("shrink_bandwidth_m", "shrink_half_life_days", "shrink_k_years"),
    "adaptive": ("adaptive_bandwidth_m", "adaptive_half_life_days"),
}
DAY_NS = 86_400 * 10**9
_BASELINE_BANDWIDTH_M = 200.0


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
        Binary contiguity weights (for Gi*): a libpysal ``W`` or a sparse matrix.
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
    w: W | sp.spmatrix
    lattice: np.ndarray
    lattice_unit: np.ndarray
    resolution: int | None = None


@dataclass(frozen=True)
class ForecastParams:
    """Method parameters (the values used when a method is not tuned).

    Parameters
    ----------
    lookback_days
        History used by ``kde`` (None: all of it; default 365).
    bandwidth_m
        Gaussian bandwidth of ``kde`` (default 400 m).
    half_life_days
        Time decay of ``kde``: an event ``a`` days old weighs ``0.5 ** (a / half_life)``
        (None: no decay).
    gi_lookback_days
        History used by ``gi`` (None: all; default 365).
    nr_bandwidth_m, nr_tau_days
        Near-repeat kernel: spatial bandwidth and time constant of ``exp(-age / tau)``;
        events older than ``6 tau`` are ignored.
    blend_bandwidth_m, blend_recent_days, blend_weight
        ``blend`` = ``(1 - weight) x`` all-history KDE ``+ weight x`` KDE of the last
        ``recent_days``, each scaled to sum 1 over the units.
    sepp_bandwidth_m, sepp_lookback_days
        Background bandwidth of the self-exciting process, and the history it is fitted on
        (None: all).
    shrink_bandwidth_m, shrink_half_life_days, shrink_k_years
        ``shrink`` (empirical Bayes): each unit's decayed count shrunk towards a KDE of the
        same events, ``(count + k x smooth rate) / (exposure + k)``, ``k`` in years of history.
    adaptive_bandwidth_m, adaptive_half_life_days
        ``adaptive``: Abramson's adaptive KDE, pilot bandwidth and time decay (the local
        bandwidth is ``bandwidth x (pilot density / its geometric mean) ** -1/2``).
    """

    lookback_days: int | None = 365
    bandwidth_m: float = 400.0
    half_life_days: float | None = None
    gi_lookback_days: int | None = 365
    nr_bandwidth_m: float = 300.0
    nr_tau_days: float = 14.0
    blend_bandwidth_m: float = 200.0
    blend_recent_days: int = 365
    blend_weight: float = 0.3
    sepp_bandwidth_m: float = 300.0
    sepp_lookback_days: int | None = None
    shrink_bandwidth_m: float = 400.0
    shrink_half_life_days: float | None = 730.0
    shrink_k_years: float = 1.0
    adaptive_bandwidth_m: float = 200.0
    adaptive_half_life_days: float | None = 730.0

    def of(self, method: str) -> dict[str, Any]:
        """The parameters ``method`` uses, as a dict (empty for fixed methods)."""
        return {k: getattr(self, k) for k in METHOD_PARAMS.get(method, ())}


@dataclass(frozen=True)
class ForecastGrid:
    """The candidate values the nested backtest chooses from, per parameter.

    The defaults span counts-like kernels (50 m, below the res-9 cell spacing) to smooth
    ones (800 m), no decay to a one-month half-life, and one year to all of the history.
    A one-value tuple fixes a parameter (see :meth:`fixed`).
    """

    bandwidth_m: tuple[float, ...] = (50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 800.0)
    half_life_days: tuple[float | None, ...] = (None, 1461.0, 730.0, 365.0, 182.0, 91.0, 30.0)
    lookback_days: tuple[int | None, ...] = (None, 1826, 730, 365)
    gi_lookback_days: tuple[int | None, ...] = (None, 1826, 730, 365)
    nr_bandwidth_m: tuple[float, ...] = (100.0, 200.0, 300.0, 400.0, 600.0)
    nr_tau_days: tuple[float, ...] = (3.0, 7.0, 14.0, 30.0, 60.0)
    blend_bandwidth_m: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0)
    blend_recent_days: tuple[int, ...] = (30, 91, 365)
    blend_weight: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    sepp_bandwidth_m: tuple[float, ...] = (100.0, 200.0, 400.0)
    sepp_lookback_days: tuple[int | None, ...] = (None, 730)
    shrink_bandwidth_m: tuple[float, ...] = (200.0, 400.0, 800.0)
    shrink_half_life_days: tuple[float | None, ...] = (None, 1461.0, 730.0, 365.0)
    shrink_k_years: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
    adaptive_bandwidth_m: tuple[float, ...] = (100.0, 150.0, 200.0, 300.0, 400.0)
    adaptive_half_life_days: tuple[float | None, ...] = (None, 1461.0, 730.0, 365.0)

    @classmethod
    def fixed(cls, params: ForecastParams) -> ForecastGrid:
        """A grid holding only the values of ``params`` (no tuning)."""
        return cls(**{f.name: (getattr(params, f.name),) for f in fields(cls)})

    def fix(self, **values: Any) -> ForecastGrid:
        """This grid with the named parameters fixed to one value."""
        return replace(self, **{k: (v,) for k, v in values.items()})

    def size(self, method: str) -> int:
        """Number of candidates of ``method``."""
        return int(np.prod([len(getattr(self, k)) for k in METHOD_PARAMS.get(method, ())]))


@dataclass
class History:
    """Incidents prepared once for every fold and candidate: time-sorted arrays and kernels.

    Attributes
    ----------
    units
        The units.
    t
        Occurrence times (int64 ns UTC), ascending.
    codes
        Unit position per incident (-1: outside the units).
    src
        Position of the incident's res-9 cell in ``bank.sources`` (-1: no cell).
    bank
        The kernel operators (:class:`~geo.forecast_kernel.KernelBank`).
    cache
        Memo of tuning scores and fitted processes, shared by the folds of a backtest.
    """

    units: Units
    t: np.ndarray
    codes: np.ndarray
    src: np.ndarray
    bank: KernelBank
    cache: dict[Any, Any] = field(default_factory=dict)
    _pairs: TriggerPairs | None = None

    @classmethod
    def from_frame(cls, units: Units, incidents: pd.DataFrame) -> History:
        """From ``occurred_at`` (UTC), ``h3`` (res 9) and, for mahallas, ``mahalla_id``."""
        occ = incidents["occurred_at"]
        if isinstance(occ.dtype, pd.DatetimeTZDtype):
            occ = occ.dt.tz_convert("UTC").dt.tz_localize(None)
        t = occ.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        cells = np.array(incidents["h3"].to_numpy(dtype=np.int64), copy=True)
        if units.kind == "h3":
            c = cells if units.resolution == 9 else parent_cells(cells, units.resolution or 9)
            codes = unit_codes(c, units.ids)
        else:
            codes = unit_codes(incidents["mahalla_id"].to_numpy(), units.ids)
        ok_t = t != np.iinfo(np.int64).min  # NaT
        order = np.argsort(np.where(ok_t, t, np.iinfo(np.int64).max), kind="stable")
        order = order[ok_t[order]]
        t, cells, codes = t[order], cells[order], codes[order]
        sources = sorted_unique(cells[cells != 0])
        src = np.where(cells != 0, np.searchsorted(sources, cells), -1)
        bank = KernelBank(sources, units.lattice, units.lattice_unit, units.ids.size)
        return cls(units, t, codes, src.astype(np.int64), bank)

    @property
    def equal_area(self) -> bool:
        """Whether every unit has the same area (H3 units)."""
        a = self.units.area
        return bool(a.size == 0 or np.all(a == a[0]))

    def span(self, cutoff: int, days: float | None) -> slice:
        """Positions of the incidents in ``[cutoff - days, cutoff)`` (None: all before)."""
        hi = int(np.searchsorted(self.t, cutoff, side="left"))
        lo = 0 if days is None else int(np.searchsorted(self.t, cutoff - int(days * DAY_NS)))
        return slice(lo, hi)

    def unit_counts(self, sl: slice, weights: np.ndarray | None = None) -> np.ndarray:
        """Incidents (or weights) per unit over the positions ``sl``."""
        codes = self.codes[sl]
        ok = codes >= 0
        w = None if weights is None else weights[ok]
        return np.bincount(codes[ok], weights=w, minlength=self.units.ids.size).astype(float)

    def mass(self, sl: slice, weights: np.ndarray | None = None) -> np.ndarray:
        """Incidents (or weights) per kernel source cell over the positions ``sl``."""
        s = self.src[sl]
        ok = s >= 0
        w = None if weights is None else weights[ok]
        return np.bincount(s[ok], weights=w, minlength=self.bank.sources.size).astype(float)

    def age_days(self, sl: slice, cutoff: int) -> np.ndarray:
        """Age at the cut-off, in days, of the incidents at ``sl``."""
        return (cutoff - self.t[sl]) / DAY_NS

    def pairs(self, max_km: float, max_days: float) -> TriggerPairs:
        """Trigger pairs of all incidents (computed once)."""
        if self._pairs is None:
            lat, lon = cell_centres(self.bank.sources)
            x, y = local_km(lat, lon)
            placed = self.src >= 0
            ex = np.where(placed, x[np.maximum(self.src, 0)] if x.size else 0.0, np.nan)
            ey = np.where(placed, y[np.maximum(self.src, 0)] if y.size else 0.0, np.nan)
            self._pairs = trigger_pairs(self.t / DAY_NS, ex, ey, max_km=max_km,
                                        max_days=max_days)
        return self._pairs


Candidate = tuple[dict[str, Any], np.ndarray]


def _density(h: History, counts: np.ndarray) -> np.ndarray:
    return counts if h.equal_area else counts / np.maximum(h.units.area, 1e-9)


def _naive(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    yield {}, h.unit_counts(h.span(cutoff, horizon))


def _counts(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    yield {}, _density(h, h.unit_counts(h.span(cutoff, None)))


def _kde_200m(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    yield {}, h.bank.to_units(_BASELINE_BANDWIDTH_M, h.mass(h.span(cutoff, None)))


def _decay(age: np.ndarray, half_life: float | None) -> np.ndarray | None:
    return None if half_life is None else 0.5 ** (age / half_life)


def _kde(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    for lookback in g.lookback_days:
        sl = h.span(cutoff, lookback)
        age = h.age_days(sl, cutoff)
        masses = np.column_stack([h.mass(sl, _decay(age, hl)) for hl in g.half_life_days])
        for bw in g.bandwidth_m:
            dens = h.bank.to_units(bw, masses)
            for k, hl in enumerate(g.half_life_days):
                yield ({"bandwidth_m": bw, "half_life_days": hl, "lookback_days": lookback},
                       dens[:, k])


def _gi(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    for lookback in g.gi_lookback_days:
        counts = _density(h, h.unit_counts(h.span(cutoff, lookback)))
        yield {"gi_lookback_days": lookback}, gi_star_z(counts, h.units.w)


def _near_repeat(h: History, cutoff: int, horizon: int,
                 g: ForecastGrid) -> Iterator[Candidate]:
    for tau in g.nr_tau_days:
        sl = h.span(cutoff, 6 * tau)
        mass = h.mass(sl, np.exp(-h.age_days(sl, cutoff) / tau))
        for bw in g.nr_bandwidth_m:
            yield {"nr_bandwidth_m": bw, "nr_tau_days": tau}, h.bank.to_units(bw, mass)


def _unit_sum(v: np.ndarray) -> np.ndarray:
    s = v.sum(axis=0, keepdims=True)
    return v / np.where(s > 0, s, 1.0)


def _blend(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    masses = np.column_stack([h.mass(h.span(cutoff, None))]
                             + [h.mass(h.span(cutoff, r)) for r in g.blend_recent_days])
    for bw in g.blend_bandwidth_m:
        dens = _unit_sum(h.bank.to_units(bw, masses))
        for k, recent in enumerate(g.blend_recent_days, start=1):
            for w in g.blend_weight:
                yield ({"blend_bandwidth_m": bw, "blend_recent_days": recent, "blend_weight": w},
                       (1 - w) * dens[:, 0] + w * dens[:, k])


#: SEPP pair cut-offs (km, days): triggering beyond them is left to the background
SEPP_MAX_KM, SEPP_MAX_DAYS = 0.5, 90.0


#: EM steps: from scratch, from a fit with another bandwidth at the same cut-off, and from
#: the same settings at an earlier cut-off (fits along a backtest form a chain that keeps
#: converging, a few steps per cut-off)
SEPP_ITER = {"cold": 30, "other_bandwidth": 8, "earlier": 2}


def _sepp_start(h: History, key: tuple[Any, ...],
                sl: slice) -> tuple[SelfExcitingProcess | None, np.ndarray | None, str]:
    """The fit to warm-start from, its background probabilities on ``sl``, and the kind."""
    _, cutoff, bw, start = key
    fits = {k: v for k, v in h.cache.items() if k[0] == "sepp"}
    same = [k for k in fits if k[2] == bw and k[1] < cutoff and fits[k][1].start <= start]
    other = [k for k in fits if k[1] == cutoff and k[3] == start]
    if same:
        src, kind = fits[max(same)], "earlier"
    elif other:
        src, kind = fits[other[0]], "other_bandwidth"
    else:
        return None, None, "cold"
    warm, wsl = src
    if warm.p_background_ is None or not warm.p_background_.size:
        return warm, None, kind
    p_init = np.full(sl.stop - sl.start, float(np.mean(warm.p_background_)))
    lo, hi = max(sl.start, wsl.start), min(sl.stop, wsl.stop)
    if hi > lo:
        p_init[lo - sl.start:hi - sl.start] = warm.p_background_[lo - wsl.start:hi - wsl.start]
    return warm, p_init, kind


def fit_sepp(h: History, cutoff: int, bandwidth_m: float,
             lookback_days: int | None = None) -> tuple[SelfExcitingProcess, slice]:
    """The process fitted on the incidents of ``lookback_days`` before ``cutoff`` (memoised).

    A fit starts from an earlier one where it can (:data:`SEPP_ITER`), so the many cut-offs
    of a nested backtest cost a few EM steps each.
    """
    sl = h.span(cutoff, lookback_days)
    # a look-back reaching past the first incident is the same fit as all of the history
    key = ("sepp", int(cutoff), round(bandwidth_m), sl.start)
    got = h.cache.get(key)
    if got is not None:
        return got
    warm, p_init, kind = _sepp_start(h, key, sl)
    pairs = h.pairs(SEPP_MAX_KM, SEPP_MAX_DAYS).within(sl.start, sl.stop)
    proc = SelfExcitingProcess(bandwidth_m, max_trigger_km=SEPP_MAX_KM,
                               max_trigger_days=SEPP_MAX_DAYS, n_iter=SEPP_ITER[kind])
    t_days = h.t[sl] / DAY_NS
    if t_days.size and (h.src[sl] >= 0).any():
        start = None if lookback_days is None else (cutoff / DAY_NS - lookback_days)
        proc.fit(t_days, h.src[sl], pairs, h.bank.source_operator(bandwidth_m),
                 end_days=cutoff / DAY_NS, start_days=start, warm=warm, p_background=p_init)
    h.cache[key] = (proc, sl)
    return proc, sl


def _sepp(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    for lookback in g.sepp_lookback_days:
        for bw in g.sepp_bandwidth_m:
            prm = {"sepp_bandwidth_m": bw, "sepp_lookback_days": lookback}
            proc, sl = fit_sepp(h, cutoff, bw, lookback)
            if proc.background_ is None:
                yield prm, np.zeros(h.units.ids.size)
                continue
            bg = h.bank.to_units(bw, proc.background_) * (horizon / proc.span_days_)
            w = proc.trigger_weights(h.t[sl] / DAY_NS, cutoff / DAY_NS, horizon)
            sigma_m = 10.0 * round(100.0 * float(proc.sigma_km_ or 0.1))
            yield prm, bg + h.bank.to_units(sigma_m, h.mass(sl, w))


def exposure_years(span_days: float, half_life_days: float | None) -> float:
    """Years of history that ``span_days`` of decayed events are worth.

    With no decay, the span itself; with a half-life ``hl``, the integral of
    ``0.5 ** (age / hl)`` over ages 0..span (which tends to ``hl / ln 2``).

    Examples
    --------
    >>> exposure_years(730.0, None)
    2.0
    >>> round(exposure_years(1e9, 365.0 * np.log(2)), 6)
    1.0
    """
    span = max(float(span_days), 0.0)
    if half_life_days is None:
        return span / 365.0
    tau = half_life_days / np.log(2)
    return float(tau * -np.expm1(-span / tau) / 365.0)


def shrunk_rates(counts: np.ndarray, smooth: np.ndarray, area: np.ndarray,
                 exposure: float, k: float) -> np.ndarray:
    """Empirical-Bayes (Poisson-gamma) rates: counts shrunk towards a smooth surface.

    ``smooth`` is rescaled to the same total as ``counts`` (over ``area``) and turned into a
    rate per year; each unit's posterior mean rate is ``(count + k x smooth rate) /
    (exposure + k)``: ``k`` = 0 gives the counts, a large ``k`` the smooth surface.

    Examples
    --------
    >>> shrunk_rates(np.array([4.0, 0.0]), np.array([1.0, 1.0]), np.ones(2), 2.0, 2.0).tolist()
    [1.5, 0.5]
    """
    total = float(np.sum(smooth * area))
    rate = smooth * (float(np.sum(counts * area)) / total if total > 0 else 0.0)
    rate = rate / exposure if exposure > 0 else rate
    return (counts + k * rate) / (exposure + k)


def _shrink(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    sl = h.span(cutoff, None)
    age = h.age_days(sl, cutoff)
    span = float(age.max()) if age.size else 0.0
    for hl in g.shrink_half_life_days:
        w = _decay(age, hl)
        counts = _density(h, h.unit_counts(sl, w))
        mass = h.mass(sl, w)
        expo = exposure_years(span, hl)
        for bw in g.shrink_bandwidth_m:
            smooth = h.bank.to_units(bw, mass)
            for k in g.shrink_k_years:
                yield ({"shrink_bandwidth_m": bw, "shrink_half_life_days": hl,
                        "shrink_k_years": k},
                       shrunk_rates(counts, smooth, h.units.area, expo, k))


#: local bandwidths of ``adaptive`` are rounded to the nearest of these (log scale), so each
#: level is one cached sparse operator
ADAPTIVE_LEVELS_M = (50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 800.0, 1200.0)


def adaptive_levels(pilot: np.ndarray, mass: np.ndarray, bandwidth_m: float,
                    levels: tuple[float, ...] = ADAPTIVE_LEVELS_M) -> np.ndarray:
    """Abramson's local bandwidth per source, as a position in ``levels``.

    ``h_i = bandwidth x (pilot_i / g) ** -1/2``, ``g`` the mass-weighted geometric mean of
    the pilot density over the sources that hold mass; dense places get narrow kernels,
    sparse ones wide kernels. Sources with no pilot density get the widest level.

    Examples
    --------
    >>> adaptive_levels(np.array([4.0, 1.0, 0.25]), np.ones(3), 200.0).tolist()  # 100, 200, 400 m
    [2, 4, 6]
    """
    lv = np.log(np.asarray(levels, dtype=float))
    pilot = np.asarray(pilot, dtype=float)
    ok = (pilot > 0) & (mass > 0)
    if not ok.any():
        return np.full(pilot.size, int(np.argmin(np.abs(lv - np.log(bandwidth_m)))))
    log_g = float(np.average(np.log(pilot[ok]), weights=mass[ok]))
    log_h = np.log(bandwidth_m) - 0.5 * (np.log(np.where(pilot > 0, pilot, np.nan)) - log_g)
    log_h = np.nan_to_num(log_h, nan=lv[-1])
    # nearest level on the log scale
    return np.abs(log_h[:, None] - lv[None, :]).argmin(axis=1)


def _adaptive(h: History, cutoff: int, horizon: int, g: ForecastGrid) -> Iterator[Candidate]:
    sl = h.span(cutoff, None)
    age = h.age_days(sl, cutoff)
    for hl in g.adaptive_half_life_days:
        mass = h.mass(sl, _decay(age, hl))
        for bw in g.adaptive_bandwidth_m:
            pilot = np.asarray(h.bank.source_operator(bw) @ mass)
            level = adaptive_levels(pilot, mass, bw)
            score = np.zeros(h.units.ids.size)
            for j in np.unique(level[mass > 0]):
                score += h.bank.to_units(ADAPTIVE_LEVELS_M[j], np.where(level == j, mass, 0.0))
            yield {"adaptive_bandwidth_m": bw, "adaptive_half_life_days": hl}, score


_GENERATORS: dict[str, Callable[[History, int, int, ForecastGrid], Iterator[Candidate]]] = {
    "naive": _naive,
    "counts": _counts,
    "kde_200m": _kde_200m,
    "kde": _kde,
    "gi": _gi,
    "near_repeat": _near_repeat,
    "blend": _blend,
    "sepp": _sepp,
    "shrink": _shrink,
    "adaptive": _adaptive,
}


def candidates(method: str, history: History, cutoff: int, horizon_days: int,
               grid: ForecastGrid) -> Iterator[Candidate]:
    """``(params, scores)`` for every grid point of ``method``, from incidents before ``cutoff``.

    Scores are per unit, higher = riskier: kernel methods give the mean density (per km²)
    over the unit's res-9 lattice; ``counts`` the all-history count (per km² for
    mahallas); ``naive`` the count of the last ``horizon_days``; ``gi`` the Gi* z of the
    counts; ``sepp`` the expected incidents per km² over the horizon.

    Raises
    ------
    ValueError
        For an unknown method.
    """
    gen = _GENERATORS.get(method)
    if gen is None:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS + BASELINES}")
    return gen(history, int(cutoff), int(horizon_days), grid)


def scores_for(method: str, history: History, cutoff: int, horizon_days: int,
               params: ForecastParams) -> np.ndarray:
    """Scores of ``method`` with the parameters ``params``."""
    return next(iter(candidates(method, history, cutoff, horizon_days,
                                ForecastGrid.fixed(params))))[1]
