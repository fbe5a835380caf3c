"""Tests for geo.viewshed: flat ground is fully visible, a ridge hides what lies behind it."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

import geopandas as gpd
import shapely

from riskmap.geo.coverage import coverage_polygons
from riskmap.geo.viewshed import viewshed_mask, viewshed_polygon

UTM = 32642
X0, Y0 = 500_000.0, 4_572_000.0
# 60 x 60 grid of 1 m cells with its north-west corner at (X0, Y0 + 60)
T = Affine(1, 0, X0, 0, -1, Y0 + 60)


def centre_distance(shape: tuple[int, int], x: float, y: float) -> np.ndarray:
    """Distance from (x, y) to every cell centre of the grid T."""
    rows, cols = np.indices(shape)
    return np.hypot(X0 + cols + 0.5 - x, Y0 + 60 - rows - 0.5 - y)


def test_flat_terrain_is_fully_visible_within_range() -> None:
    flat = np.zeros((60, 60))
    x, y = X0 + 30.5, Y0 + 30.5
    mask = viewshed_mask(flat, T, x, y, height_m=3.0, range_m=20.0)
    np.testing.assert_array_equal(mask, centre_distance(flat.shape, x, y) <= 20.0)


def test_ridge_blocks_the_far_side() -> None:
    surface = np.zeros((60, 60))
    surface[:, 40] = 10.0  # a 10 m wall running north-south at column 40 (x = X0 + 40 .. 41)
    x, y = X0 + 20.5, Y0 + 30.5  # camera 3 m high, 20 m west of the ridge
    mask = viewshed_mask(surface, T, x, y, height_m=3.0, range_m=35.0)
    row = 29  # the camera's row
    assert mask[row, 21:41].all()  # up to and including the ridge top
    assert not mask[row, 41:56].any()  # everything behind it, within range
    assert not mask[:, 41:].any()
    # west of the camera nothing blocks
    np.testing.assert_array_equal(
        mask[:, :20], centre_distance(surface.shape, x, y)[:, :20] <= 35.0
    )


def test_high_observer_sees_over_the_ridge_beyond_its_shadow() -> None:
    surface = np.zeros((60, 60))
    surface[:, 40] = 10.0
    x, y = X0 + 20.5, Y0 + 30.5
    # eye at 30 m: the line over the ridge top (drop of 20 m over 20 m) meets the ground 30 m
    # from the camera; 10 m behind the ridge is hidden, farther is visible
    mask = viewshed_mask(surface, T, x, y, height_m=30.0, range_m=39.0)
    assert not mask[29, 42:49].any()
    assert mask[29, 52:59].all()


def test_observer_outside_raster_sees_nothing() -> None:
    flat = np.zeros((10, 10))
    assert not viewshed_mask(flat, T, X0 - 100, Y0, height_m=5, range_m=50).any()
    assert viewshed_polygon(flat, T, X0 - 100, Y0, height_m=5, range_m=50).is_empty


def test_nan_cells_are_not_visible() -> None:
    surface = np.zeros((60, 60))
    surface[:, 45:] = np.nan
    mask = viewshed_mask(surface, T, X0 + 30.5, Y0 + 30.5, height_m=2, range_m=25)
    assert mask[29, 30:45].all()
    assert not mask[:, 45:].any()


def test_polygon_is_the_union_of_visible_cells() -> None:
    flat = np.zeros((60, 60))
    mask = viewshed_mask(flat, T, X0 + 30.5, Y0 + 30.5, height_m=3.0, range_m=10.0)
    poly = viewshed_polygon(flat, T, X0 + 30.5, Y0 + 30.5, height_m=3.0, range_m=10.0)
    assert poly.area == pytest.approx(mask.sum())  # 1 m2 cells
    assert poly.contains(shapely.Point(X0 + 30.5, Y0 + 30.5))


def test_coverage_polygon_cut_by_viewshed() -> None:
    surface = np.zeros((60, 60))
    surface[:, 40] = 10.0
    cams = gpd.GeoDataFrame(
        {"type": ["traffic"], "bearing_deg": [90.0], "range_m": [35.0], "height_m": [3.0]},
        geometry=[shapely.Point(X0 + 20.5, Y0 + 30.5)],
        crs=UTM,
    ).to_crs(4326)
    plain = coverage_polygons(cams, crs_metric=UTM).to_crs(UTM).iloc[0]
    seen = coverage_polygons(cams, viewshed=(surface, T, UTM)).to_crs(UTM).iloc[0]
    assert plain.contains(shapely.Point(X0 + 50, Y0 + 30.5))
    assert not seen.contains(shapely.Point(X0 + 50, Y0 + 30.5))
    assert seen.contains(shapely.Point(X0 + 35, Y0 + 30.5))
    assert seen.area < plain.area
