"""Tests for geo.forecast: selection metrics on toy cases, kernels, and a synthetic backtest."""

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3.api.basic_int as h3
import shapely
from h3ronpy.vector import coordinates_to_cells

from riskmap.geo.forecast import (
    ForecastParams,
    backtest,
    evaluate_forecast,
    h3_units,
    hex_kde,
    mahalla_units,
    method_scores,
    score_selection,
    select_units,
)
from riskmap.geo.hotspots import study_cells

BOX = (69.15, 41.25, 69.30, 41.36)


def test_score_selection_equal_areas_hand_checked():
    scores = np.arange(10, 0, -1).astype(float)
    counts = np.array([1, 0, 3, 0, 0, 0, 5, 0, 0, 1])
    r = score_selection(scores, np.ones(10), counts, 0.2)
    assert (r["hits"], r["best_hits"]) == (1.0, 8.0)
    assert r["hit_rate"] == pytest.approx(0.1)
    assert r["area_share"] == pytest.approx(0.2)
    assert r["pai"] == pytest.approx(0.5)
    assert r["pei"] == pytest.approx(1 / 8)
    r = score_selection(scores, np.ones(10), counts, 0.3)
    assert r["hit_rate"] == pytest.approx(0.4)
    assert r["pai"] == pytest.approx(4 / 3)
    assert r["pei"] == pytest.approx(4 / 9)


def test_score_selection_unequal_areas_hand_checked():
    area = np.array([1.0, 4, 1, 2, 2])
    scores = np.array([5.0, 4, 3, 2, 1])
    counts = np.array([2, 8, 1, 4, 0])
    r = score_selection(scores, area, counts, 0.5)  # budget 5 km²: units 0 and 1
    assert r["hits"] == 10 and r["area_share"] == pytest.approx(0.5)
    assert r["hit_rate"] == pytest.approx(10 / 15)
    assert r["pai"] == pytest.approx(4 / 3)
    assert r["best_hits"] == 10 and r["pei"] == pytest.approx(1.0)
    # scores that favour the big empty unit 4
    r = score_selection(np.array([0.0, 0, 0, 0, 9]), area, counts, 0.2)
    assert r["hits"] == 0 and r["pei"] == 0


def test_select_units_always_one_and_no_tests():
    assert select_units(np.array([1.0, 2, 3]), np.ones(3), 0.01).tolist() == [False, False, True]
    r = score_selection(np.ones(3), np.ones(3), np.zeros(3), 0.5)
    assert np.isnan(r["hit_rate"]) and np.isnan(r["pai"]) and np.isnan(r["pei"])


def test_hex_kde_single_event_is_normalised():
    c = h3.latlng_to_cell(41.3, 69.25, 9)
    lattice = np.array(h3.grid_disk(c, 12), dtype=np.int64)
    dens = hex_kde(np.array([c, 0]), lattice, bandwidth_m=400)
    sigma = 0.4
    assert dens[lattice == c][0] == pytest.approx(1 / (2 * np.pi * sigma**2))
    cell_km2 = h3.cell_area(c, "km^2")
    assert dens.sum() * cell_km2 == pytest.approx(1.0, rel=0.03)
    far = hex_kde(np.array([c]), np.array([h3.latlng_to_cell(41.5, 69.25, 9)]), 400)
    assert far[0] == 0


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(42)
    n_bg, n_hot, days = 2500, 1500, 730
    lon = rng.uniform(BOX[0], BOX[2], n_bg)
    lat = rng.uniform(BOX[1], BOX[3], n_bg)
    centres = np.array([[69.18, 41.28], [69.25, 41.33], [69.27, 41.29]])
    k = rng.integers(0, 3, n_hot)
    lon = np.r_[lon, centres[k, 0] + rng.normal(0, 0.004, n_hot)]
    lat = np.r_[lat, centres[k, 1] + rng.normal(0, 0.003, n_hot)]
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, days, lon.size), unit="D"
    )
    cells = np.asarray(coordinates_to_cells(lat, lon, 9)).view(np.int64)
    xs = np.linspace(BOX[0], BOX[2], 5)
    ys = np.linspace(BOX[1], BOX[3], 5)
    polys = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(4) for j in range(4)]
    mahallas = gpd.GeoDataFrame(
        {"mahalla_id": [f"m{i}" for i in range(16)]}, geometry=polys, crs=4326
    )
    col = np.clip(np.searchsorted(xs, lon) - 1, 0, 3)
    row = np.clip(np.searchsorted(ys, lat) - 1, 0, 3)
    inc = pd.DataFrame(
        {
            "occurred_at": t,
            "h3": cells,
            "mahalla_id": mahallas["mahalla_id"].to_numpy()[col * 4 + row],
        }
    )
    return inc, mahallas


