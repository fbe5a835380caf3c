"""Tests of geo.zones on a tiny constructed zone (coordinates in UTM 42N metres)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely
from shapely import LineString, Point, box

from riskmap.geo.zones import (
    ReadinessThresholds,
    in_season,
    land_part,
    readiness_checklist,
    zone_figures,
    zone_reach_samples,
)

UTM = "EPSG:32642"
X0, Y0 = 500_000.0, 4_400_000.0
SHIFT = np.array([X0, Y0])


def _geo(geom):
    """Local metre offsets -> absolute UTM coordinates (None stays None)."""
    return None if geom is None else shapely.transform(geom, lambda c: c + SHIFT)


def _infra(rows) -> gpd.GeoDataFrame:
    """Infrastructure layer in EPSG:4326 from (feature_id, kind, name, geometry[, extra]) rows."""
    frame = pd.DataFrame([{"feature_id": r[0], "kind": r[1], "name": r[2],
                           "geometry": _geo(r[3]), **(r[4] if len(r) > 4 else {})}
                          for r in rows])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=UTM).to_crs(4326)


ZONE = ("z1", "tourist_zone", "Aydar ko'li", box(0, 0, 1_000, 1_000),
        {"season_start": "05-01", "season_end": "09-30"})
TOWN = ("t1", "town", "Farish", Point(-10_000, 500))
ROAD = ("r1", "road", "A-376", LineString([(-10_000, 500), (2_000, 500)]),
        {"road_class": "primary", "speed_kmh": 60.0})
POWER = ("p1", "power_line", "35 kV", LineString([(-5_000, 2_500), (5_000, 2_500)]))
POLICE = ("pp1", "police_post", "Post 7", Point(-5_000, 600))
EMERGENCY = ("e1", "emergency_service", "112 Farish", Point(-9_000, 500))
MEDICAL = ("m1", "medical", "First aid", Point(500, 500))
ENTRANCE = ("en1", "entrance", "West gate", Point(0, 500))
SITES = [("c1", "camp", "Camp A", Point(250, 250)),
         ("b1", "beach", "Beach", box(400, 0, 1_000, 200)),
         ("c2", "camp", "Far camp", Point(5_000, 5_000))]


def _coverage() -> gpd.GeoSeries:
    """Cameras cover the western half of the zone."""
    return gpd.GeoSeries([_geo(box(0, 0, 500, 1_000))], crs=UTM).to_crs(4326)


def _zone_row(infra: gpd.GeoDataFrame) -> pd.Series:
    return infra.loc[infra["kind"] == "tourist_zone"].iloc[0]


def _incidents() -> pd.DataFrame:
    rows = [  # (x, y, occurred_at UTC, category)
        (100, 100, "2024-07-10T08:00Z", "theft"),
        (900, 900, "2024-12-01T08:00Z", "theft"),
        (500, 500, "2024-04-30T20:00Z", "assault"),  # 1 May 01:00 in Tashkent: in season
        (1_500, 500, "2024-08-01T08:00Z", "robbery"),  # in the buffer only
        (10_000, 10_000, "2024-07-01T08:00Z", "theft"),  # far away
        (None, None, "2024-07-01T08:00Z", "fraud"),  # no location
    ]
    pts = gpd.GeoSeries([None if r[0] is None else _geo(Point(r[0], r[1])) for r in rows],
                        crs=UTM).to_crs(4326)
    return pd.DataFrame({"lon": pts.x, "lat": pts.y,
                         "occurred_at": pd.to_datetime([r[2] for r in rows], utc=True),
                         "category": [r[3] for r in rows]})


# --------------------------------------------------------------------------- seasons


def test_season_wrapping_the_new_year():
    when = ["2024-12-31T12:00Z", "2024-02-29T12:00Z", "2024-03-02T12:00Z", "2024-11-15T00:00Z",
            "2024-07-01T00:00Z", "2024-03-01T20:00Z", None]
    got = in_season(when, "11-15", "03-01")
    # 1 March 20:00 UTC is already 2 March in Tashkent; NaT is never in season
    assert got.tolist() == [True, True, False, True, False, False, False]
    assert in_season(["2024-03-01T20:00Z"], "11-15", "03-01", tz="UTC").tolist() == [True]


def test_season_within_one_year_and_bad_dates():
    when = pd.to_datetime(["2024-05-31T18:00Z", "2024-05-31T20:00Z", "2024-09-15T12:00Z"],
                          utc=True)
    assert in_season(when, "06-01", "09-15").tolist() == [False, True, True]
    with pytest.raises(ValueError, match="'6/1'"):
        in_season(when, "6/1", "09-15")
    with pytest.raises(ValueError, match="'13-01'"):
        in_season(when, "13-01", "09-15")


# --------------------------------------------------------------------------- figures


def test_zone_figures():
    infra = _infra([ZONE, TOWN, ROAD, ENTRANCE, *SITES])
    fig = zone_figures(_zone_row(infra), infra, _incidents(), _coverage())
    assert fig["name"] == "Aydar ko'li"
    assert (fig["season_start"], fig["season_end"]) == ("05-01", "09-30")
    assert fig["area_km2"] == pytest.approx(1.0, rel=1e-6)
    assert fig["camera_coverage_pct"] == pytest.approx(50.0, abs=1e-3)
    # the road runs x = -2 km .. 2 km (its end) inside the 2 km buffer; x = 0..500 m is covered
    assert fig["access_road_km"] == pytest.approx(4.0, abs=1e-3)
    assert fig["access_road_covered_pct"] == pytest.approx(12.5, abs=1e-2)
    sites = {s["feature_id"]: s for s in fig["sites"]}
    assert set(sites) == {"c1", "b1", "en1"}
    assert sites["c1"]["covered"] and sites["en1"]["covered"]
    assert sites["b1"]["covered_share"] == pytest.approx(1 / 6, abs=1e-4)
    assert not sites["b1"]["covered"]
    assert (fig["sites_covered"], fig["sites_total"]) == (2, 3)
    zone, around = fig["incidents"]["zone"], fig["incidents"]["buffer"]
    assert (zone["total"], zone["in_season"], zone["off_season"]) == (3, 2, 1)
    assert zone["by_category"] == {"assault": {"total": 1, "in_season": 1, "off_season": 0},
                                   "theft": {"total": 2, "in_season": 1, "off_season": 1}}
    assert (around["total"], around["in_season"], around["off_season"]) == (4, 3, 1)
    assert around["by_category"]["robbery"] == {"total": 1, "in_season": 1, "off_season": 0}
    assert fig["incidents_unlocated"] == 1


def test_zone_figures_wrapping_season_geodataframe_and_no_cameras():
    infra = _infra([ZONE])
    inc = _incidents()
    points = gpd.GeoDataFrame(inc.drop(columns=["lon", "lat"]),
                              geometry=gpd.points_from_xy(inc["lon"], inc["lat"]), crs=4326)
    fig = zone_figures(_zone_row(infra).geometry, infra, points, None, buffer_m=100,
                       season=("11-15", "03-01"))
    assert fig["name"] is None
    assert fig["camera_coverage_pct"] == 0.0
    assert fig["access_road_km"] == 0.0 and math.isnan(fig["access_road_covered_pct"])
    assert fig["sites"] == []
    zone = fig["incidents"]["zone"]
    # only the 1 December theft falls in a winter season
    assert (zone["total"], zone["in_season"], zone["off_season"]) == (3, 1, 2)
    assert fig["incidents"]["buffer"]["total"] == 3  # the robbery is 500 m out


def test_zone_without_season_counts_totals_only():
    infra = _infra([ZONE[:4]])
    fig = zone_figures(_zone_row(infra), infra, _incidents())
    assert fig["season_start"] is None
    assert fig["incidents"]["zone"]["in_season"] is None
    assert fig["incidents"]["zone"]["by_category"]["theft"]["total"] == 2


def test_zone_figures_rejects_bad_input():
    infra = _infra([ZONE])
    with pytest.raises(ValueError, match="lon"):
        zone_figures(_zone_row(infra), infra, pd.DataFrame(
            {"x": [1.0], "occurred_at": [pd.Timestamp("2024-01-01", tz="UTC")],
             "category": ["theft"]}))
    with pytest.raises(ValueError, match="Polygon"):
        zone_figures(Point(0, 0).buffer(0), infra, _incidents())
    with pytest.raises(ValueError, match="Polygon"):
        zone_figures(Point(69, 40), infra, _incidents())


# --------------------------------------------------------------------------- checklist


def _check(rows, **kw) -> dict[str, dict]:
    infra = _infra(rows)
    items = readiness_checklist(_zone_row(infra), infra, kw.pop("coverage", _coverage()), **kw)
    return {i["item"]: i for i in items}


FULL = [ZONE, TOWN, ROAD, POWER, POLICE, EMERGENCY, MEDICAL, ENTRANCE]


def test_checklist_all_pass():
    items = _check(FULL)
    assert list(items) == ["road_access", "power_line", "police_post", "emergency_service",
                           "medical", "entrance_cameras"]
    assert all(i["ok"] for i in items.values())
    assert items["road_access"]["value"] == pytest.approx(10.0, abs=0.01)
    assert "Farish" in items["road_access"]["detail"]
    assert items["power_line"]["value"] == pytest.approx(1.5, abs=1e-3)
    # the travel items time the farthest point of the zone, a corner 500 m off the road:
    # 100 m to the road at 15 km/h (0.4 min), 6 km at 60 km/h less the 129 m cut where
    # leaving the road pays (cos = 15/60), then 515 m across at 15 km/h
    cut = 500 * 0.25 / math.sqrt(1 - 0.25 ** 2)
    off = math.hypot(cut, 500) / 250
    assert items["police_post"]["value"] == pytest.approx(0.4 + (6_000 - cut) / 1000 + off,
                                                          abs=0.01)
    assert items["emergency_service"]["value"] == pytest.approx(9.0 + 1 - cut / 1000 + off,
                                                                abs=0.01)
    # the first-aid post inside the zone is not the whole answer: the corners are 2.4 min away
    assert items["medical"]["value"] == pytest.approx((500 - cut) / 1000 + off, abs=0.01)
    assert items["medical"]["share_beyond"] == 0.0
    assert "0% of the zone is more than 30 min from a medical service" in \
        items["medical"]["detail"]
    assert items["entrance_cameras"]["value"] == 1.0
    assert {i["unit"] for i in items.values()} == {"min", "km", "share"}


def test_checklist_failures_report_their_figures():
    far_police = ("pp1", "police_post", "Post 7", Point(-30_000, 500))  # 30 km, no road
    far_power = ("p1", "power_line", "35 kV", LineString([(-5_000, 4_000), (5_000, 4_000)]))
    items = _check([ZONE, TOWN, ROAD, far_power, far_police, EMERGENCY, MEDICAL],
                   thresholds={"road_minutes": 5.0, "emergency_minutes": 8.0})
    assert not items["road_access"]["ok"]
    assert items["road_access"]["threshold"] == 5.0
    assert not items["power_line"]["ok"]
    assert items["power_line"]["value"] == pytest.approx(3.0, abs=1e-3)
    police = items["police_post"]
    assert not police["ok"]
    # no road within 1 km of the post: straight across country (15 km/h) to the far corners
    assert police["value"] == pytest.approx(math.hypot(31_000, 500) / 250, abs=0.01)
    assert police["share_beyond"] == 1.0
    assert police["detail"].startswith("100% of the zone is more than 20 min")
    assert not items["emergency_service"]["ok"]
    assert items["emergency_service"]["share_beyond"] == 1.0
    # no entrance features: the road crosses the boundary at x=0 (covered) and x=1000 (not)
    entrances = items["entrance_cameras"]
    assert entrances["value"] == 0.5 and not entrances["ok"]
    assert "1 of 2" in entrances["detail"]


def test_checklist_missing_layers():
    items = _check([ZONE], coverage=None)
    assert not any(i["ok"] for i in items.values())
    assert all(np.isnan(i["value"]) for i in items.values())
    assert items["road_access"]["detail"] == "no town in the layer"
    assert items["police_post"]["detail"] == "no police post in the layer"


def test_checklist_no_road_into_the_zone_and_no_cameras():
    short = ("r1", "road", "A-376", LineString([(-10_000, 500), (-3_000, 500)]),
             {"road_class": "primary"})
    items = _check([ZONE, TOWN, short, ENTRANCE], coverage=None,
                   thresholds=ReadinessThresholds(entrance_coverage=0.0))
    assert not items["road_access"]["ok"]
    assert math.isnan(items["road_access"]["value"])
    assert items["entrance_cameras"]["value"] == 0.0
    assert items["entrance_cameras"]["ok"]  # a zero threshold passes with no cameras
    with pytest.raises(ValueError, match="unknown"):
        _check([ZONE], thresholds={"police_km": 1})


def test_travel_item_fails_when_the_far_end_of_the_zone_is_beyond_the_limit():
    """A post inside the zone at its west end: the zone is not reached, most of it is far."""
    long_zone = ("z1", "tourist_zone", "Long beach", box(0, 0, 6_000, 1_000))
    post = ("pp1", "police_post", "West post", Point(100, 500))
    far_camp = ("c9", "camp", "East <camp>", Point(5_800, 500))
    near_camp = ("c1", "camp", "West camp", Point(600, 500))
    items = _check([long_zone, post, far_camp, near_camp], coverage=None,
                   thresholds={"police_minutes": 10.0, "sample_spacing_m": 100.0})
    police = items["police_post"]
    # no roads: straight across country at 15 km/h = 250 m/min, 10 min = a 2.5 km disc
    disc = Point(100, 500).buffer(2_500, quad_segs=256)
    beyond = 1 - disc.intersection(box(0, 0, 6_000, 1_000)).area / 6e6
    assert not police["ok"]
    assert police["share_beyond"] == pytest.approx(beyond, abs=0.01)
    assert police["share_beyond"] > 0.5
    # the farthest point is an east corner, 5.92 km from the post
    assert police["value"] == pytest.approx(math.hypot(5_900, 500) / 250, abs=0.05)
    far = gpd.GeoSeries.from_xy([police["farthest_lon"]], [police["farthest_lat"]],
                                crs=4326).to_crs(UTM).iloc[0]
    assert far.x - X0 == pytest.approx(6_000, abs=1) and far.y - Y0 in (
        pytest.approx(0, abs=1), pytest.approx(1_000, abs=1))
    assert police["sites_beyond"] == 1
    assert police["detail"] == (f"{round(100 * beyond)}% of the zone is more than 10 min from a "
                                f"police post; farthest point {police['value']:.1f} min "
                                "(camp East <camp> 22.8 min)")
    # a tolerance above the share beyond passes only if no camp is beyond: here one is
    tol = _check([long_zone, post, far_camp], coverage=None,
                 thresholds={"police_minutes": 10.0, "beyond_tolerance": 0.9})
    assert not tol["police_post"]["ok"]
    tol = _check([long_zone, post, near_camp], coverage=None,
                 thresholds={"police_minutes": 10.0, "beyond_tolerance": 0.9})
    assert tol["police_post"]["ok"] and tol["police_post"]["share_beyond"] > 0.5


def test_travel_items_measure_only_the_land_part_of_a_zone_with_water():
    """A zone around a lake: help goes to the shore, not into the open water."""
    long_zone = ("z1", "tourist_zone", "Lake shore", box(0, 0, 6_000, 1_000))
    post = ("pp1", "police_post", "West post", Point(100, 500))
    # the lake fills the zone east of x = 1500 and spills beyond it
    lake = ("w1", "water", "Lake", box(1_500, -2_000, 9_000, 3_000))
    camp = ("c1", "camp", "Shore camp", Point(1_300, 500))
    th = {"police_minutes": 10.0, "sample_spacing_m": 100.0}
    items = _check([long_zone, post, lake, camp], coverage=None, thresholds=th)
    police = items["police_post"]
    assert police["ok"] and police["share_beyond"] == 0.0
    # the farthest land is a corner at the water's edge: (1500, 0) or (1500, 1000)
    assert police["value"] == pytest.approx(math.hypot(1_400, 500) / 250, abs=0.02)
    far = gpd.GeoSeries.from_xy([police["farthest_lon"]], [police["farthest_lat"]],
                                crs=4326).to_crs(UTM).iloc[0]
    assert far.x - X0 == pytest.approx(1_500, abs=1)
    assert police["detail"].startswith(
        "0% of the land part of the zone is more than 10 min from a police post; farthest "
        f"point {police['value']:.1f} min (camp Shore camp")
    # the same zone without the lake: most of it is open country beyond the limit
    dry = _check([long_zone, post, camp], coverage=None, thresholds=th)["police_post"]
    assert not dry["ok"] and dry["share_beyond"] > 0.5
    assert dry["detail"].startswith(f"{round(100 * dry['share_beyond'])}% of the zone is more")
    # water away from the zone changes nothing; a zone all water keeps the whole zone
    pond = ("w2", "water", "Pond", box(20_000, 0, 21_000, 1_000))
    assert _check([long_zone, post, camp, pond], coverage=None,
                  thresholds=th)["police_post"] == dry
    infra = _infra([long_zone, ("w3", "water", "Sea", box(-100, -100, 6_100, 1_100))])
    assert land_part(_zone_row(infra), infra) is None
    infra = _infra([long_zone, lake])
    land = gpd.GeoSeries([land_part(_zone_row(infra), infra)], crs=4326).to_crs(UTM)
    assert land.area.iloc[0] == pytest.approx(1_500_000, rel=1e-3)


def test_zone_reach_samples_weights_and_bad_spacing():
    xy, w = zone_reach_samples(shapely.Polygon([(0, 0), (1_000, 0), (0, 1_000)]), 100.0)
    assert w.sum() == pytest.approx(500_000, rel=1e-9)  # the triangle's area, cell by cell
    inside = shapely.contains_xy(shapely.Polygon([(0, 0), (1_000, 0), (0, 1_000)]).buffer(1e-6),
                                 xy[:, 0], xy[:, 1])
    assert inside.all()
    assert (w == 0).sum() > 0  # boundary samples
    xy, w = zone_reach_samples(box(0, 0, 100_000, 100_000), 10.0, max_samples=1_000)
    assert (w > 0).sum() <= 1_100
    empty_xy, empty_w = zone_reach_samples(shapely.Polygon(), 100.0)
    assert empty_xy.shape == (0, 2) and empty_w.size == 0
    with pytest.raises(ValueError, match="sample_spacing_m"):
        zone_reach_samples(box(0, 0, 1, 1), 0.0)
