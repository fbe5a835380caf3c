"""Tests for etl.hotspots_job: counts, rates, Gi*, trends, status, KDE and evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import esda
import geopandas as gpd
import h3
import shapely
from libpysal.weights import Queen

from riskmap.etl.hotspots_job import (
    analysis_mask,
    compute_hotspots,
    default_window,
    evaluate,
    gi_star,
    hotspot_table,
    kde,
    status_history_frame,
    study_units,
    trends_and_status,
)
from riskmap.geo.forecast import ALL_METHODS
from riskmap.geo.hotspots import hotspots_h3, study_cells
from tests import fixtures


def _cell(lon: float, lat: float, res: int = 9) -> int:
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, res)))


def _incidents(rows: list[tuple[str, float, float, str, str]]) -> gpd.GeoDataFrame:
    """Incidents from (mahalla_id, lon, lat, when, category)."""
    return gpd.GeoDataFrame(
        {
            "mahalla_id": [r[0] for r in rows],
            "h3": np.array([_cell(r[1], r[2]) for r in rows], dtype=np.int64),
            "occurred_at": pd.to_datetime([r[3] for r in rows], utc=True, format="ISO8601"),
            "category": [r[4] for r in rows],
        },
        geometry=[shapely.Point(r[1], r[2]) for r in rows],
        crs=4326,
    )


@pytest.fixture
def mahallas() -> gpd.GeoDataFrame:
    """The tiny world's four mahallas (M4 has no population)."""
    return fixtures.mahallas()


@pytest.fixture
def tiny_incidents() -> gpd.GeoDataFrame:
    """The tiny world's six incidents (one fraud with no place)."""
    return fixtures.incidents()


# ---- windows and masks ---------------------------------------------------------------------------

def test_default_window_is_the_last_full_months() -> None:
    frame = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-03-02", "2024-12-15"], utc=True)})
    running = pd.Timestamp("2024-12-20", tz="UTC")  # December is still running: left out
    assert default_window(frame, 12, now=running) == (pd.Timestamp("2023-12-01", tz="UTC"),
                                                      pd.Timestamp("2024-12-01", tz="UTC"))
    over = pd.Timestamp("2025-02-01", tz="UTC")  # December is over: its data are complete
    assert default_window(frame, 12, now=over) == (pd.Timestamp("2024-01-01", tz="UTC"),
                                                   pd.Timestamp("2025-01-01", tz="UTC"))
    closed = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-12-31T18:00"], utc=True)})
    assert default_window(closed, 3, now=running) == (pd.Timestamp("2024-10-01", tz="UTC"),
                                                      pd.Timestamp("2025-01-01", tz="UTC"))
    one_month = pd.DataFrame({"occurred_at": pd.to_datetime(["2025-03-05"], utc=True)})
    start, end = default_window(one_month, 12)  # data of one past month: that month is in
    assert start <= one_month["occurred_at"].iloc[0] < end
    empty = pd.DataFrame({"occurred_at": pd.to_datetime([], utc=True)})
    assert default_window(empty) == (None, None)


def test_analysis_mask_window_categories_and_non_spatial(tiny_incidents: pd.DataFrame) -> None:
    # I6 is fraud: off the H3 level unless asked for, always on the mahalla level
    assert analysis_mask(tiny_incidents, level="h3").tolist() == [True] * 5 + [False]
    assert analysis_mask(tiny_incidents, level="h3", include_non_spatial=True).all()
    assert analysis_mask(tiny_incidents, level="mahalla").all()
    # half-open window [2024-02-10 08:15, 2024-03-15): I2 and I3 only
    got = analysis_mask(tiny_incidents, level="mahalla",
                        start=pd.Timestamp("2024-02-10T08:15Z"), end="2024-03-15")
    assert got.tolist() == [False, True, True, False, False, False]
    got = analysis_mask(tiny_incidents, level="mahalla", categories=["theft", "fraud"])
    assert got.tolist() == [True, False, True, False, False, True]


# ---- counts, rates, Gi* --------------------------------------------------------------------------

def test_mahalla_counts_and_rates_by_hand(mahallas: gpd.GeoDataFrame,
                                          tiny_incidents: pd.DataFrame) -> None:
    out = compute_hotspots(tiny_incidents, mahallas, level="mahalla")
    assert out["id"].tolist() == ["M1", "M2", "M3", "M4"]
    # the fraud counts for M2 (victim's mahalla)
    assert out["count"].tolist() == [2, 2, 1, 1]
    # 2/1200*1000, 2/800*1000, 1/450*1000, unknown population
    np.testing.assert_allclose(out["rate"].to_numpy()[:3], [5 / 3, 2.5, 20 / 9])
    assert np.isnan(out["rate"].iloc[3])
    only_2024 = compute_hotspots(tiny_incidents, mahallas, level="mahalla",
                                 start=pd.Timestamp("2024-01-01", tz="UTC"),
                                 end=pd.Timestamp("2025-01-01", tz="UTC"))
    assert only_2024["count"].tolist() == [2, 1, 1, 0]


