"""Tests for the empirical-Bayes ``shrink`` and Abramson ``adaptive`` forecast methods."""

import numpy as np
import pandas as pd
import pytest

import h3.api.basic_int as h3

from riskmap.geo.forecast import (
    ForecastGrid,
    ForecastParams,
    describe_params,
    h3_units,
    hex_kde,
    method_scores,
    tune_params,
)
from riskmap.geo.forecast_methods import (
    ADAPTIVE_LEVELS_M,
    adaptive_levels,
    exposure_years,
    shrunk_rates,
)

CENTRE = (41.3, 69.25)
CUT = pd.Timestamp("2025-01-01", tz="UTC")


@pytest.fixture(scope="module")
def units():
    """1,261 res-9 cells: 20 rings around one centre."""
    return h3_units(np.array(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 20), dtype=np.int64))


def _frame(cells, days_before):
    return pd.DataFrame({"occurred_at": CUT - pd.to_timedelta(np.asarray(days_before), unit="D"),
                         "h3": np.asarray(cells, dtype=np.int64)})


# --------------------------------------------------------------------------- pure helpers


def test_exposure_years_known_values():
    assert exposure_years(365.0, None) == pytest.approx(1.0)
    assert exposure_years(0.0, 730.0) == 0.0
    # one half-life of history with decay: hl / ln 2 x (1 - 1/2) days
    assert exposure_years(730.0, 730.0) == pytest.approx(730 / np.log(2) * 0.5 / 365)
    # a long history is worth hl / ln 2, however long
    assert exposure_years(1e7, 365.0) == pytest.approx(1 / np.log(2))


def test_shrunk_rates_between_counts_and_the_smooth_surface():
    counts = np.array([6.0, 0.0, 2.0, 0.0])
    smooth = np.array([1.0, 3.0, 0.0, 0.0])  # rescaled to the counts' total: 2, 6, 0, 0
    area = np.ones(4)
    # k = 0: the counts per year
    assert np.allclose(shrunk_rates(counts, smooth, area, 2.0, 0.0), counts / 2)
    # k large: the smooth surface per year, same total as the counts
    assert np.allclose(shrunk_rates(counts, smooth, area, 2.0, 1e9), [1.0, 3.0, 0.0, 0.0])
    # k = exposure: halfway, by hand: (6 + 2 x 2/2) / 4 = 2
    assert np.allclose(shrunk_rates(counts, smooth, area, 2.0, 2.0), [2.0, 1.5, 0.5, 0.0])
    # unequal areas: totals are matched over area (densities x km²)
    got = shrunk_rates(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([2.0, 1.0]),
                       1.0, 1e9)
    assert np.allclose(got, [0.0, 2.0])
    # no smooth mass at all: plain counts, no NaN
    assert np.allclose(shrunk_rates(counts, np.zeros(4), area, 2.0, 2.0), counts / 4)


def test_adaptive_levels_follow_the_square_root_law():
    lv = np.array(ADAPTIVE_LEVELS_M)
    # uniform pilot density: every source keeps the pilot bandwidth
    assert (lv[adaptive_levels(np.full(5, 3.0), np.ones(5), 200.0)] == 200.0).all()
    # 16x denser than the geometric mean: a quarter of the bandwidth; 16x sparser: 4x wider
    pilot = np.array([16.0, 1.0, 1.0 / 16])
    assert lv[adaptive_levels(pilot, np.ones(3), 200.0)].tolist() == [50.0, 200.0, 800.0]
    # a source without pilot density gets the widest kernel; massless sources do not count
    # in the geometric mean
    got = adaptive_levels(np.array([0.0, 4.0, 1.0, 100.0]), np.array([1.0, 1, 1, 0]), 150.0)
    assert lv[got].tolist()[:3] == [1200.0, 100.0, 200.0]


# --------------------------------------------------------------------------- methods


