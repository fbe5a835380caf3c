"""Tests of geo.network on small hand-made road graphs (coordinates in UTM 42N metres)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely
from shapely import LineString, MultiLineString, Point, box

from riskmap.geo.isochrones import isochrone_share, isochrones, sample_travel_time
from riskmap.geo.network import build_road_graph, time_to_area, to_metric_xy, travel_times

UTM = "EPSG:32642"
X0, Y0 = 500_000.0, 4_400_000.0  # on the central meridian of zone 42: little distortion
SHIFT = np.array([X0, Y0])
SQRT15 = math.sqrt(15.0)


def _roads(lines, classes, speeds=None) -> gpd.GeoDataFrame:
    """Roads from local (x, y) metre offsets."""
    geoms = [None if ln is None else shapely.transform(ln, lambda c: c + SHIFT)
             for ln in lines]
    data = {"road_class": classes}
    if speeds is not None:
        data["speed_kmh"] = speeds
    return gpd.GeoDataFrame(data, geometry=geoms, crs=UTM)


def _pts(*xy) -> gpd.GeoSeries:
    """Points from local metre offsets (None stays None)."""
    return gpd.GeoSeries([None if p is None else Point(X0 + p[0], Y0 + p[1]) for p in xy],
                         crs=UTM)


def _lonlat(geom):
    """A local-metre geometry as EPSG:4326."""
    moved = shapely.transform(geom, lambda c: c + SHIFT)
    return gpd.GeoSeries([moved], crs=UTM).to_crs(4326).iloc[0]


@pytest.fixture
def branch_graph() -> nx.Graph:
    """A 10 km primary road at 60 km/h along y=0, and a 3 km track branching south at 5 km."""
    roads = _roads([LineString([(0, 0), (10_000, 0)]), LineString([(5_000, 0), (5_000, -3_000)])],
                   ["primary", "track"], [60.0, None])
    return build_road_graph(roads)


# --------------------------------------------------------------------------- building


def test_build_t_junction_splits_the_road(branch_graph):
    g = branch_graph
    assert g.number_of_nodes() == 4  # two road ends, the junction, the track end
    assert g.number_of_edges() == 3
    assert nx.is_connected(g)
    minutes = sorted(d["minutes"] for _, _, d in g.edges(data=True))
    # 5 km at 60 km/h twice; the track at the class default 20 km/h: 3 km -> 9 min
    assert minutes == pytest.approx([5.0, 5.0, 9.0])
    assert {d["road_class"] for _, _, d in g.edges(data=True)} == {"primary", "track"}
    assert g.graph["crs"].to_epsg() == 32642
    lon = sorted(d["lon"] for _, d in g.nodes(data=True))
    assert lon[0] == pytest.approx(69.0)  # x=500 000 is the central meridian 69 E


@pytest.mark.parametrize(("snap_m", "components"), [(5.0, 1), (1.0, 2), (0.0, 2)])
def test_snap_joins_near_ends(snap_m, components):
    roads = _roads([LineString([(0, 0), (1_000, 0)]), LineString([(1_003, 0), (2_000, 0)])],
                   ["tertiary", "tertiary"])
    g = build_road_graph(roads, snap_m=snap_m)
    assert nx.number_connected_components(g) == components


def test_crossing_without_shared_vertex_is_a_bridge():
    roads = _roads([LineString([(0, 0), (1_000, 0)]), LineString([(500, -500), (500, 500)])],
                   ["motorway", "secondary"])
    g = build_road_graph(roads)
    assert nx.number_connected_components(g) == 2


def test_parallel_edges_keep_the_fastest_and_custom_speeds():
    roads = _roads([LineString([(0, 0), (1_000, 0)]), LineString([(1_000, 0), (0, 0)])],
                   ["track", "motorway"])
    g = build_road_graph(roads, speeds={"track": 10.0})
    (_, _, d), = g.edges(data=True)
    assert d["road_class"] == "motorway"
    assert d["minutes"] == pytest.approx(1.0 / 90.0 * 60.0)
    slow = build_road_graph(roads.iloc[:1], speeds={"track": 10.0})
    (_, _, d), = slow.edges(data=True)
    assert d["minutes"] == pytest.approx(6.0)
    # the graph carries its fastest edge's speed, which the zone report reads instead of the edges
    assert g.graph["top_speed_kmh"] == 90.0 and slow.graph["top_speed_kmh"] == 10.0


def test_unknown_class_multilines_and_missing_geometries():
    roads = _roads([MultiLineString([[(0, 0), (500, 0)], [(500, 0), (500, 500)]]), None,
                    LineString()], ["lane", "primary", "primary"])
    g = build_road_graph(roads, default_kmh=30.0)
    assert g.number_of_nodes() == 3
    assert sum(d["minutes"] for _, _, d in g.edges(data=True)) == pytest.approx(2.0)


def test_build_rejects_points_and_missing_crs():
    with pytest.raises(ValueError, match="expected LineString"):
        build_road_graph(gpd.GeoDataFrame({"road_class": ["primary"]},
                                          geometry=[Point(X0, Y0)], crs=UTM))
    with pytest.raises(ValueError, match="no CRS"):
        build_road_graph(gpd.GeoDataFrame({"road_class": ["primary"]},
                                          geometry=[LineString([(0, 0), (1, 0)])]))
    with pytest.raises(ValueError, match="snap_m"):
        build_road_graph(_roads([LineString([(0, 0), (1, 0)])], ["primary"]), snap_m=-1)


def test_empty_roads_give_an_empty_graph():
    g = build_road_graph(_roads([None], ["primary"]))
    assert g.number_of_nodes() == 0
    assert travel_times(g, _pts((0, 0))).empty


# --------------------------------------------------------------------------- travel times


def test_travel_times_end_of_road_and_branch(branch_graph):
    t = travel_times(branch_graph, _pts((0, 0)))
    ends = sample_travel_time(branch_graph, t, _pts((10_000, 0), (5_000, -3_000), (2_500, 0)))
    assert ends == pytest.approx([10.0, 14.0, 2.5])
    assert set(t["source"]) == {0}


def test_access_leg_and_cutoff(branch_graph):
    # 250 m off the road at 15 km/h (250 m/min): one minute to reach the road
    t = travel_times(branch_graph, _pts((0, -250)))
    assert t["minutes"].min() == pytest.approx(1.0)
    assert t["minutes"].max() == pytest.approx(15.0)
    cut = travel_times(branch_graph, _pts((0, 0)), max_minutes=12)
    assert cut["minutes"].max() == pytest.approx(10.0)
    assert len(cut) == 3
    far = travel_times(branch_graph, _pts((0, -5_000)), max_access_m=1_000)
    assert far.empty


def test_two_sources_take_the_nearer(branch_graph):
    t = travel_times(branch_graph, _pts(None, (0, 0), (10_000, 0)))
    ends = sample_travel_time(branch_graph, t, _pts((3_000, 0), (7_000, 0), (5_000, -3_000)))
    assert ends == pytest.approx([3.0, 3.0, 14.0])
    assert sorted(t["source"].unique()) == [1, 2]


def test_sample_leaves_the_road_at_the_refraction_angle(branch_graph):
    t = travel_times(branch_graph, _pts((0, 0)))
    # 1 km beside the road near its end: the best exit gives s0/v_road + h*sqrt(1-k^2)/v_off
    # with k = 15/60: 10 + 1000 * sqrt(15)/4 / 250
    got = sample_travel_time(branch_graph, t, _pts((10_000, 1_000), None))
    assert got[0] == pytest.approx(10.0 + SQRT15)
    assert np.isnan(got[1])


@settings(max_examples=40, deadline=None)
@given(st.floats(-3_000, 13_000), st.floats(-4_000, 4_000))
def test_sample_matches_brute_force_on_one_edge(px, py):
    g = build_road_graph(_roads([LineString([(0, 0), (10_000, 0)])], ["primary"], [60.0]))
    t = travel_times(g, _pts((0, 0)))
    s = np.linspace(0, 10_000, 20_001)  # 0.5 m steps
    brute = (s / 1000.0 + np.hypot(px - s, py) / 250.0).min()
    got = sample_travel_time(g, t, _pts((px, py)))[0]
    assert got <= brute + 1e-9
    assert got == pytest.approx(brute, abs=1e-3)


def test_to_metric_xy_accepts_lonlat_arrays():
    xy = to_metric_xy(np.array([[69.0, 0.0], [np.nan, np.nan]]), UTM)
    assert xy[0] == pytest.approx([500_000.0, 0.0])
    assert np.isnan(xy[1]).all()


# --------------------------------------------------------------------------- isochrones


def _expected_share(minutes: float) -> float:
    """Reachable share of the 10 km square north of the road, from the hull geometry.

    Start radius R = 250 m/min * T, and k = 15/60 gives tangents at cos = 1/4 on every
    disc, so the boundary is a quarter-circle arc up to x = R/4 and then the line
    y = R*sqrt(15)/4 - (x - R/4)/sqrt(15), up to the reach (T <= 10) or the road end.
    """
    r = 250.0 * minutes
    xt, yt = r / 4.0, r * SQRT15 / 4.0
    arc = 0.5 * (xt * yt + r * r * math.asin(0.25))
    x_end = min(1_000.0 * minutes, 10_000.0)
    line = (x_end - xt) * (yt - (x_end - xt) / (2.0 * SQRT15))
    return (arc + line) / 1e8


def test_isochrone_shares_on_a_square_zone(branch_graph):
    t = travel_times(branch_graph, _pts((0, 0)))
    zone = _lonlat(box(0, 0, 10_000, 10_000))
    iso = isochrones(branch_graph, t, (10, 20, 30), zone=zone, quad_segs=32)
    assert iso.crs.to_epsg() == 4326
    share = isochrone_share(zone, iso)
    expected = [_expected_share(m) for m in (10, 20, 30)]
    assert expected == pytest.approx([0.12893, 0.38661, 0.64395], abs=1e-4)
    assert share["within"].to_numpy() == pytest.approx(expected, abs=1e-3)
    assert share["beyond"].to_numpy() == pytest.approx(1 - np.array(expected), abs=1e-3)
    assert share["area_km2"].to_numpy() == pytest.approx(np.array(expected) * 100, abs=0.1)


def test_isochrones_agree_with_sampled_times(branch_graph):
    t = travel_times(branch_graph, _pts((0, 0)))
    iso = isochrones(branch_graph, t, (8, 16)).to_crs(UTM)
    gx, gy = np.meshgrid(np.linspace(-3_000, 13_000, 33), np.linspace(-6_000, 4_000, 21))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    times = sample_travel_time(branch_graph, t, _pts(*xy))
    for limit, geom in zip(iso["minutes"], iso.geometry, strict=True):
        inside = shapely.contains_xy(geom, xy[:, 0] + X0, xy[:, 1] + Y0)
        clear = np.abs(times - limit) > 0.05  # stay off the polygonised boundary
        assert np.array_equal(inside[clear], (times <= limit)[clear])


def test_isochrones_when_nothing_is_reached(branch_graph):
    iso = isochrones(branch_graph, pd.Series(dtype=float), (10,))
    assert iso["minutes"].tolist() == [10.0]
    assert iso.is_empty.all()
    share = isochrone_share(_lonlat(box(0, 0, 100, 100)), iso)
    assert share.loc[10.0, "within"] == 0.0
    assert share.loc[10.0, "beyond"] == 1.0


def test_time_to_area_counts_from_the_boundary_crossing(branch_graph):
    t = travel_times(branch_graph, _pts((0, 0)))
    minutes, source = time_to_area(branch_graph, t, _lonlat(box(7_500, -100, 12_000, 100)))
    assert minutes == pytest.approx(7.5, abs=0.01)  # the zone edge is 7.5 km down the road
    assert source == 0
    assert math.isnan(time_to_area(branch_graph, t, _lonlat(box(0, 5_000, 100, 5_100)))[0])


def test_source_joins_at_the_foot_of_its_edge():
    roads = _roads([LineString([(0, 0), (10_000, 0)])], ["primary"], [60.0])
    g = build_road_graph(roads)
    t = travel_times(g, _pts((3_000, 250)))  # 1 min to the foot at 3 km, then 1 km/min
    assert t["minutes"].sort_values().tolist() == pytest.approx([4.0, 8.0])
    # on its own long edge a place is reached via an end (documented over-estimate) ...
    assert sample_travel_time(g, t, _pts((3_000, 0)))[0] == pytest.approx(7.0)
    # ... which densifying removes
    dense = build_road_graph(roads, max_segment_m=1_000)
    assert dense.number_of_nodes() == 11
    td = travel_times(dense, _pts((3_000, 250)))
    assert sample_travel_time(dense, td, _pts((3_000, 0), (0, 0)))[0] == pytest.approx(1.0)
    assert td["minutes"].max() == pytest.approx(8.0)
