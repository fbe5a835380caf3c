"""Self-exciting point process (Mohler et al. 2011, ETAS style) fitted by EM on sparse pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

__all__ = ["SelfExcitingProcess", "TriggerPairs", "trigger_pairs"]

#: stability: fewer than one offspring per event on average
_MAX_THETA = 0.95
#: fastest decay considered (per day): triggering on a time scale under an hour is the same
#: incident recorded twice rather than a repeat
_MAX_OMEGA = 24.0


@dataclass(frozen=True)
class TriggerPairs:
    """Candidate (parent, child) pairs: ``t[parent] < t[child]`` within the cut-offs.

    Attributes
    ----------
    parent, child
        Event positions (int64); pairs are sorted by child.
    dt
        Time from parent to child in days (> 0).
    d2
        Squared distance in km².
    """

    parent: np.ndarray
    child: np.ndarray
    dt: np.ndarray
    d2: np.ndarray

    def within(self, lo: int, hi: int) -> TriggerPairs:
        """Pairs whose two events are both in positions ``[lo, hi)``, re-indexed from ``lo``."""
        end = int(np.searchsorted(self.child, hi))  # sorted by child: a prefix
        keep = np.flatnonzero(self.parent[:end] >= lo)
        return TriggerPairs(self.parent[keep] - lo, self.child[keep] - lo, self.dt[keep],
                            self.d2[keep])


def trigger_pairs(t_days: np.ndarray, x_km: np.ndarray, y_km: np.ndarray, *,
                  max_km: float, max_days: float) -> TriggerPairs:
    """All ordered pairs closer than ``max_km`` and ``max_days`` (``0 < dt <= max_days``).

    One k-d tree query in (x, y, scaled t) with the Chebyshev metric finds the space-time
    box around each event; the exact disc is then applied. Events with a NaN coordinate or
    time take no part.

    Examples
    --------
    >>> p = trigger_pairs(np.array([0.0, 1.0, 50.0]), np.zeros(3), np.array([0.0, 0.1, 0.0]),
    ...                   max_km=0.5, max_days=30)
    >>> p.parent.tolist(), p.child.tolist(), p.dt.tolist()
    ([0], [1], [1.0])
    >>> trigger_pairs(np.zeros(0), np.zeros(0), np.zeros(0), max_km=1, max_days=1).dt.size
    0
    """
    t_days = np.asarray(t_days, dtype=float)
    ok = np.flatnonzero(np.isfinite(t_days) & np.isfinite(x_km) & np.isfinite(y_km))
    empty = np.zeros(0, dtype=np.int64)
    if ok.size < 2:
        return TriggerPairs(empty, empty, np.zeros(0), np.zeros(0))
    pts = np.c_[x_km[ok], y_km[ok], t_days[ok] * (max_km / max_days)]
    pairs = cKDTree(pts).query_pairs(max_km * (1 + 1e-9), p=np.inf, output_type="ndarray")
    a, b = ok[pairs[:, 0]], ok[pairs[:, 1]]
    early = t_days[a] <= t_days[b]
    parent, child = np.where(early, a, b), np.where(early, b, a)
    dt = t_days[child] - t_days[parent]
    d2 = (x_km[child] - x_km[parent]) ** 2 + (y_km[child] - y_km[parent]) ** 2
    keep = (dt > 0) & (d2 <= max_km**2)
    order = np.argsort(child[keep], kind="stable")
    return TriggerPairs(parent[keep][order].astype(np.int64), child[keep][order].astype(np.int64),
                        dt[keep][order], d2[keep][order])


def _truncated_exp_rate(mean: float, cap: float) -> float:
    """Rate r of an exponential truncated at ``cap`` whose mean is ``mean`` (bisection).

    The truncated mean ``1/r - cap / (exp(r cap) - 1)`` falls from ``cap / 2`` (r -> 0) to 0.
    A mean at or above ``cap / 2`` gives the smallest rate tried (a flat kernel).
    """
    lo, hi = np.log(1e-3 / cap), np.log(1e4 / cap)
    if not np.isfinite(mean) or mean <= 0:
        return float(np.exp(hi))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        r = np.exp(mid)
        m = 1.0 / r - cap / np.expm1(min(r * cap, 700.0))
        lo, hi = (mid, hi) if m > mean else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)))


class SelfExcitingProcess:
    """Background rate plus space-time triggering, fitted by expectation-maximisation.

    ``lambda(s, t) = mu(s) + sum_{t_i < t} theta * omega exp(-omega (t - t_i)) * g(s - s_i)``
    with ``mu`` a Gaussian kernel estimate (bandwidth ``background_m``) of the events weighted
    by their probability of being background, and ``g`` an isotropic Gaussian of scale
    ``sigma``: the parametric model of Mohler et al. (2011, 2015). The E-step splits each
    event between background and its possible parents (pairs within ``max_trigger_km`` and
    ``max_trigger_days``, from :func:`trigger_pairs`); the M-step updates ``theta`` (mean
    offspring, edge-corrected for the window and the cut-offs), ``omega`` and ``sigma``
    (truncated-exponential maximum likelihood) and the background weights. ``theta`` is
    held below 0.95 (a stable, sub-critical process) and ``1 / omega`` between an hour and
    a third of ``max_trigger_days`` (a slower "trigger" is a stationary hotspot the
    background should carry). Positions are res-9 cell centres, so ``sigma`` is held at or
    above ``min_sigma_km``.

    Parameters
    ----------
    background_m
        Background kernel bandwidth in metres.
    max_trigger_km, max_trigger_days
        Pair cut-offs.
    min_sigma_km
        Floor of the triggering scale.
    n_iter, tol
        At most ``n_iter`` EM steps; stop when theta, omega and sigma change by less than
        ``tol`` (relative).

    Attributes
    ----------
    theta_, omega_, sigma_km_
        Mean offspring per event, decay rate per day, triggering scale in km.
    background_
        Background weight per source cell (sum of the events' background probabilities).
    p_background_
        Probability that each event is background.
    span_days_
        Length of the fitted window in days.
    n_iter_
        EM steps taken.

    Examples
    --------
    >>> SelfExcitingProcess(300.0).theta_ is None
    True
    """

    def __init__(self, background_m: float = 300.0, *, max_trigger_km: float = 0.5,
                 max_trigger_days: float = 90.0, min_sigma_km: float = 0.1, n_iter: int = 50,
                 tol: float = 1e-2) -> None:
        self.background_m = float(background_m)
        self.max_trigger_km = float(max_trigger_km)
        self.max_trigger_days = float(max_trigger_days)
        self.min_sigma_km = float(min_sigma_km)
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.theta_: float | None = None
        self.omega_: float | None = None
        self.sigma_km_: float | None = None
        self.background_: np.ndarray | None = None
        self.p_background_: np.ndarray | None = None
        self.span_days_: float = 0.0
        self.n_iter_ = 0

    def fit(self, t_days: np.ndarray, src: np.ndarray, pairs: TriggerPairs,
            source_operator: sp.spmatrix, *, end_days: float,
            start_days: float | None = None,
            warm: SelfExcitingProcess | None = None,
            p_background: np.ndarray | None = None) -> SelfExcitingProcess:
        """Fit on events at ``t_days`` (< ``end_days``) placed at source cells ``src``.

        Parameters
        ----------
        t_days
            Event times in days.
        src
            Source-cell position per event (-1: no place; such events are left out).
        pairs
            Their trigger pairs (:func:`trigger_pairs`, positions into ``t_days``).
        source_operator
            Background kernel between source cells (density per km²; ``S[r, s]``).
        end_days, start_days
            The observed window (the start is never before the first event).
        warm
            A fitted process to start from (its theta, omega and sigma).
        p_background
            Starting background probability per event (e.g. from an earlier fit).

        Returns
        -------
        SelfExcitingProcess
            ``self``.
        """
        t_days = np.asarray(t_days, dtype=float)
        src = np.asarray(src, dtype=np.int64)
        n_src = source_operator.shape[1]
        placed = src >= 0
        first = float(t_days.min()) if t_days.size else end_days
        start = first if start_days is None else max(float(start_days), first)
        span = max(end_days - start, 1.0)
        self.span_days_ = span
        keep = placed[pairs.parent] & placed[pairs.child]
        chi, dt, d2 = pairs.child[keep], pairs.dt[keep], pairs.d2[keep]
        dt32, d2_32 = dt.astype(np.float32), d2.astype(np.float32)
        if warm is not None and warm.theta_ is not None:
            theta, omega, sigma = warm.theta_, warm.omega_ or 0.1, warm.sigma_km_ or 0.2
        else:
            theta, omega, sigma = 0.1, 1.0 / 7.0, max(0.2, self.min_sigma_km)
        p_bg = np.where(placed, 1.0 - min(theta, 0.5) if p_background is None
                        else np.asarray(p_background, dtype=float), 0.0)
        remain = np.minimum(end_days - t_days, self.max_trigger_days)
        cap_s = self.max_trigger_km**2 / 2.0
        ev_src = np.where(placed, src, 0)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            self.n_iter_ += 1
            bg_mass = np.bincount(src[placed], weights=p_bg[placed], minlength=n_src)
            mu = np.asarray(source_operator @ bg_mass)[ev_src] / span
            g = np.exp(np.float32(-omega) * dt32 - np.float32(0.5 / sigma**2) * d2_32)
            g *= np.float32(theta * omega / (2 * np.pi * sigma**2))
            lam = mu + np.bincount(chi, weights=g, minlength=t_days.size)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = g / lam.astype(np.float32)[chi]  # float32 over the pairs: half the memory
                p_bg = np.where(placed & (lam > 0), mu / lam, 0.0)
            s_p = float(p.sum(dtype=np.float64))
            if s_p <= 1e-12:
                theta = 0.0
                break
            new_omega = float(np.clip(
                _truncated_exp_rate(float(p @ dt32) / s_p, self.max_trigger_days),
                3.0 / self.max_trigger_days, _MAX_OMEGA))
            new_sigma = np.sqrt(1.0 / _truncated_exp_rate(float(p @ d2_32) / (2 * s_p), cap_s))
            new_sigma = float(np.clip(new_sigma, self.min_sigma_km, self.max_trigger_km))
            reach = (-np.expm1(-new_omega * remain[placed])).sum() * -np.expm1(
                -(self.max_trigger_km**2) / (2 * new_sigma**2))
            new_theta = min(s_p / max(float(reach), 1e-12), _MAX_THETA)
            change = max(abs(new_theta - theta) / max(theta, 1e-9),
                         abs(new_omega - omega) / omega, abs(new_sigma - sigma) / sigma)
            theta, omega, sigma = new_theta, new_omega, new_sigma
            if change < self.tol:
                break
        self.theta_, self.omega_, self.sigma_km_ = float(theta), float(omega), float(sigma)
        self.p_background_ = p_bg
        self.background_ = np.bincount(src[placed], weights=p_bg[placed], minlength=n_src)
        return self

    def trigger_weights(self, t_days: np.ndarray, cutoff_days: float,
                        horizon_days: float) -> np.ndarray:
        """Expected offspring in ``[cutoff, cutoff + horizon)`` of each event before the cut-off."""
        if self.theta_ is None or self.omega_ is None:
            raise ValueError("SelfExcitingProcess is not fitted: call fit() first")
        age = cutoff_days - np.asarray(t_days, dtype=float)
        w = self.theta_ * (np.exp(-self.omega_ * age) - np.exp(-self.omega_ * (age + horizon_days)))
        return np.where(age >= 0, w, 0.0)