def test_h3_counts_leave_out_non_spatial_unless_asked(mahallas: gpd.GeoDataFrame,
                                                      tiny_incidents: pd.DataFrame) -> None:
    out = compute_hotspots(tiny_incidents, mahallas, level="h3")
    assert set(out.columns) >= {"id", "count", "rate", "gi_z", "gi_p", "gi_class"}
    assert out["id"].dtype == np.int64
    assert np.array_equal(out["id"].to_numpy(), study_cells(mahallas, 9))
    assert out["count"].sum() == 5
    assert out["rate"].isna().all()  # no population on cells
    fraud_cell = int(tiny_incidents["h3"].iloc[5])
    by_cell = out.set_index("id")["count"]
    with_fraud = compute_hotspots(tiny_incidents, mahallas, level="h3",
                                  include_non_spatial=True).set_index("id")["count"]
    assert with_fraud.sum() == 6
    assert with_fraud[fraud_cell] == by_cell[fraud_cell] + 1


def test_coarser_resolutions_count_parents(mahallas: gpd.GeoDataFrame,
                                           tiny_incidents: pd.DataFrame) -> None:
    out = compute_hotspots(tiny_incidents, mahallas, level="h3", res=8).set_index("id")
    parents = pd.Series([h3.cell_to_parent(h3.int_to_str(int(c)), 8)
                         for c in tiny_incidents["h3"].iloc[:5]]).map(h3.str_to_int)
    expected = parents[parents.isin(out.index)].value_counts()
    assert out.loc[expected.index, "count"].tolist() == expected.tolist()
    assert out["count"].sum() == expected.sum()


def test_gi_matches_esda_on_mahallas() -> None:
    grid = gpd.GeoDataFrame(
        {"mahalla_id": [f"G{i}" for i in range(16)], "population": 1000.0},
        geometry=[shapely.box(c, r, c + 1, r + 1) for r in range(4) for c in range(4)],
        crs=4326)
    counts = [0, 1, 0, 0, 2, 9, 3, 0, 0, 4, 1, 0, 0, 0, 0, 1]
    rows = [(f"G{i}", 0.5, 0.5, "2024-05-01", "theft") for i, k in enumerate(counts)
            for _ in range(k)]
    out = compute_hotspots(_incidents(rows), grid, level="mahalla")
    assert out["count"].tolist() == counts
    w = Queen.from_dataframe(grid, use_index=False, silence_warnings=True)
    g = esda.G_Local(np.array(counts, dtype=float), w, transform="B", star=True)
    np.testing.assert_allclose(out["gi_z"].to_numpy(), g.Zs, rtol=1e-9)
    # by hand for G0 (neighbourhood G0, G1, G4, G5: 12 incidents; n = 16, total 21)
    mean, var = 21 / 16, 113 / 16 - (21 / 16) ** 2
    assert out["gi_z"].iloc[0] == pytest.approx((12 - 4 * mean) / np.sqrt(var * 4 * 12 / 15))


def test_h3_gi_matches_phase_one_hotspots_h3(mahallas: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(3)
    lon = 67.845 + rng.normal(0, 0.001, 40)
    lat = 40.105 + rng.normal(0, 0.001, 40)
    rows = [("M1", x, y, "2024-06-01", "theft") for x, y in zip(lon, lat, strict=True)]
    rows += [("M4", 67.857, 40.117, "2024-06-02", "theft")]
    inc = _incidents(rows)
    ours = compute_hotspots(inc, mahallas, level="h3")
    ref = hotspots_h3(inc["h3"].to_numpy(), study_cells(mahallas, 9))
    np.testing.assert_array_equal(ours["count"], ref["count"])
    np.testing.assert_allclose(ours["gi_z"], ref["gi_z"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["gi_p"], ref["gi_p"], rtol=1e-9, atol=1e-12)
    assert ours["gi_class"].tolist() == ref["gi_class"].tolist()
    assert ours["gi_class"].str.startswith("hot").any()


def test_gi_star_constant_counts_are_not_significant() -> None:
    _, w = study_units(fixtures.mahallas(), level="mahalla")
    z, p, _q, cls = gi_star(np.zeros(4), w)
    assert z.tolist() == [0.0] * 4 and p.tolist() == [1.0] * 4
    assert cls.tolist() == ["not_significant"] * 4


def test_study_units_are_cached_and_star(mahallas: gpd.GeoDataFrame) -> None:
    ids, w = study_units(mahallas, level="mahalla")
    assert ids.tolist() == ["M1", "M2", "M3", "M4"]
    # queen over the 2x2 grid: everyone touches everyone, plus the self weight
    assert w.toarray().tolist() == [[1.0] * 4] * 4
    assert study_units(mahallas, level="mahalla")[1] is w
    with pytest.raises(ValueError, match="level"):
        study_units(mahallas, level="district")


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.05, 0.95), st.floats(0.05, 0.95),
                          st.integers(0, 700), st.sampled_from(["theft", "fraud", "assault"])),
                max_size=40))
