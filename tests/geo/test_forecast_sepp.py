"""Tests for geo.forecast_sepp: trigger pairs against brute force, EM on a simulated process."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.stats import norm

from riskmap.geo.forecast_sepp import SelfExcitingProcess, trigger_pairs


def _brute_pairs(t, x, y, max_km, max_days):
    out = set()
    for i in range(t.size):
        for j in range(t.size):
            dt = t[j] - t[i]
            if 0 < dt <= max_days and np.hypot(x[j] - x[i], y[j] - y[i]) <= max_km:
                out.add((i, j))
    return out


def test_trigger_pairs_match_brute_force():
    rng = np.random.default_rng(3)
    n = 300
    t = np.round(rng.uniform(0, 100, n), 1)  # ties in time: no pair between equal times
    x, y = rng.uniform(0, 3, n), rng.uniform(0, 3, n)
    x[5] = np.nan  # an event without a place takes no part
    p = trigger_pairs(t, x, y, max_km=0.4, max_days=10)
    got = set(zip(p.parent.tolist(), p.child.tolist(), strict=True))
    assert got == _brute_pairs(t, x, y, 0.4, 10)
    assert np.all(np.diff(p.child) >= 0)  # sorted by child
    assert np.allclose(p.dt, t[p.child] - t[p.parent])
    assert np.allclose(p.d2, (x[p.child] - x[p.parent]) ** 2 + (y[p.child] - y[p.parent]) ** 2)
    sub = p.within(100, 200)
    assert set(zip(sub.parent.tolist(), sub.child.tolist(), strict=True)) == {
        (i - 100, j - 100) for i, j in got if i >= 100 and j < 200}


def _simulate(rng, *, mu_per_day, days, side_km, theta, omega, sigma_km):
    """A Hawkes process by generations: background uniform in space and time, then offspring."""
    n0 = rng.poisson(mu_per_day * days)
    t = [rng.uniform(0, days, n0)]
    x = [rng.uniform(0, side_km, n0)]
    y = [rng.uniform(0, side_km, n0)]
    pt, px, py = t[0], x[0], y[0]
    while pt.size:
        k = rng.poisson(theta, pt.size)
        parent = np.repeat(np.arange(pt.size), k)
        pt = pt[parent] + rng.exponential(1 / omega, parent.size)
        px = px[parent] + rng.normal(0, sigma_km, parent.size)
        py = py[parent] + rng.normal(0, sigma_km, parent.size)
        keep = pt < days
        pt, px, py = pt[keep], px[keep], py[keep]
        t.append(pt)
        x.append(px)
        y.append(py)
    t, x, y = np.concatenate(t), np.concatenate(x), np.concatenate(y)
    order = np.argsort(t, kind="stable")
    return t[order], x[order], y[order], n0


def _gaussian_operator(x, y, sigma_km, side_km):
    """Background kernel between events (each its own source), within 3 sigma, edge-corrected.

    Each source's kernel is divided by its mass inside the square: without that, events
    near the edge look denser than the background estimate and EM credits the excess to
    triggering.
    """
    tree = cKDTree(np.c_[x, y])
    d = tree.sparse_distance_matrix(tree, 3 * sigma_km, output_type="coo_matrix")
    val = np.exp(-(d.data**2) / (2 * sigma_km**2)) / (2 * np.pi * sigma_km**2)
    n = x.size
    m = sp.coo_matrix((val, (d.row, d.col)), shape=(n, n)).tocsr()
    m = m + sp.identity(n, format="csr") / (2 * np.pi * sigma_km**2)  # d = 0 is not stored
    inside = ((norm.cdf((side_km - x) / sigma_km) - norm.cdf(-x / sigma_km))
              * (norm.cdf((side_km - y) / sigma_km) - norm.cdf(-y / sigma_km)))
    return sp.csr_matrix(m @ sp.diags(1 / inside))


def test_em_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    theta, omega, sigma = 0.5, 1 / 4.0, 0.12
    t, x, y, n0 = _simulate(rng, mu_per_day=4.0, days=800, side_km=20.0, theta=theta,
                            omega=omega, sigma_km=sigma)
    pairs = trigger_pairs(t, x, y, max_km=0.8, max_days=60)
    proc = SelfExcitingProcess(1000.0, max_trigger_km=0.8, max_trigger_days=60,
                               min_sigma_km=0.01, n_iter=200, tol=1e-5)
    proc.fit(t, np.arange(t.size), pairs, _gaussian_operator(x, y, 1.0, 20.0), end_days=800.0,
             start_days=0.0)
    assert proc.theta_ == pytest.approx(theta, abs=0.08)
    assert 1 / proc.omega_ == pytest.approx(1 / omega, rel=0.25)
    assert proc.sigma_km_ == pytest.approx(sigma, rel=0.2)
    # the background probabilities add up to about the number of background events
    assert proc.p_background_.sum() == pytest.approx(n0, rel=0.1)
    assert proc.background_.sum() == pytest.approx(proc.p_background_.sum())


def test_em_finds_no_triggering_in_a_poisson_process():
    rng = np.random.default_rng(5)
    t, x, y, _ = _simulate(rng, mu_per_day=4.0, days=600, side_km=20.0, theta=0.0, omega=1.0,
                           sigma_km=0.1)
    pairs = trigger_pairs(t, x, y, max_km=0.8, max_days=60)
    proc = SelfExcitingProcess(1000.0, max_trigger_km=0.8, max_trigger_days=60,
                               min_sigma_km=0.01, n_iter=300, tol=1e-6).fit(
        t, np.arange(t.size), pairs, _gaussian_operator(x, y, 1.0, 20.0), end_days=600.0)
    assert proc.theta_ < 0.02
    assert proc.p_background_.mean() > 0.95


def test_trigger_weights_and_unfitted_process():
    with pytest.raises(ValueError, match="not fitted"):
        SelfExcitingProcess().trigger_weights(np.zeros(1), 0.0, 1.0)
    proc = SelfExcitingProcess()
    proc.theta_, proc.omega_ = 0.4, 0.5
    w = proc.trigger_weights(np.array([10.0, 8.0, 0.0, 11.0]), 10.0, 1e6)
    # a fresh event passes on all of theta over an endless horizon; older ones what is left
    assert w[0] == pytest.approx(0.4)
    assert w[1] == pytest.approx(0.4 * np.exp(-1.0))
    assert w[2] < w[1] < w[0]
    assert w[3] == 0  # after the cut-off: not a parent yet
