"""Tests for geo.trends: Mann-Kendall with ties, emerging hot spot classes, monthly Gi*."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import esda
import geopandas as gpd
import h3.api.basic_int as h3
import shapely

from riskmap.geo.hotspots import h3_weights, study_cells
from riskmap.geo.trends import EMERGING_CLASSES, EmergingHotSpots, classify_emerging, mann_kendall


def test_mann_kendall_hand_checked_with_ties():
    s, z, p, tau = mann_kendall(np.array([1.0, 2.0, 2.0, 3.0]))
    # pairs: 5 increasing, 1 tie -> S = 5; Var = (4*3*13 - 2*1*9) / 18 = 7.6667
    assert s[0] == 5
    assert z[0] == pytest.approx(4 / np.sqrt(7.0 + 2 / 3))
    assert p[0] == pytest.approx(0.14856, abs=1e-4)
    assert tau[0] == pytest.approx(5 / 6)


def test_mann_kendall_degenerate_rows():
    s, z, p, _ = mann_kendall(np.array([[2.0, 2.0, 2.0], [3.0, 2.0, 1.0]]))
    assert s.tolist() == [0, -3]
    assert z[0] == 0 and p[0] == 1
    assert z[1] == pytest.approx(-2 / np.sqrt(11 / 3))  # Var = 3*2*11/18, continuity -> S+1


@settings(max_examples=50, deadline=None)
@given(arrays(np.int64, st.integers(3, 15), elements=st.integers(0, 4)))
def test_mann_kendall_matches_brute_force(x):
    n = x.size
    s_ref = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    _, t = np.unique(x, return_counts=True)
    var_ref = (n * (n - 1) * (2 * n + 5) - np.sum(t * (t - 1) * (2 * t + 5))) / 18
    s, z, _, _ = mann_kendall(x.astype(float))
    assert s[0] == s_ref
    if var_ref > 0:
        assert z[0] == pytest.approx((s_ref - np.sign(s_ref)) / np.sqrt(var_ref))
    else:
        assert z[0] == 0


def _series(bits: str) -> np.ndarray:
    return np.array([c == "1" for c in bits])


NO_TREND = (0.0, 0.9)
UP = (3.0, 0.001)
DOWN = (-3.0, 0.001)
CASES = [
    ("0000000001", "0000000000", NO_TREND, "new_hot_spot"),
    ("0000000111", "0000000000", NO_TREND, "consecutive_hot_spot"),
    ("1111111111", "0000000000", UP, "intensifying_hot_spot"),
    ("0111111111", "0000000000", NO_TREND, "persistent_hot_spot"),
    ("1111111111", "0000000000", DOWN, "diminishing_hot_spot"),
    ("0100101001", "0000000000", NO_TREND, "sporadic_hot_spot"),
    ("1000000111", "0000000000", NO_TREND, "sporadic_hot_spot"),  # hot before the run
    ("1111011101", "0000000000", NO_TREND, "sporadic_hot_spot"),  # 80% < 90%
    ("0100001001", "0010000000", NO_TREND, "oscillating_hot_spot"),
    ("1111111110", "0000000000", NO_TREND, "historical_hot_spot"),
    ("1000000000", "0000000000", NO_TREND, "no_pattern"),
    ("0000000000", "0000000000", NO_TREND, "no_pattern"),
    ("0000000000", "0000000001", NO_TREND, "new_cold_spot"),
    ("0000000000", "0000000011", NO_TREND, "consecutive_cold_spot"),
    ("0000000000", "1111111111", DOWN, "intensifying_cold_spot"),
    ("0000000000", "1111111111", NO_TREND, "persistent_cold_spot"),
    ("0000000000", "1111111111", UP, "diminishing_cold_spot"),
    ("0000000000", "0010010001", NO_TREND, "sporadic_cold_spot"),
    ("0100000000", "0000100101", NO_TREND, "oscillating_cold_spot"),
    ("0000000000", "1111111110", NO_TREND, "historical_cold_spot"),
]


@pytest.mark.parametrize(
    ("hot", "cold", "trend", "expected"), CASES, ids=[f"{c[3]}-{c[0]}-{c[1]}" for c in CASES]
)
def test_classify_emerging_constructed(hot, cold, trend, expected):
    out = classify_emerging(
        _series(hot)[None, :], _series(cold)[None, :], np.array([trend[0]]), np.array([trend[1]])
    )
    assert out[0] == expected
    assert out[0] in EMERGING_CLASSES


def test_classify_emerging_vectorised_rows_match_single():
    hot = np.stack([_series(c[0]) for c in CASES])
    cold = np.stack([_series(c[1]) for c in CASES])
    tz = np.array([c[2][0] for c in CASES])
    tp = np.array([c[2][1] for c in CASES])
    assert classify_emerging(hot, cold, tz, tp).tolist() == [c[3] for c in CASES]


def test_trend_alpha_switch():
    hot = np.ones((1, 10), dtype=bool)
    cold = np.zeros((1, 10), dtype=bool)
    assert classify_emerging(hot, cold, [2.0], [0.04])[0] == "intensifying_hot_spot"
    assert classify_emerging(hot, cold, [2.0], [0.04], trend_alpha=0.01)[0] == "persistent_hot_spot"


@pytest.fixture(scope="module")
def grid():
    box = shapely.box(69.20, 41.28, 69.26, 41.32)
    cells = study_cells(gpd.GeoDataFrame(geometry=[box], crs=4326), 9)
    return cells, h3_weights(cells)


def test_emerging_fit_persistent_and_new(grid):
    cells, w = grid
    rng = np.random.default_rng(2)
    n_t = 12
    counts = rng.poisson(1.0, (cells.size, n_t)).astype(float)
    pos = {int(c): i for i, c in enumerate(cells)}
    a = h3.latlng_to_cell(41.295, 69.215, 9)
    b = h3.latlng_to_cell(41.305, 69.245, 9)
    for c in h3.grid_disk(a, 1):
        counts[pos[c], :] += 8
    for c in h3.grid_disk(b, 1):
        counts[pos[c], -1] += 12
    est = EmergingHotSpots().fit(counts, w)
    for t in (0, n_t - 1):
        ref = esda.G_Local(counts[:, t], w, transform="B", star=True, permutations=0)
        np.testing.assert_allclose(est.z[:, t], ref.Zs, rtol=1e-10, atol=1e-12)
    assert est.category[pos[a]] == "persistent_hot_spot"
    assert est.category[pos[b]] == "new_hot_spot"
    frame = est.frame(cells, "h3")
    assert frame.shape[0] == cells.size
    assert frame.loc[pos[a], "n_hot_bins"] == n_t
    assert (frame["category"] == "no_pattern").mean() > 0.8


def test_emerging_fit_shape_checks(grid):
    cells, w = grid
    with pytest.raises(ValueError, match="2-D"):
        EmergingHotSpots().fit(np.ones(cells.size), w)
    with pytest.raises(ValueError, match="units"):
        EmergingHotSpots().fit(np.ones((3, 4)), w)


def test_emerging_fit_on_no_bins_gives_a_label_per_unit():
    """A window of no months must not fail (the trailing-run count once took an argmax of an
    empty row); shapes stay (units, 0)."""
    w = sp.csr_matrix(np.array([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]]))
    ehs = EmergingHotSpots().fit(np.zeros((3, 0)), w)
    assert ehs.category.shape == (3,) and ehs.hot.shape == (3, 0) and ehs.q.shape == (3, 0)
    assert set(ehs.category) <= set(EMERGING_CLASSES)