def test_counts_add_up(draw: list[tuple[int, float, float, int, str]]) -> None:
    mahallas = fixtures.mahallas()
    rows = []
    for m, fx, fy, day, cat in draw:
        x0, y0 = fixtures.ORIGIN[0] + (m % 2) * fixtures.SIZE, fixtures.ORIGIN[1] + (m // 2) * 0.01
        when = (pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day)).isoformat()
        rows.append((f"M{m + 1}", x0 + fx * 0.01, y0 + fy * 0.01, when, cat))
    inc = _incidents(rows) if rows else _incidents([("M1", 67.845, 40.105, "2020-01-01",
                                                     "theft")]).iloc[:0]
    start, end = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
    per_m = compute_hotspots(inc, mahallas, level="mahalla", start=start, end=end)
    in_window = [(r[3] >= 60) and (r[3] < 366) for r in draw]
    assert per_m["count"].sum() == sum(in_window)
    cells = compute_hotspots(inc, mahallas, level="h3", start=start, end=end)
    spatial = inc["h3"].isin(cells["id"]).to_numpy() & (inc["category"] != "fraud").to_numpy()
    assert cells["count"].sum() == int((spatial & np.array(in_window, dtype=bool)).sum())
    assert set(cells["gi_class"]) <= {"hot_99", "hot_95", "hot_90", "not_significant",
                                      "cold_90", "cold_95", "cold_99"}


# ---- trends and status ---------------------------------------------------------------------------

def test_new_hot_spot_and_status(mahallas: gpd.GeoDataFrame) -> None:
    # 10 incidents in each of 7 cells (a cell of M1 and its ring) in December 2024 only,
    # and one in M4 long before: the centre is a new hot spot
    centre = h3.latlng_to_cell(40.1025, 67.8425, 9)
    ring = [h3.cell_to_latlng(c) for c in h3.grid_disk(centre, 1)]
    rows = [("M1", lng, lat, f"2024-12-{d:02d}T10:00Z", "theft")
            for lat, lng in ring for d in range(1, 11)]
    rows += [("M4", 67.8575, 40.1175, "2024-01-15T10:00Z", "theft")]
    inc = _incidents(rows)
    hot_cell = _cell(67.8425, 40.1025)
    out = trends_and_status(inc, mahallas, level="h3", end=pd.Timestamp("2025-01-01", tz="UTC"))
    row = out.set_index("id").loc[hot_cell]
    assert row["trend"] == "new_hot_spot"
    assert row["status"] == "red"
    assert row["why"].startswith("red: 10 incidents in 12 months; Gi* z=")
    # a cell without any incident in the window is green
    empty = out[~out["id"].isin(inc["h3"])].iloc[0]
    assert empty["status"] == "green"
    assert empty["why"] == "green: no recorded crime in 12 months"
    per_m = trends_and_status(inc, mahallas, level="mahalla",
                              end=pd.Timestamp("2025-01-01", tz="UTC")).set_index("id")
    # M2 and M3 had nothing in the 12 months: green; M1 and M4 had incidents
    assert per_m.loc[["M2", "M3"], "status"].tolist() == ["green", "green"]
    assert per_m.loc["M1", "status"] in {"yellow", "red"}
    assert per_m.loc["M1", "why"].startswith(per_m.loc["M1", "status"] + ": ")
    assert per_m.loc["M4", "why"].startswith(per_m.loc["M4", "status"] + ": 1 incident in")


def test_status_history_month_by_month(mahallas: gpd.GeoDataFrame,
                                       tiny_incidents: pd.DataFrame) -> None:
    hist = status_history_frame(tiny_incidents, mahallas,
                                start=pd.Timestamp("2024-01-01", tz="UTC"),
                                end=pd.Timestamp("2024-05-01", tz="UTC"))
    assert list(hist.columns[:4]) == ["mahalla_id", "month", "status", "why"]
    assert len(hist) == 4 * 4  # 4 mahallas x Jan..Apr 2024
    m1 = hist[hist["mahalla_id"] == "M1"].set_index("month")["count"]
    assert m1.tolist() == [1, 2, 2, 2]  # I1 in January, I2 in February (12-month window)
    m4 = hist[hist["mahalla_id"] == "M4"]
    assert (m4["status"] == "green").all()


