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
    display_grid,
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


# ---- the surface as a map shows it ------------------------------------------------------------

def _shown_at(grid: np.ndarray, bounds: tuple[float, float, float, float], target: str,
              row: int, col: int) -> tuple[float, float]:
    """Where a map that stretches the image linearly between its corners in ``target``
    (MapLibre: Web Mercator; a lon/lat plot: degrees) shows the centre of pixel (row, col)."""
    west, south, east, north = bounds
    fwd = pyproj.Transformer.from_crs(4326, target, always_xy=True)
    (x0, x1), (y0, y1) = fwd.transform([west, east], [north, south])
    x = x0 + (col + 0.5) * (x1 - x0) / grid.shape[1]
    y = y0 + (row + 0.5) * (y1 - y0) / grid.shape[0]
    lon, lat = pyproj.Transformer.from_crs(target, 4326, always_xy=True).transform(x, y)
    return float(lon), float(lat)


@pytest.mark.parametrize("target", ["EPSG:3857", "EPSG:4326"])
def test_a_region_sized_surface_is_shown_where_its_cells_are(target: str) -> None:
    """A 300 x 500 km UTM grid reaching the zone's edge (Uzbekistan's north-west): three hot
    cells, each shown within a pixel of where it is. Stretching the UTM grid itself over its
    lon/lat box (as the map did) put them kilometres off."""
    utm = "EPSG:32641"  # zone 41: 60-66 E; the grid reaches 66.9 E
    cell = 2000.0
    west_x, north_y = 400_000.0, 5_000_000.0
    a = np.zeros((250, 150), dtype=np.float32)
    hot = [(20, 20), (125, 75), (230, 140)]
    for r, c in hot:
        a[r - 1:r + 2, c - 1:c + 2] = 1.0
        a[r, c] = 4.0
    surf = Surface(a, grid_transform(west_x, north_y, cell), utm)
    grid, bounds = display_grid(surf, target=target, max_pixels=600)
    assert max(grid.shape) <= 600 and np.isnan(grid).any()  # the corners outside are empty
    to_utm = pyproj.Transformer.from_crs(4326, utm, always_xy=True)
    pixel_m = cell  # about the surface's own cell size
    for r, c in hot:
        true_x, true_y = west_x + (c + 0.5) * cell, north_y - (r + 0.5) * cell
        # the brightest pixel near where the map puts this place
        lon, lat = pyproj.Transformer.from_crs(utm, 4326, always_xy=True).transform(true_x,
                                                                                     true_y)
        west, south, east, north = bounds
        fwd = pyproj.Transformer.from_crs(4326, target, always_xy=True)
        (x0, x1), (y0, y1) = fwd.transform([west, east], [north, south])
        px, py = fwd.transform(lon, lat)
        at_r = int((py - y0) / (y1 - y0) * grid.shape[0])
        at_c = int((px - x0) / (x1 - x0) * grid.shape[1])
        window = (slice(max(at_r - 8, 0), at_r + 9), slice(max(at_c - 8, 0), at_c + 9))
        sub = np.where(np.isfinite(grid[window]), grid[window], -1)
        rr, cc = np.unravel_index(np.argmax(sub), sub.shape)
        x, y = to_utm.transform(*_shown_at(grid, bounds, target, rr + window[0].start,
                                           cc + window[1].start))
        assert np.hypot(x - true_x, y - true_y) < 1.5 * pixel_m, (r, c, x - true_x, y - true_y)
    # the old way: the UTM grid itself stretched over the lon/lat box around it
    old = pyproj.Transformer.from_crs(utm, 4326, always_xy=True).transform_bounds(
        west_x, north_y - 250 * cell, west_x + 150 * cell, north_y)
    off = []
    for r, c in hot:
        x, y = to_utm.transform(*_shown_at(a, old, target, r, c))
        off.append(np.hypot(x - (west_x + (c + 0.5) * cell), y - (north_y - (r + 0.5) * cell)))
    assert max(off) > 10_000  # 12.6 km at the south-east hot cell


def test_a_hot_cell_smaller_than_a_pixel_still_shows() -> None:
    """A 2,400 x 2,400-cell grid shown in at most 600 pixels a side: a single hot cell is
    never skipped (as taking every 4th row and column, the old striding, skips most of them)
    and the mean density is kept."""
    a = np.zeros((2400, 2400), dtype=np.float32)
    rng = np.random.default_rng(7)
    hot = rng.integers(100, 2300, size=(12, 2))
    a[hot[:, 0], hot[:, 1]] = 100.0
    surf = Surface(a, grid_transform(300_000.0, 4_600_000.0, 100.0), "EPSG:32642")
    grid, _ = display_grid(surf, max_pixels=600)
    assert max(grid.shape) <= 600
    inside = np.nan_to_num(grid)
    from scipy import ndimage

    n = ndimage.label(inside > 0)[1]
    assert n == len(hot)  # every hot cell is a spot of its own
    # the mean density over the surface is kept (the pixels outside it are NaN)
    assert np.nanmean(grid) == pytest.approx(a.mean(), rel=0.1)
    strided = a[::4, ::4]  # what the image was made of before
    assert ndimage.label(strided > 0)[1] < len(hot) / 2
