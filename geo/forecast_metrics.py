"""Forecast metrics: area-budget selection, hit rate, PAI and PEI*, and their bootstrap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "Replicates",
    "budget_hits",
    "budget_units",
    "ranked_hits",
    "replicate_scores",
    "score_selection",
    "select_units",
]


def select_units(scores: np.ndarray, area: np.ndarray, coverage: float) -> np.ndarray:
    """Greedy selection by descending score while the area stays within ``coverage``.

    Units are taken in order of score (ties: lower position first; NaN last) while their
    cumulative area is <= ``coverage`` x total area; at least one unit is always taken.
    With equal areas this is the top ``floor(coverage * n)`` units.

    Returns
    -------
    numpy.ndarray
        Boolean mask of selected units.

    Examples
    --------
    >>> select_units(np.array([1.0, 3, 2, np.nan]), np.ones(4), 0.5).tolist()
    [False, True, True, False]
    >>> select_units(np.zeros(0), np.zeros(0), 0.1).tolist()
    []
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


def budget_units(n_units: int, coverage: float) -> int:
    """Units :func:`select_units` takes at ``coverage`` when all areas are equal (>= 1)."""
    return max(1, int(np.floor(coverage * n_units * (1 + 1e-9))))


def ranked_hits(scores: np.ndarray, test_counts: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """Test incidents caught by the top ``k`` units, for each ``k`` (equal areas).

    Same order as :func:`select_units` (descending score, ties by position) but only the
    top ``max(ks)`` units are sorted, so a country of res-9 cells costs one partition.

    Examples
    --------
    >>> ranked_hits(np.array([0.0, 2, 2, 1]), np.array([5, 1, 0, 3]), [1, 2, 3]).tolist()
    [1.0, 1.0, 4.0]
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    n = s.size
    if n == 0:
        return np.zeros(len(ks))
    kmax = min(max(ks), n)
    if kmax >= n:
        order = np.argsort(-s, kind="stable")
    else:
        thr = np.partition(s, n - kmax)[n - kmax]
        above = np.flatnonzero(s > thr)
        above = above[np.argsort(-s[above], kind="stable")]
        order = np.concatenate([above, np.flatnonzero(s == thr)[: kmax - above.size]])
    cum = np.cumsum(np.asarray(test_counts, dtype=float)[order])
    return cum[np.minimum(np.asarray(ks), kmax) - 1]


def budget_hits(scores: np.ndarray, area: np.ndarray, test_counts: np.ndarray,
                coverages: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Hits and area share of :func:`select_units` at each coverage, from one sort.

    Examples
    --------
    >>> hits, share = budget_hits(np.array([3.0, 2, 1]), np.array([1.0, 2, 1]),
    ...                           np.array([1, 4, 2]), [0.25, 0.75])
    >>> hits.tolist(), share.tolist()
    ([1.0, 5.0], [0.25, 0.75])
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    area = np.asarray(area, dtype=float)
    if s.size == 0:
        return np.zeros(len(coverages)), np.zeros(len(coverages))
    order = np.argsort(-s, kind="stable")
    cum_area = np.cumsum(area[order])
    cum_hits = np.cumsum(np.asarray(test_counts, dtype=float)[order])
    budgets = np.asarray(coverages, dtype=float) * area.sum() * (1 + 1e-9)
    # the greedy takes a prefix: every unit while the running area stays in the budget
    k = np.maximum(np.searchsorted(cum_area, budgets, side="right"), 1)
    return cum_hits[k - 1], cum_area[k - 1] / area.sum()


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


class Replicates:
    """Bootstrap replicates of one test window: the test incidents resampled with replacement.

    Each replicate draws the window's ``n`` test incidents again from the observed ones
    (a multinomial over the units that hold any), so a fixed selection's hits, hit rate, PAI
    and PEI* (whose best possible hits change too) get a sampling distribution. Every method
    is scored on the same replicates, which makes differences between methods paired.

    Parameters
    ----------
    test_counts
        Test incidents per unit.
    area
        Area per unit.
    replicates
        Number of replicates (0: none; every figure is then NaN).
    seed
        Seed of the generator.

    Examples
    --------
    >>> rep = Replicates(np.array([3, 0, 1]), np.ones(3), 200, seed=1)
    >>> hr, pai, pei = replicate_scores(rep, np.array([True, False, False]), 1 / 3, 1 / 3)
    >>> bool(0 < hr.mean() < 1) and hr.shape == (200,) and bool(np.all(pei <= 1))
    True
    >>> Replicates(np.zeros(3), np.ones(3), 200).size
    0
    """

    def __init__(self, test_counts: np.ndarray, area: np.ndarray, replicates: int,
                 seed: int = 0) -> None:
        tc = np.asarray(test_counts, dtype=np.int64)
        self.area = np.asarray(area, dtype=float)
        self.n = int(tc.sum())
        self.support = np.flatnonzero(tc > 0)
        self.size = int(replicates) if self.n else 0
        rng = np.random.default_rng(seed)
        p = tc[self.support] / max(self.n, 1)
        self.draws = (rng.multinomial(self.n, p, size=self.size).astype(float)
                      if self.size else np.zeros((0, self.support.size)))
        self._best: dict[float, np.ndarray] = {}
        self._equal = bool(self.area.size == 0 or np.all(self.area == self.area[0]))

    def best_hits(self, coverage: float) -> np.ndarray:
        """Best possible hits per replicate under the area budget (as :func:`score_selection`)."""
        got = self._best.get(coverage)
        if got is not None:
            return got
        r, m = self.draws, self.support.size
        if self._equal:
            k = budget_units(self.area.size, coverage)
            got = r.sum(axis=1) if k >= m else np.partition(r, m - k, axis=1)[:, m - k:].sum(1)
        else:
            a = self.area[self.support]
            budget = coverage * self.area.sum() * (1 + 1e-9)
            got = np.maximum(self._greedy(r / np.maximum(a, 1e-12), r, a, budget),
                             self._greedy(r, r, a, budget))
        self._best[coverage] = got
        return got

    @staticmethod
    def _greedy(key: np.ndarray, r: np.ndarray, a: np.ndarray, budget: float) -> np.ndarray:
        order = np.argsort(-key, axis=1, kind="stable")
        take = np.cumsum(a[order], axis=1) <= budget
        if take.shape[1]:
            take[:, 0] = True
        return (np.take_along_axis(r, order, axis=1) * take).sum(axis=1)


def replicate_scores(rep: Replicates, selected: np.ndarray, coverage: float,
                     area_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit rate, PAI and PEI* per replicate of a selection made at ``coverage``.

    PEI*'s best possible hits use the nominal ``coverage`` budget (as :func:`score_selection`);
    PAI divides by the ``area_share`` actually selected.
    """
    if not rep.size:
        empty = np.zeros(0)
        return empty, empty, empty
    hits = rep.draws @ np.asarray(selected, dtype=bool)[rep.support].astype(float)
    hit_rate = hits / rep.n
    pai = hit_rate / area_share if area_share else np.full(rep.size, np.nan)
    best = rep.best_hits(coverage)
    with np.errstate(divide="ignore", invalid="ignore"):
        pei = np.where(best > 0, hits / best, np.nan)
    return hit_rate, pai, pei