def test_shrink_scores_are_the_posterior_rates(units):
    rng = np.random.default_rng(0)
    cells = rng.choice(units.ids[:300], 400)
    days = rng.uniform(1, 1000, 400)
    inc = _frame(cells, days)
    prm = ForecastParams(shrink_bandwidth_m=400.0, shrink_half_life_days=365.0,
                         shrink_k_years=0.5)
    got = method_scores("shrink", units, inc, CUT, params=prm)
    w = 0.5 ** (days / 365.0)
    counts = np.bincount(np.searchsorted(units.ids, cells), weights=w, minlength=units.ids.size)
    smooth = hex_kde(cells, units.ids, 400.0, w)
    expo = exposure_years(days.max(), 365.0)
    assert np.allclose(got, shrunk_rates(counts, smooth, units.area, expo, 0.5))
    assert np.allclose(got.sum() * (expo + 0.5), counts.sum() * (1 + 0.5 / expo))
    assert describe_params(prm.of("shrink")) == (
        "towards a KDE of 400 m, half-life 365 d, prior weight 0.5 years")


def test_adaptive_kde_widens_the_kernel_of_an_isolated_event(units):
    dense_cell, lone_cell = h3.latlng_to_cell(*CENTRE, 9), h3.latlng_to_cell(41.31, 69.26, 9)
    assert lone_cell in set(units.ids.tolist())
    cells = [dense_cell] * 64 + [lone_cell]
    inc = _frame(cells, np.full(65, 10.0))
    prm = ForecastParams(adaptive_bandwidth_m=200.0, adaptive_half_life_days=None)
    got = method_scores("adaptive", units, inc, CUT, params=prm)
    # the mass-weighted geometric mean pilot is near the dense cell's: it keeps ~200 m, the
    # lone event (64x sparser pilot) gets a kernel ~8x wider (capped at the largest level)
    pilot = hex_kde(np.array(cells), np.array([dense_cell, lone_cell]), 200.0)
    lv = np.array(ADAPTIVE_LEVELS_M)[adaptive_levels(pilot, np.array([64.0, 1.0]), 200.0)]
    assert lv[0] == 200.0 and lv[1] >= 1200.0
    expected = (hex_kde(np.array([dense_cell] * 64), units.ids, lv[0])
                + hex_kde(np.array([lone_cell]), units.ids, lv[1]))
    assert np.allclose(got, expected)
    # the total mass is still one per event (density x cell area summed over the cells)
    assert got.sum() * h3.cell_area(int(dense_cell), "km^2") == pytest.approx(65, rel=0.05)


def _sparse_world(seed, *, smooth):
    """Three years of a steady intensity: a smooth bump, or 30 isolated hot cells."""
    rng = np.random.default_rng(seed)
    n = 1800
    if smooth:
        lat = CENTRE[0] + rng.normal(0, 0.01, n)
        lon = CENTRE[1] + rng.normal(0, 0.013, n)
        cells = np.array([h3.latlng_to_cell(a, b, 9) for a, b in zip(lat, lon, strict=True)])
    else:
        hot = rng.choice(np.array(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 15)), 30)
        cells = rng.choice(hot, n)
    return _frame(cells, rng.uniform(0, 1095, n))


@pytest.mark.parametrize("smooth", [True, False])
def test_tuned_prior_weight_follows_the_data(units, smooth):
    """A smooth intensity seen through sparse counts wants a strong prior; isolated hot
    cells want the counts themselves (the smooth surface spills onto empty neighbours)."""
    inc = _sparse_world(5, smooth=smooth)
    grid = ForecastGrid(shrink_bandwidth_m=(400.0,), shrink_half_life_days=(None,))
    got = tune_params(units, inc, CUT - pd.Timedelta(days=1), horizon_days=91,
                      methods=["shrink"], grid=grid)["shrink"]
    assert got.tuned and got.folds >= 3
    k = got.params["shrink_k_years"]
    assert (k >= 1.0) if smooth else (k <= 0.25)
