"""Buildings in the infrastructure layer and a DEM in settings cut camera coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import rasterio
import shapely

from riskmap.errors import ConfigError
from riskmap.etl.derive_coverage import build, coverage_layers, read_dem
from riskmap.settings import Settings
from tests.etl.test_derive_coverage import (
    A_CENTRE,
    M_LAT,
    M_LON,
    UNTIL,
    _dome_area,
    coverage_world,
    world_cameras,
    world_incidents,
    world_infrastructure,
    world_mahallas,
)


def _with_building() -> gpd.GeoDataFrame:
    """The world's infrastructure plus a building just east of the dome camera in A."""
    infra = world_infrastructure()
    x0, y0 = A_CENTRE
    dx, dy = 20 / M_LON, 40 / M_LAT  # 20 m east of the camera, 80 m tall (north-south)
    block = shapely.box(x0 + dx, y0 - dy, x0 + 2 * dx, y0 + dy)
    extra = gpd.GeoDataFrame({"feature_id": ["B1"], "kind": ["building"], "name": ["Block"],
                              "district": [infra["district"].iloc[0]],
                              "region": [infra["region"].iloc[0]]},
                             geometry=[block], crs=4326)
    return pd.concat([infra, extra], ignore_index=True)


def test_a_building_shadows_part_of_the_dome():
    plain = coverage_layers(world_mahallas(), world_cameras(), world_incidents(),
                            world_infrastructure(), until=UNTIL)
    cut = coverage_layers(world_mahallas(), world_cameras(), world_incidents(), _with_building(),
                          until=UNTIL)
    full = plain["coverage_mahalla"].set_index("mahalla_id").loc["T-A", "covered_m2"]
    less = cut["coverage_mahalla"].set_index("mahalla_id").loc["T-A", "covered_m2"]
    assert full == pytest.approx(_dome_area(), rel=0.01)
    # the block and its shadow out to 120 m: at least the block and a good share of the wedge
    assert full - less > 20 * 80
    assert less < 0.9 * full


def _dem(path, crs, ridge: bool):
    """A flat 1 m grid around camera C1, with a 30 m wall 15 m east of it when ``ridge``."""
    import pyproj

    to = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    cx, cy = to.transform(*A_CENTRE)
    size = 400
    west, north = cx - size / 2, cy + size / 2
    array = np.zeros((size, size), dtype="float32")
    if ridge:
        array[:, size // 2 + 15:size // 2 + 18] = 30.0
    from riskmap.geo.surface import grid_transform

    transform = grid_transform(west, north, 1.0)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="float32", crs=crs, transform=transform) as dst:
        dst.write(array, 1)
    return path


def test_a_dem_ridge_cuts_the_build_coverage(tmp_path):
    store = coverage_world(tmp_path / "s")
    flat = Settings(_env_file=None, geo={"dem": str(_dem(tmp_path / "flat.tif", 32642, False))})
    build(store, flat)
    covered_flat = store.read("coverage_mahalla").set_index("mahalla_id").loc["T-A", "covered_m2"]
    ridge = Settings(_env_file=None, geo={"dem": str(_dem(tmp_path / "ridge.tif", 32642, True))})
    build(store, ridge)
    covered_ridge = store.read("coverage_mahalla").set_index("mahalla_id").loc["T-A", "covered_m2"]
    assert covered_flat == pytest.approx(_dome_area(), rel=0.03)
    assert covered_ridge < 0.75 * covered_flat  # most of the eastern half is behind the wall


def test_a_dem_in_degrees_is_refused(tmp_path):
    path = tmp_path / "geo.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326",
                       transform=rasterio.Affine(0.001, 0, 67.0, 0, -0.001, 38.0)) as dst:
        dst.write(np.zeros((4, 4), dtype="float32"), 1)
    with pytest.raises(ConfigError, match="projected CRS"):
        read_dem(path)
