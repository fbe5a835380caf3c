"""Tests for geo.surface (KDE grid, sampling, zonal means) and etl.rasters (COG write/read)."""

import numpy as np
import pytest

import geopandas as gpd
import pyproj
import rasterio
import shapely

from riskmap.etl.rasters import read_raster, write_cog
from riskmap.geo.surface import (
    Surface,
    grid_transform,
    kde_surface,
    sample_surface,
    utm_crs,
    zonal_mean,
)

BOUNDS = (69.15, 41.25, 69.35, 41.40)


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lon = np.r_[rng.uniform(69.17, 69.33, 500), 69.25 + rng.normal(0, 0.002, 1500)]
    lat = np.r_[rng.uniform(41.27, 41.38, 500), 41.32 + rng.normal(0, 0.0015, 1500)]
    return lon, lat


def test_utm_zone_by_longitude():
    assert utm_crs(np.array([64.5])) == "EPSG:32641"
    assert utm_crs(np.array([69.2, 69.3, np.nan])) == "EPSG:32642"


def test_kde_integrates_to_count_and_peaks_at_cluster(points):
    lon, lat = points
    s = kde_surface(lon, lat, bandwidth_m=300, cell_size_m=50, bounds=BOUNDS)
    assert s.array.dtype == np.float32
    assert s.crs == "EPSG:32642"
    cell_km2 = (s.transform.a / 1000) ** 2
    assert s.array.sum() * cell_km2 == pytest.approx(lon.size, rel=1e-3)
    row, col = np.unravel_index(np.argmax(s.array), s.array.shape)
    x, y = s.transform @ (col + 0.5, row + 0.5)
    plon, plat = pyproj.Transformer.from_crs(s.crs, 4326, always_xy=True).transform(x, y)
    assert abs(plon - 69.25) < 0.003 and abs(plat - 41.32) < 0.002


def test_single_point_kde_is_gaussian():
    s = kde_surface(
        np.array([69.25]), np.array([41.32]), bandwidth_m=200, cell_size_m=20, bounds=BOUNDS
    )
    peak = s.array.max()
    # 2-D Gaussian peak: 1 / (2 pi sigma^2) per km^2, sigma = 0.2 km (binning blurs it slightly)
    assert peak == pytest.approx(1 / (2 * np.pi * 0.04), rel=0.02)
    assert np.all(s.array >= 0)


def test_sample_surface_points_and_nan():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    s = Surface(arr, grid_transform(500_000, 4_600_000, 100), "EPSG:32642")
    tr = pyproj.Transformer.from_crs("EPSG:32642", 4326, always_xy=True)
    lon, lat = tr.transform(
        np.array([500_050.0, 500_250, 500_150, 400_000]),
        np.array([4_599_950.0, 4_599_850, 4_599_850, 4_599_950]),
    )
    vals = sample_surface(s, np.r_[lon, np.nan], np.r_[lat, 41.0])
    assert vals[:3].tolist() == [0.0, 5.0, 4.0]
    assert np.isnan(vals[3]) and np.isnan(vals[4])


def test_weights_and_empty_inputs():
    s = kde_surface(
        np.array([69.25, 69.25]),
        np.array([41.32, 41.32]),
        bandwidth_m=200,
        cell_size_m=50,
        bounds=BOUNDS,
        weights=np.array([0.5, 1.5]),
    )
    assert s.array.sum() * 0.0025 == pytest.approx(2.0, rel=1e-3)
    empty = kde_surface(np.array([]), np.array([]), bounds=BOUNDS)
    assert empty.array.sum() == 0 and empty.array.size > 1
    with pytest.raises(ValueError, match="bandwidth_m"):
        kde_surface(np.array([69.2]), np.array([41.3]), bandwidth_m=0)


def test_zonal_mean_of_constant_and_tiny_polygon():
    arr = np.full((100, 100), 2.0, dtype=np.float32)
    tr = grid_transform(400_000, 4_580_000, 100)
    s = Surface(arr, tr, "EPSG:32642")
    to_ll = pyproj.Transformer.from_crs("EPSG:32642", 4326, always_xy=True)
    big = shapely.box(*to_ll.transform(401_000, 4_571_000), *to_ll.transform(403_000, 4_573_000))
    tiny = shapely.box(*to_ll.transform(405_010, 4_575_010), *to_ll.transform(405_020, 4_575_020))
    far = shapely.box(10, 10, 10.1, 10.1)
    polys = gpd.GeoSeries([big, tiny, far, None], crs=4326)
    out = zonal_mean(s, polys)
    assert out[0] == pytest.approx(2.0) and out[1] == pytest.approx(2.0)
    assert np.isnan(out[2]) and np.isnan(out[3])


def test_write_cog_roundtrip(tmp_path, points):
    lon, lat = points
    s = kde_surface(lon, lat, bandwidth_m=300, cell_size_m=100, bounds=BOUNDS)
    path = write_cog(tmp_path / "risk" / "kde.tif", s.array, s.transform, s.crs, nodata=-1.0)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32642
        assert src.transform.almost_equals(s.transform)
        assert src.nodata == -1.0
        assert src.profile["tiled"]
        np.testing.assert_array_equal(src.read(1), s.array)
    arr, transform, crs = read_raster(path)
    assert crs == "EPSG:32642" and transform == s.transform
    np.testing.assert_array_equal(arr, s.array)
    assert not list(tmp_path.joinpath("risk").glob("tmp*"))


def test_write_cog_rejects_3d(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        write_cog(tmp_path / "x.tif", np.zeros((1, 2, 2)), grid_transform(0, 0, 1), "EPSG:32642")
