"""Tests for geo.placement: coverage matrix, lazy greedy vs exact MILP, budgets, existing cameras."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from riskmap.geo.placement import (
    CameraPlanner,
    candidate_cameras,
    coverage_matrix,
    coverage_matrix_by_area,
    coverage_matrix_from_arrays,
    h3_demand,
)

UTM = 32642
X0, Y0 = 500_000.0, 4_572_000.0


def random_instance(seed: int, n_d: int = 40, n_c: int = 15, density: float = 0.15):
    """A random 0/1 coverage matrix and exponential weights."""
    rng = np.random.default_rng(seed)
    a = sp.csc_matrix((rng.random((n_d, n_c)) < density).astype(np.int8))
    return a, rng.exponential(size=n_d), rng


def brute_force(a: sp.csc_matrix, w: np.ndarray, k: int) -> float:
    """Optimum by enumeration (tiny instances)."""
    from itertools import combinations

    dense = a.toarray().astype(bool)
    best = 0.0
    for combo in combinations(range(a.shape[1]), k):
        best = max(best, float(w[dense[:, list(combo)].any(axis=1)].sum()))
    return best


# ---------------------------------------------------------------- coverage matrix
def test_matrix_from_arrays_centre_rule() -> None:
    polys = np.array([shapely.box(0, 0, 10, 10), None, shapely.box(5, 5, 20, 20)])
    a = coverage_matrix_from_arrays([1.0, 7.0, 15.0, np.nan], [1.0, 7.0, 15.0, 1.0], polys)
    assert a.shape == (4, 3)
    assert a.toarray().tolist() == [[1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 0, 0]]


def test_matrix_by_area_needs_half_the_unit() -> None:
    units = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    polys = np.array([shapely.box(4, 0, 30, 10), shapely.box(6, 0, 30, 10)])
    assert coverage_matrix_by_area(units, polys).toarray().tolist() == [[1, 0], [1, 1]]


def test_matrix_through_geodataframes_refuses_missing_crs() -> None:
    demand = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])
    polys = gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(ValueError, match="CRS"):
        coverage_matrix(demand, polys)


# ---------------------------------------------------------------- greedy / MILP
def test_greedy_by_hand() -> None:
    # candidate 0 covers rows 0,1 (w 5+5); 1 covers rows 1,2 (5+4); 2 covers row 3 (w 3)
    a = sp.csc_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    w = np.array([5.0, 5.0, 4.0, 3.0])
    plan = CameraPlanner.from_matrix(a, w, k=2).solve()
    assert plan.selected["candidate"].tolist() == [0, 1]
    assert plan.gains.tolist() == [10.0, 4.0]
    assert plan.curve["covered_risk"].tolist() == [0.0, 10.0, 14.0]
    assert plan.covered_before == 0.0
    assert plan.covered_after == pytest.approx(14 / 17)


def test_existing_coverage_is_not_counted_again() -> None:
    a = sp.csc_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    w = np.array([5.0, 5.0, 4.0, 3.0])
    existing = np.array([True, True, False, False])  # rows 0,1 already watched
    plan = CameraPlanner.from_matrix(a, w, k=2, existing=existing).solve()
    assert plan.selected["candidate"].tolist() == [1, 2]
    assert plan.gains.tolist() == [4.0, 3.0]
    assert plan.covered_before == pytest.approx(10 / 17)
    assert plan.covered_after == pytest.approx(1.0)
    exact = CameraPlanner.from_matrix(a, w, k=2, existing=existing).solve("milp")
    assert exact.objective == pytest.approx(7.0)


def test_one_camera_per_site() -> None:
    # candidates 0 and 1 are two bearings at site "s1", each covering a heavy row
    a = sp.csc_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    w = np.array([10.0, 9.0, 1.0])
    sites = np.array(["s1", "s1", "s2"])
    for method in ("greedy", "milp"):
        plan = CameraPlanner.from_matrix(a, w, k=2, sites=sites).solve(method)
        assert sorted(plan.selected["candidate"].tolist()) == [0, 2]
        free = CameraPlanner.from_matrix(a, w, k=2, sites=sites, one_per_site=False).solve(method)
        assert sorted(free.selected["candidate"].tolist()) == [0, 1]


@pytest.mark.parametrize("seed", range(6))
def test_greedy_within_one_minus_one_over_e_of_milp(seed: int) -> None:
    a, w, _ = random_instance(seed)
    k = 3
    plan = CameraPlanner.from_matrix(a, w, k=k).solve("milp")
    opt = brute_force(a, w, k)
    assert plan.objective == pytest.approx(opt)
    greedy = CameraPlanner.from_matrix(a, w, k=k).solve("greedy")
    assert greedy.objective >= (1 - 1 / np.e) * opt
    assert plan.optimality_gap == pytest.approx((opt - greedy.objective) / opt, abs=1e-9)
    assert np.isnan(greedy.optimality_gap)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), per_site=st.booleans())
def test_greedy_gains_non_increasing_and_curve_consistent(
    seed: int, k: int, per_site: bool
) -> None:
    a, w, rng = random_instance(seed, n_d=60, n_c=25)
    sites = rng.integers(0, 10, size=25) if per_site else None
    existing = rng.random(60) < 0.2
    plan = CameraPlanner.from_matrix(a, w, k=k, sites=sites, existing=existing).solve()
    assert len(plan.selected) <= k
    assert np.all(np.diff(plan.gains) <= 1e-12)
    assert np.all(plan.gains > 0)
    # the curve's end equals the risk actually covered by existing + chosen cameras
    chosen = plan.selected["candidate"].to_numpy()
    covered = existing | (a[:, chosen].toarray().sum(axis=1) > 0)
    assert plan.curve["covered_risk"].iloc[-1] == pytest.approx(w[covered].sum())
    assert plan.covered_after == pytest.approx(w[covered].sum() / w.sum())
    if sites is not None:
        assert len(set(sites[chosen])) == len(chosen)


@pytest.mark.parametrize("method", ["greedy", "milp"])
def test_money_budget_respected(method: str) -> None:
    a, w, rng = random_instance(3, n_d=50, n_c=20)
    costs = rng.choice([1.0, 2.5, 4.0], size=20)
    plan = CameraPlanner.from_matrix(a, w, budget=6.0, costs=costs).solve(method)
    assert plan.selected["cost"].sum() <= 6.0
    assert plan.selected["cost"].tolist() == costs[plan.selected["candidate"]].tolist()
    both = CameraPlanner.from_matrix(a, w, budget=6.0, costs=costs, k=1).solve(method)
    assert len(both.selected) <= 1


def test_budgeted_milp_is_at_least_greedy() -> None:
    a, w, rng = random_instance(11, n_d=50, n_c=20)
    costs = rng.choice([1.0, 3.0], size=20)
    exact = CameraPlanner.from_matrix(a, w, budget=5.0, costs=costs).solve("milp")
    greedy = CameraPlanner.from_matrix(a, w, budget=5.0, costs=costs).solve("greedy")
    assert exact.objective >= greedy.objective - 1e-9
    assert exact.optimality_gap >= -1e-9


def test_bad_inputs_are_named() -> None:
    a = sp.csc_matrix(np.eye(3))
    with pytest.raises(ValueError, match=r"k .*budget"):
        CameraPlanner.from_matrix(a, np.ones(3))
    with pytest.raises(ValueError, match="weights"):
        CameraPlanner.from_matrix(a, np.ones(2), k=1)
    with pytest.raises(ValueError, match="costs"):
        CameraPlanner.from_matrix(a, np.ones(3), budget=1, costs=np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="method"):
        CameraPlanner.from_matrix(a, np.ones(3), k=1).solve("anneal")  # type: ignore[arg-type]


def test_nothing_to_gain_selects_nothing() -> None:
    a = sp.csc_matrix((3, 4), dtype=np.int8)
    plan = CameraPlanner.from_matrix(a, np.array([1.0, np.nan, 2.0]), k=2).solve()
    assert len(plan.selected) == 0
    assert plan.curve["covered_share"].tolist() == [0.0]


# ---------------------------------------------------------------- GeoDataFrame adapter
def test_candidates_site_by_type_by_bearing() -> None:
    sites = gpd.GeoDataFrame(
        {"site_id": ["a", "b"], "kind": ["school", "market"]},
        geometry=[shapely.Point(69.2, 41.3), shapely.Point(69.21, 41.3)],
        crs=4326,
    )
    cands = candidate_cameras(sites, types=["overview", "traffic"], bearings=8)
    assert len(cands) == 2 * (1 + 8)
    a = cands[cands["site_id"] == "a"]
    assert a["bearing_deg"].iloc[1:].tolist() == [
        0.0,
        45.0,
        90.0,
        135.0,
        180.0,
        225.0,
        270.0,
        315.0,
    ]
    assert np.isnan(a["bearing_deg"].iloc[0])
    assert a["fov_deg"].tolist() == [360.0] + [90.0] * 8
    assert set(a["kind"]) == {"school"}
    with pytest.raises(ValueError, match="unknown camera types"):
        candidate_cameras(sites, types=["drone"])


def test_h3_demand_splits_risk_over_children() -> None:
    import h3

    cells = np.array(
        [
            h3.str_to_int(h3.latlng_to_cell(41.31, 69.24, 9)),
            h3.str_to_int(h3.latlng_to_cell(41.35, 69.30, 9)),
        ]
    )
    demand = h3_demand(cells, np.array([343.0, 686.0]), resolution=12)
    assert len(demand) == 2 * 343
    assert demand.groupby("parent")["risk"].sum().to_dict() == {
        int(cells[0]): pytest.approx(343.0),
        int(cells[1]): pytest.approx(686.0),
    }
    assert (demand["risk"].to_numpy()[demand["parent"].to_numpy() == cells[0]] == 1.0).all()
    assert h3.int_to_str(int(demand["h3"].iloc[0])) in h3.cell_to_children(
        h3.int_to_str(int(cells[0])), 12
    )
    plain = h3_demand(cells, np.array([343.0, 686.0]), resolution=12, geometry=False)
    assert not isinstance(plain, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(plain.drop(columns=["lon", "lat"]),
                                  pd.DataFrame(demand.drop(columns="geometry")))
    np.testing.assert_array_equal(plain["lon"].to_numpy(), demand.geometry.x.to_numpy())
    np.testing.assert_array_equal(plain["lat"].to_numpy(), demand.geometry.y.to_numpy())


def test_from_geodataframes_end_to_end() -> None:
    # demand: a 10 m grid over 200 x 100 m; risk sits in two blobs, east and west
    xs, ys = np.meshgrid(np.arange(5, 200, 10.0), np.arange(5, 100, 10.0))
    xs, ys = xs.ravel(), ys.ravel()
    risk = np.where(np.hypot(xs - 30, ys - 50) < 25, 5.0, 0.0) + np.where(
        np.hypot(xs - 170, ys - 50) < 25, 2.0, 0.0
    )
    demand = gpd.GeoDataFrame(
        {"risk": risk}, geometry=gpd.points_from_xy(X0 + xs, Y0 + ys), crs=UTM
    ).to_crs(4326)
    # site w is 40 m west of the western blob's centre, site e 50 m west of the eastern one's:
    # facing east, an 80 m / 90 degree traffic camera sees a whole 25 m blob from either
    sites = gpd.GeoDataFrame(
        {"site_id": ["w", "e"], "kind": ["school", "bus_stop"]},
        geometry=[shapely.Point(X0 - 10, Y0 + 50), shapely.Point(X0 + 120, Y0 + 50)],
        crs=UTM,
    ).to_crs(4326)
    plan = CameraPlanner.from_geodataframes(
        demand, sites, types=["face_recognition", "traffic"], k=2, crs_metric=UTM
    ).solve()
    sel = plan.selected.set_index("site_id")
    assert list(sel.index) == ["w", "e"]
    assert sel["type"].tolist() == ["traffic", "traffic"]
    assert sel["bearing_deg"].tolist() == [90.0, 90.0]
    assert plan.gains.tolist() == [risk[risk == 5].sum(), risk[risk == 2].sum()]
    assert plan.covered_after == pytest.approx(1.0)
    # an existing dome at the western blob: the plan now only buys what it does not see
    existing = gpd.GeoDataFrame(
        {"camera_id": [1], "type": ["overview"]},
        geometry=[shapely.Point(X0 + 30, Y0 + 50)],
        crs=UTM,
    ).to_crs(4326)
    costs = {"face_recognition": 2.0, "traffic": 5.0}
    again = CameraPlanner.from_geodataframes(
        demand,
        sites,
        types=["face_recognition", "traffic"],
        existing_cameras=existing,
        costs=costs,
        budget=5.0,
        crs_metric=UTM,
    ).solve("milp")
    assert again.covered_before == pytest.approx(risk[risk == 5].sum() / risk.sum())
    assert again.selected["site_id"].tolist() == ["e"]
    assert again.selected["cost"].sum() <= 5.0
    assert again.covered_after == pytest.approx(1.0)
    assert again.optimality_gap == pytest.approx(0.0, abs=1e-9)
