"""Point-in-polygon and snapping against independent computations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import shapely

from riskmap.geo.join import PolygonIndex, utm_epsg

GRID = np.array([shapely.box(67.8 + c * 0.01, 40.1 + r * 0.01, 67.81 + c * 0.01, 40.11 + r * 0.01)
                 for r in range(3) for c in range(3)])
INDEX = PolygonIndex(GRID)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(67.79, 67.84), st.floats(40.09, 40.14)), min_size=1,
                max_size=50))
def test_locate_matches_shapely_contains(points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    got = INDEX.locate(lon, lat)
    for x, y, g in zip(lon, lat, got, strict=True):
        inside = [i for i, poly in enumerate(GRID) if poly.contains(shapely.Point(x, y))]
        assert g == (inside[0] if inside else -1)


def test_missing_coordinates_never_match():
    assert INDEX.locate(np.array([np.nan, 67.805]), np.array([40.105, np.nan])).tolist() == [-1, -1]


def test_nearest_within_measures_metres():
    # 0.001 deg of longitude at 40.1N is about 85 m
    idx, dist = INDEX.nearest_within(np.array([67.799, 67.79, 67.805]),
                                     np.array([40.105, 40.105, 40.105]), 200)
    assert idx.tolist() == [0, -1, 0]
    assert 80 < dist[0] < 90 and np.isnan(dist[1]) and dist[2] == 0


def test_overlaps_pick_the_lowest_index():
    polys = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)])
    assert PolygonIndex(polys).locate(np.array([1.5]), np.array([1.5])).tolist() == [0]


def test_utm_zone():
    assert utm_epsg(67.8, 40.1) == 32642 and utm_epsg(65.8, 38.9) == 32641
    assert utm_epsg(-70, -33) == 32719