def test_naive_on_tiny_world(world):
    _, mahallas = world
    units = h3_units(study_cells(mahallas, 9))
    n = units.ids.size
    x, y, z = units.ids[10], units.ids[20], units.ids[30]
    inc = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(
                [
                    "2025-01-10",
                    "2025-01-11",
                    "2025-01-12",
                    "2025-01-20",
                    "2025-02-02",
                    "2025-02-03",
                    "2025-02-04",
                    "2025-03-10",
                ],
                utc=True,
            ),
            "h3": [x, x, x, y, x, x, z, x],
        }
    )
    scores = method_scores("naive", units, inc, "2025-02-01", horizon_days=28)
    assert scores[10] == 3 and scores[20] == 1 and scores.sum() == 4
    res = evaluate_forecast(
        inc, units, "2025-02-01", horizon_days=28, methods=["naive"], coverages=[1.5 / n]
    )
    assert res["test_incidents"] == 3  # x, x, z; the March one is past the horizon
    row = res["methods"][0]
    assert row["hit_rate"] == pytest.approx(2 / 3)
    assert row["pai"] == pytest.approx((2 / 3) * n)
    assert row["pei"] == pytest.approx(1.0)


def test_unknown_method_rejected(world):
    inc, mahallas = world
    with pytest.raises(ValueError, match="unknown method"):
        method_scores("oracle", mahalla_units(mahallas), inc, "2025-01-01")


def test_mahalla_units_areas(world):
    _, mahallas = world
    u = mahalla_units(mahallas)
    total = gpd.GeoSeries([shapely.box(*BOX)], crs=4326).to_crs(32642).area.iloc[0] / 1e6
    assert u.area.sum() == pytest.approx(total, rel=1e-3)
    assert set(np.unique(u.lattice_unit)) == set(range(16))


def test_mahalla_units_reject_empty_geometry(world):
    _, mahallas = world
    broken = mahallas.copy()
    broken.loc[3, "geometry"] = None
    with pytest.raises(ValueError, match=r"no geometry \(e.g. \['m3'\]\)"):
        mahalla_units(broken)


def test_best_method_beats_naive_on_synthetic_world(world):
    inc, mahallas = world
    units = h3_units(study_cells(mahallas, 9))
    res = backtest(inc, units, folds=3, horizon_days=14, coverages=[0.05])
    assert len(res["folds"]) == 3
    cut = [f["cutoff"] for f in res["folds"]]
    assert cut[1] - cut[0] == pd.Timedelta(days=14) and cut[2] - cut[1] == pd.Timedelta(days=14)
    assert res["test_incidents"] == sum(f["test_incidents"] for f in res["folds"]) > 0
    pai = {r["method"]: r["pai"] for r in res["methods"]}
    assert set(pai) == {"naive", "kde", "gi", "near_repeat"}
    assert max(pai["kde"], pai["gi"], pai["near_repeat"]) > pai["naive"]
    assert pai["kde"] > 3  # clusters hold ~40% of events on a few % of the area
    for r in res["methods"]:
        assert 0 <= r["pei"] <= 1 and r["pai_std"] >= 0


def test_mahalla_backtest_runs(world):
    inc, mahallas = world
    res = backtest(
        inc,
        mahalla_units(mahallas),
        folds=2,
        horizon_days=28,
        coverages=[0.1, 0.25],
        params=ForecastParams(lookback_days=180),
    )
    assert {r["coverage"] for r in res["methods"]} == {0.1, 0.25}
    for r in res["methods"]:
        assert 0 <= r["hit_rate"] <= 1
