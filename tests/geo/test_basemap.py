"""The base map's pure parts: lines as x/y, outlines per group, what an area draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.geo.basemap import BaseMap, base_map, group_outlines, line_xy


def _features(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs="EPSG:4326")


def test_line_xy_takes_parts_rings_and_skips_points_and_empties() -> None:
    multi = shapely.MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0), (3, 1)]])
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2)]])
    g = np.array([multi, shapely.Point(9, 9), None, shapely.from_wkt("LINESTRING EMPTY"),
                  holed], dtype=object)
    x, y = line_xy(g)
    assert x.dtype == np.float32 and x.flags.c_contiguous and y.flags.c_contiguous
    # 2 + 3 line vertices, 5 + 4 ring vertices, NaN between the four parts
    assert len(x) == 2 + 3 + 5 + 4 + 3 and int(np.isnan(x).sum()) == 3
    xe, _ = line_xy(g, exterior=True)  # the hole is left out (it would be filled)
    assert len(xe) == 2 + 3 + 5 + 2
    assert [len(v) for v in line_xy(np.array([], dtype=object))] == [0, 0]
    assert [len(v) for v in line_xy(np.array([shapely.Point(0, 0)], dtype=object))] == [0, 0]


def test_group_outlines_dissolve_inner_edges_and_skip_missing() -> None:
    g = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 2, 2),
                  shapely.box(5, 5, 6, 6), None, shapely.box(8, 8, 9, 9)], dtype=object)
    keys = np.array(["A", "A", "A", "B", "B", None], dtype=object)
    out = group_outlines(g, keys)
    assert list(out.index) == ["A", "B"]
    # A is the 2 x 2 square: its outline, no inner edge
    assert abs(out["A"].length - 8.0) < 1e-9 and abs(out["B"].length - 4.0) < 1e-9
    wiggly = shapely.Polygon([(0, 0), (0.5, 0.0001), (1, 0), (1, 1), (0, 1)])
    simple = group_outlines(np.array([wiggly], dtype=object), np.array(["W"]), tolerance=0.01)
    assert len(shapely.get_coordinates(simple["W"])) == 5


def test_base_map_sorts_kinds_clips_to_the_area_and_keeps_a_road_budget() -> None:
    long_road = shapely.LineString([(0, 0.5), (10, 0.5)])  # reaches far past the area
    feats = _features([
        {"kind": "water", "name": "Ko'l", "road_class": None,
         "geometry": shapely.box(0.2, 0.2, 0.4, 0.4)},
        {"kind": "river", "name": None, "road_class": None,
         "geometry": shapely.LineString([(0, 0.1), (1, 0.1)])},
        {"kind": "road", "name": None, "road_class": "motorway", "geometry": long_road},
        {"kind": "road", "name": None, "road_class": "residential",
         "geometry": shapely.LineString(np.column_stack([np.linspace(0, 1, 500),
                                                         np.linspace(0, 1, 500) ** 2]))},
        {"kind": "school", "name": "Maktab 1", "road_class": None,
         "geometry": shapely.Point(0.5, 0.5)},
        {"kind": "road", "name": None, "road_class": "motorway",
         "geometry": shapely.LineString([(50, 50), (51, 51)])},  # outside: not drawn
    ])
    box = (0.0, 0.0, 1.0, 1.0)
    got = base_map(feats, box=box, tolerance=0.0)
    assert len(got.water[0]) == 5 and len(got.rivers[0]) == 2
    assert list(got.roads) == ["motorway", "residential"]
    mx = got.roads["motorway"][0]
    assert np.nanmax(mx) <= 1.0  # cut to the area: it would widen the map
    # a budget smaller than the residential roads: the motorway alone (always drawn)
    small = base_map(feats, box=box, tolerance=0.0, max_road_points=100)
    assert list(small.roads) == ["motorway"]
    # a budget smaller than even the motorway: still the motorway
    assert list(base_map(feats, box=box, tolerance=0.0, max_road_points=1).roads) == ["motorway"]
    assert got.places.empty and not got.empty
    assert BaseMap().empty and base_map(None).empty


def test_places_go_cities_first_then_the_area_then_by_people_one_per_spot() -> None:
    feats = _features([
        {"kind": "village", "name": "Kichik", "population": 900.0,
         "geometry": shapely.Point(0.5, 0.5)},
        {"kind": "town", "name": "Katta", "population": 60_000.0,
         "geometry": shapely.Point(0.2, 0.8)},
        {"kind": "settlement", "name": "Katta (GeoNames)", "population": 55_000.0,
         "geometry": shapely.Point(0.21, 0.81)},  # the same town from a second source
        {"kind": "city", "name": "Poytaxt", "population": np.nan,
         "geometry": shapely.Point(1.5, 1.5)},  # a city just outside the area
        {"kind": "settlement", "name": "Tashqari", "population": 80_000.0,
         "geometry": shapely.Point(1.4, 1.4)},  # outside the area
        {"kind": "village", "name": "  ", "population": 5.0,
         "geometry": shapely.Point(0.6, 0.6)},  # no name: not a label
        {"kind": "settlement", "name": "Shahar", "population": 150_000.0,
         "geometry": shapely.box(0.7, 0.1, 0.9, 0.3)},  # a polygon: its point on surface
    ])
    got = base_map(feats, box=(-1.0, -1.0, 2.0, 2.0), focus=(0.0, 0.0, 1.0, 1.0))
    assert got.places["name"].tolist() == ["Shahar", "Poytaxt", "Katta", "Kichik", "Tashqari"]
    assert got.places["major"].tolist() == [True, True, False, False, False]
    assert abs(got.places["x"].iloc[0] - 0.8) < 0.11
    assert base_map(feats, box=(-1.0, -1.0, 2.0, 2.0), max_places=2).places["name"].tolist() \
        == ["Shahar", "Poytaxt"]
    # without a population column the places keep the file's order within their group
    plain = base_map(feats.drop(columns=["population"]), box=(-1.0, -1.0, 2.0, 2.0))
    assert plain.places["name"].tolist()[0] == "Poytaxt"


def test_group_outlines_drop_sliver_holes_but_keep_an_enclave() -> None:
    # four squares that do not quite meet (a crack of 1e-7 between them, as in real layers),
    # around a 1 x 1 enclave (a city district inside another)
    e = 1e-7
    ring = [shapely.box(0, 0, 3, 1 - e), shapely.box(0, 2 + e, 3, 3),
            shapely.box(0, 1, 1 - e, 2), shapely.box(2 + e, 1, 3, 2),
            shapely.box(1.4, 1.4, 1.6, 1.6)]  # an island in the enclave, same district
    out = group_outlines(np.array(ring, dtype=object), np.array(["D"] * 5), tolerance=0.01)
    # the outer square, the enclave's edge and the island: no crack lines
    polys = [shapely.Polygon(r) for r in shapely.get_parts(out["D"]).tolist()]
    areas = sorted(round(p.area, 3) for p in polys)
    assert areas == [0.04, 1.0, 9.0]
    big = group_outlines(np.array(ring, dtype=object), np.array(["D"] * 5), tolerance=0.01,
                         min_hole=2.0)["D"]
    assert len(big.geoms) == 2  # the enclave's hole is gone too: the outer ring and the island
    # no closing without a tolerance: the cracks stay (four squares, the island)
    assert len(group_outlines(np.array(ring, dtype=object), np.array(["D"] * 5))["D"].geoms) == 5
