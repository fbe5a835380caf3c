"""Nested parameter choice: a rolling backtest on the history before a cut-off, per method."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskmap.geo.forecast_methods import (
    DAY_NS,
    METHOD_PARAMS,
    ForecastGrid,
    ForecastParams,
    History,
    candidates,
)
from riskmap.geo.forecast_metrics import budget_hits, budget_units, ranked_hits

__all__ = ["Choice", "inner_cutoffs", "objective", "tune"]


@dataclass(frozen=True)
class Choice:
    """What the nested backtest chose for one method.

    Attributes
    ----------
    method
        The method.
    params
        The chosen parameter values (empty for a fixed method).
    tuned
        False when the method has nothing to tune or no inner fold had data (the
        defaults were kept).
    score
        Mean inner-fold objective of the choice (NaN when no inner fold had data).
    folds
        Inner folds that had history and test incidents.
    candidates
        Grid points compared.
    """

    method: str
    params: dict[str, Any]
    tuned: bool
    score: float
    folds: int
    candidates: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"params": dict(self.params), "tuned": self.tuned, "inner_score": self.score,
                "inner_folds": self.folds, "candidates": self.candidates}


def inner_cutoffs(cutoff: int, horizon_days: int, folds: int | None = None) -> list[int]:
    """Cut-offs of the inner backtest, oldest first: ``cutoff - k * horizon``, k = folds..1.

    Their test windows ``[c, c + horizon)`` end at or before ``cutoff``, so the period a
    forecast is scored on is never seen. By default the inner windows cover at least a year
    (3 to 12 folds: 12 of 30 days, 3 of 365).

    Examples
    --------
    >>> [c // DAY_NS for c in inner_cutoffs(100 * DAY_NS, 30)][:2]
    [-260, -230]
    >>> len(inner_cutoffs(0, 365)), len(inner_cutoffs(0, 7))
    (3, 12)
    """
    if folds is None:
        folds = int(np.clip(np.ceil(365 / max(horizon_days, 1)), 3, 12))
    return [int(cutoff) - k * int(horizon_days) * DAY_NS for k in range(folds, 0, -1)]


def objective(scores: np.ndarray, area: np.ndarray, test_counts: np.ndarray,
              coverages: Sequence[float], *, equal_area: bool) -> float:
    """Mean PAI over ``coverages`` (the figure the nested backtest maximises).

    Examples
    --------
    >>> objective(np.array([3.0, 2, 1, 0]), np.ones(4), np.array([1, 1, 0, 0]), [0.25, 0.5],
    ...           equal_area=True)
    2.0
    """
    n = float(np.sum(test_counts))
    if n == 0:
        return float("nan")
    if equal_area:
        ks = [budget_units(area.size, c) for c in coverages]
        hits = ranked_hits(scores, test_counts, ks)
        return float(np.mean(hits / n / (np.asarray(ks) / area.size)))
    hits, share = budget_hits(scores, area, test_counts, coverages)
    return float(np.mean(hits / n / share))


def _fold_scores(h: History, method: str, cutoff: int, horizon: int, grid: ForecastGrid,
                 coverages: tuple[float, ...]) -> dict[tuple[Any, ...], tuple[dict, float]] | None:
    """Objective of every grid point at one inner cut-off (memoised in ``h.cache``)."""
    key = ("tune", method, cutoff, horizon, coverages, grid)
    if key in h.cache:
        return h.cache[key]
    train = h.span(cutoff, None)
    test = slice(train.stop, int(np.searchsorted(h.t, cutoff + horizon * DAY_NS)))
    counts = h.unit_counts(test)
    out: dict[tuple[Any, ...], tuple[dict, float]] | None = None
    history_days = (cutoff - h.t[0]) / DAY_NS if h.t.size else 0.0
    if train.stop > train.start and counts.sum() > 0 and history_days >= max(horizon, 28):
        out = {}
        for params, scores in candidates(method, h, cutoff, horizon, grid):
            out[tuple(params.items())] = (params, objective(
                scores, h.units.area, counts, coverages, equal_area=h.equal_area))
    h.cache[key] = out
    return out


def tune(h: History, method: str, cutoff: int, horizon_days: int, *, grid: ForecastGrid,
         defaults: ForecastParams, coverages: Sequence[float],
         folds: int | None = None) -> Choice:
    """Choose ``method``'s parameters by a rolling backtest on incidents before ``cutoff``.

    Every grid point is fitted at each inner cut-off (:func:`inner_cutoffs`) on the
    incidents before it and scored on the next ``horizon_days``; the point with the best
    mean :func:`objective` wins (ties: the earlier grid point). Inner folds with less
    history than the horizon (and 28 days), or no test incidents, are skipped; with none
    left the ``defaults`` are kept. A method without parameters is scored on the same inner
    folds (``tuned`` False), so every method's ``score`` compares.

    Returns
    -------
    Choice
    """
    size = grid.size(method)
    fixed = defaults.of(method)
    totals: dict[tuple[Any, ...], list[float]] = {}
    params_of: dict[tuple[Any, ...], dict[str, Any]] = {}
    used = 0
    for c in inner_cutoffs(cutoff, horizon_days, folds):
        got = _fold_scores(h, method, c, horizon_days, grid, tuple(coverages))
        if got is None:
            continue
        used += 1
        for key, (params, value) in got.items():
            totals.setdefault(key, []).append(value)
            params_of[key] = params
    if not used:
        return Choice(method, fixed, False, float("nan"), 0, size)
    means = {k: float(np.nanmean(v)) if np.isfinite(v).any() else -np.inf
             for k, v in totals.items()}
    best = max(means, key=lambda k: means[k])
    return Choice(method, params_of[best], bool(METHOD_PARAMS.get(method)), means[best], used,
                  size)