def test_hotspot_table_joins_trend_and_status(mahallas: gpd.GeoDataFrame,
                                              tiny_incidents: pd.DataFrame) -> None:
    table = hotspot_table(tiny_incidents, mahallas, level="mahalla")
    assert list(table.columns) == ["id", "count", "rate", "gi_z", "gi_p", "gi_q", "gi_class",
                                   "trend", "status", "why"]
    assert table["status"].isin(["green", "yellow", "red"]).all()


# ---- KDE -----------------------------------------------------------------------------------------

def test_kde_mass_location_and_non_spatial() -> None:
    rows = [("M1", 67.845, 40.105, "2024-06-01", "theft")] * 10
    rows += [("M1", 67.845, 40.105, "2024-06-01", "fraud")] * 7
    inc = _incidents(rows)
    bounds = (67.83, 40.09, 67.87, 40.13)
    surface = kde(inc, bandwidth_m=200, cell_m=50, bounds=bounds)
    cell_km2 = (surface.transform.a / 1000) ** 2
    assert surface.array.sum() * cell_km2 == pytest.approx(10, rel=1e-3)
    row, col = np.unravel_index(np.argmax(surface.array), surface.array.shape)
    x, y = surface.transform @ (col + 0.5, row + 0.5)
    from pyproj import Transformer
    lon, lat = Transformer.from_crs(surface.crs, 4326, always_xy=True).transform(x, y)
    assert abs(lon - 67.845) < 0.001 and abs(lat - 40.105) < 0.001
    both = kde(inc, bandwidth_m=200, cell_m=50, bounds=bounds, include_non_spatial=True)
    assert both.array.sum() * cell_km2 == pytest.approx(17, rel=1e-3)


def test_kde_uses_cell_centres_without_points() -> None:
    inc = pd.DataFrame(_incidents([("M1", 67.845, 40.105, "2024-06-01", "theft")] * 4)
                       .drop(columns="geometry"))
    surface = kde(inc, bandwidth_m=200, cell_m=50)
    # the default grid pads 3 bandwidths around the points: < 1 % of the mass leaks out
    assert surface.array.sum() * (0.05**2) == pytest.approx(4, rel=1e-2)


# ---- evaluation ----------------------------------------------------------------------------------

def test_evaluate_finds_the_repeat_cell(mahallas: gpd.GeoDataFrame) -> None:
    # the same cell every few days for a year: every method should rank it first
    days = pd.date_range("2024-01-01", "2024-12-31", freq="3D", tz="UTC")
    rows = [("M1", 67.8425, 40.1025, d.isoformat(), "theft") for d in days]
    rows += [("M4", 67.8575, 40.1175, "2024-03-01", "theft")]
    report = evaluate(_incidents(rows), mahallas, cutoff="2024-12-01", horizon_days=30)
    test_n = int(((days >= pd.Timestamp("2024-12-01", tz="UTC"))
                  & (days < pd.Timestamp("2024-12-31", tz="UTC"))).sum())
    assert report["test_incidents"] == test_n
    assert {r["method"] for r in report["methods"]} == set(ALL_METHODS)
    for r in report["methods"]:
        # Gi* smooths over neighbours (an edge neighbour with fewer neighbours can outrank the
        # cell itself), the others rank the repeat cell first
        if r["method"] != "gi":
            assert r["hit_rate"] == pytest.approx(1.0)
    n_cells = len(study_cells(mahallas, 9))
    at5 = next(r for r in report["methods"] if r["method"] == "kde" and r["coverage"] == 0.05)
    assert at5["pai"] == pytest.approx(n_cells / max(int(0.05 * n_cells), 1))
    assert set(report["best"]) == {"0.01", "0.02", "0.05", "0.1"}


def test_evaluate_folds_report_spread(mahallas: gpd.GeoDataFrame) -> None:
    days = pd.date_range("2024-01-01", "2024-12-31", freq="2D", tz="UTC")
    rows = [("M1", 67.8425, 40.1025, d.isoformat(), "theft") for d in days]
    report = evaluate(_incidents(rows), mahallas, level="mahalla", horizon_days=30, folds=3)
    assert len(report["folds"]) == 3 and len(report["cutoffs"]) == 3
    assert all("pai_std" in r for r in report["methods"])
    assert report["test_incidents"] == sum(f["test_incidents"] for f in report["folds"])
