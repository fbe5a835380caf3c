"""Emerging hot spot analysis: monthly Gi*, Mann-Kendall trend and the ArcGIS pattern classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from libpysal.weights import W

from riskmap.geo.hotspots import benjamini_hochberg, bh_significant, gi_star_z, two_sided_p

__all__ = [
    "EMERGING_CLASSES",
    "EmergingHotSpots",
    "classify_emerging",
    "mann_kendall",
]

_KINDS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
EMERGING_CLASSES = (
    tuple(f"{k}_hot_spot" for k in _KINDS)
    + tuple(f"{k}_cold_spot" for k in _KINDS)
    + ("no_pattern",)
)


#: rows per block of :func:`mann_kendall`
_MK_ROWS = 262_144


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test on each row of ``x`` (time along axis 1), with ties correction.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18``
    over tie groups of size t; ``Z = (S - sign(S)) / sqrt(Var(S))`` (continuity correction);
    two-sided ``p = 2 * (1 - Phi(|Z|))``. Rows with zero variance (n < 2 or all tied) get
    Z = 0, p = 1. NaN values are not supported (fill them first).

    Parameters
    ----------
    x
        Array of shape (n_units, n_times) or (n_times,).

    Returns
    -------
    s, z, p, tau : numpy.ndarray
        S statistic, normal score, two-sided p-value, Kendall's tau-a (S / (n(n-1)/2)).

    Examples
    --------
    >>> s, z, p, tau = mann_kendall(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> int(s[0]), float(tau[0])
    (6, 1.0)
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n_units, n = x.shape
    s = np.empty(n_units, dtype=float)
    var = np.full(n_units, n * (n - 1) * (2 * n + 5) / 18.0)
    # in row blocks: the sorts, transposes and comparisons of a national lattice's cells by
    # months would otherwise each hold a copy of the whole matrix (the build's memory peak)
    for a in range(0, n_units, _MK_ROWS):
        block = x[a : a + _MK_ROWS]
        s[a : a + len(block)] = _kendall_s(block)
        var[a : a + len(block)] -= _tie_terms(block) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    p = two_sided_p(z)
    pairs = n * (n - 1) / 2.0
    tau = s / pairs if pairs else np.zeros(n_units)
    return s, z, p, tau


def _tie_terms(x: np.ndarray) -> np.ndarray:
    """Per row, ``sum_t t(t-1)(2t+5)`` over the groups of tied values (the variance's ties
    correction, before the division by 18)."""
    n_units, n = x.shape
    if n < 2 or n_units == 0:
        return np.zeros(n_units)
    srt = np.sort(x, axis=1)
    padded = np.zeros((n_units, n + 1), dtype=np.int8)  # tie flags, a 0 either side
    padded[:, 1:n] = srt[:, 1:] == srt[:, :-1]
    del srt
    d = np.diff(padded.ravel())
    starts = np.flatnonzero(d == 1) + 1
    ends = np.flatnonzero(d == -1) + 1
    t = (ends - starts) + 1
    rows = starts // (n + 1)
    return np.bincount(rows, weights=t * (t - 1) * (2 * t + 5), minlength=n_units)


def _kendall_s(x: np.ndarray) -> np.ndarray:
    """Mann-Kendall S of each row: ``sum_{i<j} sign(x_j - x_i)`` (int64).

    From time-major rows: each time against all later ones, summed across contiguous rows
    (3x the sign of every lagged difference on a cells-by-months matrix).
    """
    xt = np.ascontiguousarray(x.T)
    s = np.zeros(x.shape[0], dtype=np.int64)
    for i in range(x.shape[1] - 1):
        later = xt[i + 1 :]
        s += (later > xt[i]).sum(axis=0, dtype=np.int64)
        s -= (later < xt[i]).sum(axis=0, dtype=np.int64)
    return s


def _one_side(
    sig: np.ndarray, other: np.ndarray, trend_up: np.ndarray, trend_down: np.ndarray
) -> np.ndarray:
    """Classify one side (hot: sig=hot, other=cold, up=intensifying). Returns kind codes.

    Codes index ``_KINDS``; -1 = no pattern on this side.
    """
    n_units, n = sig.shape
    count = sig.sum(axis=1)
    final = sig[:, -1] if n else np.zeros(n_units, dtype=bool)
    ge90 = count * 10 >= 9 * n
    unset = ~sig
    # the run of significant bins ending in the last one: up to the last unset bin, else all
    trailing = (np.where(unset.any(axis=1), np.argmax(unset[:, ::-1], axis=1), n) if n
                else np.zeros(n_units, dtype=np.int64))
    other_before = other[:, :-1].any(axis=1) if n else np.zeros(n_units, dtype=bool)
    code = np.full(n_units, -1)
    # Assign from the lowest to the highest precedence, so earlier rules win.
    rules = [
        ("historical", ~final & ge90),
        ("oscillating", final & ~ge90 & other_before),
        ("sporadic", final & ~ge90 & ~other.any(axis=1)),
        ("diminishing", final & ge90 & trend_down),
        ("persistent", final & ge90 & ~trend_up & ~trend_down),
        ("intensifying", final & ge90 & trend_up),
        ("consecutive", final & (trailing >= 2) & (count == trailing) & ~ge90),
        ("new", final & (count == 1)),
    ]
    for name, mask in rules:
        code[mask] = _KINDS.index(name)
    return code


def classify_emerging(
    hot: np.ndarray,
    cold: np.ndarray,
    trend_z: np.ndarray,
    trend_p: np.ndarray,
    *,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """Emerging hot spot class per unit, following ArcGIS Emerging Hot Spot Analysis.

    With ``n`` bins, "90%" means at least 0.9 n bins. For a unit whose final bin is a
    significant hot spot (cold spots are symmetric, with the trend reversed):

    - ``new``: the final bin is the only hot bin ever;
    - ``consecutive``: a single uninterrupted run of >= 2 hot bins ending in the final bin,
      never hot before the run, < 90% of bins hot;
    - ``intensifying`` / ``persistent`` / ``diminishing``: >= 90% of bins hot and a
      significant increasing / no significant / significant decreasing Mann-Kendall trend of
      the Gi* z series (significant: p <= ``trend_alpha``);
    - ``sporadic``: < 90% hot, never a cold spot (and not new/consecutive);
    - ``oscillating``: < 90% hot, a cold spot in some earlier bin (and not new/consecutive);

    and ``historical``: the final bin is not hot but >= 90% of bins are. Otherwise
    ``no_pattern``. Precedence where definitions overlap (ArcGIS order): new, consecutive,
    intensifying, persistent, diminishing, sporadic, oscillating, historical; a hot pattern
    wins over a cold one only when the final bin decides (they cannot both hold except for
    ``historical``, where the hot side wins).

    Parameters
    ----------
    hot, cold
        Boolean arrays (n_units, n_bins): significant hot / cold spot per bin.
    trend_z, trend_p
        Mann-Kendall z and p of each unit's Gi* z series.
    trend_alpha
        Significance level of the trend.

    Returns
    -------
    numpy.ndarray
        Object array of :data:`EMERGING_CLASSES` labels.
    """
    hot = np.atleast_2d(np.asarray(hot, dtype=bool))
    cold = np.atleast_2d(np.asarray(cold, dtype=bool))
    tz = np.asarray(trend_z, dtype=float).ravel()
    tp = np.asarray(trend_p, dtype=float).ravel()
    sig = np.isfinite(tp) & (tp <= trend_alpha)
    up = sig & (tz > 0)
    down = sig & (tz < 0)
    labels = np.full(hot.shape[0], "no_pattern", dtype=object)
    hot_names = np.array([f"{k}_hot_spot" for k in _KINDS], dtype=object)
    cold_names = np.array([f"{k}_cold_spot" for k in _KINDS], dtype=object)
    for a in range(0, hot.shape[0], _MK_ROWS):  # row blocks: no whole-matrix temporaries
        b = slice(a, a + _MK_ROWS)
        hot_code = _one_side(hot[b], cold[b], up[b], down[b])
        cold_code = _one_side(cold[b], hot[b], down[b], up[b])
        part = labels[b]
        c = cold_code >= 0
        part[c] = cold_names[cold_code[c]]
        h = hot_code >= 0
        part[h] = hot_names[hot_code[h]]
    return labels


class EmergingHotSpots:
    """Emerging hot spot analysis over monthly (or any) time bins.

    For each bin, the **spatial** Gi* (binary contiguity plus self weight, the same statistic as
    ``esda.G_Local(..., transform='B', star=True)``) is computed from that bin's counts; this
    differs from ArcGIS, which uses a space-time neighbourhood spanning adjacent bins. A bin is
    a significant hot (cold) spot when z > 0 (< 0) and its two-sided normal p, after a
    Benjamini-Hochberg correction within the bin (``fdr=True``), is <= ``alpha`` (default
    0.10, i.e. 90% confidence as in ArcGIS). The Mann-Kendall test on each unit's Gi* z series
    gives the trend; :func:`classify_emerging` gives the class.

    Parameters
    ----------
    alpha
        Significance level for hot/cold bins.
    trend_alpha
        Significance level for the Mann-Kendall trend.
    fdr
        Benjamini-Hochberg correction per bin (keyword-only).

    Attributes
    ----------
    z, p, q : numpy.ndarray
        Gi* z, p and q per unit and bin, shape (n_units, n_bins) (p and q are computed from
        z when read, so that a fit on millions of cells does not hold them).
    hot, cold : numpy.ndarray
        Significant hot / cold bins.
    trend_z, trend_p, trend_tau : numpy.ndarray
        Mann-Kendall results per unit.
    category : numpy.ndarray
        Class labels per unit.
    """

    def __init__(self, alpha: float = 0.10, trend_alpha: float = 0.05, *, fdr: bool = True):
        self.alpha = alpha
        self.trend_alpha = trend_alpha
        self.fdr = fdr

    def fit(self, counts: np.ndarray, w: W | sp.spmatrix) -> EmergingHotSpots:
        """Fit on a (n_units, n_bins) count matrix aligned with the weights; returns ``self``."""
        counts = np.asarray(counts, dtype=float)
        if counts.ndim != 2:
            raise ValueError(f"counts must be 2-D (units x bins), got shape {counts.shape}")
        n = w.n if isinstance(w, W) else w.shape[0]
        if counts.shape[0] != n:
            raise ValueError(f"counts has {counts.shape[0]} units but the weights have {n}")
        return self.fit_z(gi_star_z(counts, w))

    def fit_z(self, z: np.ndarray, weight: np.ndarray | None = None) -> EmergingHotSpots:
        """Fit on the Gi* z-scores (:func:`geo.hotspots.gi_star_z`) of a (n_units, n_bins)
        count matrix, as :meth:`fit` does after computing them: a caller on a national lattice
        can let the counts go before the rest of the fit; returns ``self``.

        ``weight`` counts a row as that many units with the same z series (the rows of a
        :class:`geo.hotspots.QuietSplit`): the per-bin FDR counts them all.
        """
        self.z = np.asarray(z, dtype=float)
        if self.z.ndim != 2:
            raise ValueError(f"z must be 2-D (units x bins), got shape {self.z.shape}")
        # one bin (an FDR family) at a time: no p or q matrix held on a national lattice
        self.hot = np.zeros(self.z.shape, dtype=bool)
        self.cold = np.zeros(self.z.shape, dtype=bool)
        for t in range(self.z.shape[1]):
            z = self.z[:, t]
            p = two_sided_p(z)
            sig = bh_significant(p, self.alpha, weight) if self.fdr else p <= self.alpha
            self.hot[:, t] = sig & (z > 0)
            self.cold[:, t] = sig & (z < 0)
        _, self.trend_z, self.trend_p, self.trend_tau = mann_kendall(self.z)
        self.category = classify_emerging(
            self.hot, self.cold, self.trend_z, self.trend_p, trend_alpha=self.trend_alpha
        )
        return self

    @property
    def p(self) -> np.ndarray:
        """Two-sided p of each unit and bin (computed when asked: not kept by :meth:`fit`)."""
        return two_sided_p(self.z)

    @property
    def q(self) -> np.ndarray:
        """Benjamini-Hochberg q of each unit and bin, within each bin (computed when asked)."""
        return benjamini_hochberg(self.p)

    def frame(self, ids: np.ndarray | pd.Index, id_name: str = "unit") -> pd.DataFrame:
        """Result per unit: id, category, trend z/p/tau, hot and cold bin counts."""
        return pd.DataFrame(
            {
                id_name: np.asarray(ids),
                "category": pd.Series(self.category, dtype="string").to_numpy(),
                "trend_z": self.trend_z,
                "trend_p": self.trend_p,
                "trend_tau": self.trend_tau,
                "n_hot_bins": self.hot.sum(axis=1),
                "n_cold_bins": self.cold.sum(axis=1),
                "final_z": self.z[:, -1] if self.z.shape[1] else np.nan,
            }
        )
