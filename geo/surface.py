"""Kernel density risk surfaces on a metric (UTM) grid, point sampling and zonal means."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

import geopandas as gpd
import pyproj
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine

from riskmap.geo.join import utm_epsg
from riskmap.geo.points import xy

__all__ = [
    "Grid",
    "Surface",
    "bin_points",
    "display_grid",
    "grid_transform",
    "kde_grid",
    "kde_surface",
    "sample_surface",
    "smooth_counts",
    "utm_crs",
    "zonal_mean",
]

MAX_CELLS = 40_000_000


class Surface(NamedTuple):
    """A raster: ``array`` (float32, row 0 = north), rasterio ``transform`` and ``crs``.

    ``array`` holds incidents per km² (so ``array.sum() * cell_km2`` is the number of points).
    """

    array: np.ndarray
    transform: Affine
    crs: str


def grid_transform(west: float, north: float, cell_size: float) -> Affine:
    """North-up Affine transform with square cells and the upper-left corner at (west, north).

    Same as ``rasterio.transform.from_origin`` (which warns under affine 3).
    """
    return Affine(cell_size, 0.0, west, 0.0, -cell_size, north)


def utm_crs(lon: np.ndarray | float) -> str:
    """Northern-hemisphere WGS 84 / UTM zone for the median longitude, e.g. ``"EPSG:32642"``.

    Uzbekistan spans zones 41 (west of 66°E) and 42 (66-72°E); 43 for the far east.

    Examples
    --------
    >>> utm_crs(69.2)
    'EPSG:32642'
    >>> utm_crs(np.array([]))
    'EPSG:32642'
    """
    arr = np.asarray(lon, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    med = float(np.median(arr)) if arr.size else 69.0
    return f"EPSG:{utm_epsg(med, 0.0)}"


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def display_grid(surface: Surface, *, target: str = "EPSG:3857", max_pixels: int = 600
                 ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The surface resampled onto a grid of the map's projection, and that grid's lon/lat
    ``(west, south, east, north)``: an image of it stretched between those corners is where
    the surface is.

    A map stretches an image linearly between its corners in its own projection: MapLibre
    in Web Mercator (``EPSG:3857``), a plain lon/lat plot in degrees (``EPSG:4326``). A UTM
    grid stretched over the lon/lat box around it is misplaced: its columns are not
    meridians (up to ~3 degrees off at a zone's edge) and Mercator is not linear in latitude
    (a row is ~0.8 km off in the middle of an image 2 degrees tall, ~5 km at 5 degrees).
    Resampling bilinearly onto a grid of ``target`` whose axes are the meridians and
    parallels puts every pixel where it belongs. Cells outside the surface are NaN; the
    longest side is at most ``max_pixels``.

    Examples
    --------
    >>> utm = "EPSG:32642"  # a 30 x 20 km grid in Uzbekistan, 1 km cells, one hot cell
    >>> a = np.zeros((20, 30), dtype=np.float32); a[5, 10] = 1.0
    >>> surf = Surface(a, grid_transform(400_000.0, 4_450_000.0, 1000.0), utm)
    >>> grid, (west, south, east, north) = display_grid(surf)
    >>> row, col = np.unravel_index(np.nanargmax(grid), grid.shape)
    >>> lon = west + (col + 0.5) * (east - west) / grid.shape[1]
    >>> y0, y1 = (pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    ...           .transform([0, 0], [north, south])[1])
    >>> y = y0 + (row + 0.5) * (y1 - y0) / grid.shape[0]
    >>> lat = pyproj.Transformer.from_crs(3857, 4326, always_xy=True).transform(0, y)[1]
    >>> x, yy = pyproj.Transformer.from_crs(4326, utm, always_xy=True).transform(lon, lat)
    >>> bool(abs(x - 410_500) < 1000 and abs(yy - 4_444_500) < 1000)  # the hot cell's centre
    True
    """
    from rasterio.warp import Resampling, reproject

    src = np.asarray(surface.array, dtype=np.float32)
    h, w = src.shape
    left, top = surface.transform.c, surface.transform.f
    right, bottom = left + surface.transform.a * w, top + surface.transform.e * h
    # the target box around the surface (edges densified: they bend in the target), with
    # about the surface's pixel count, at most max_pixels a side
    x0, y1, x1, y0 = pyproj.Transformer.from_crs(surface.crs, target, always_xy=True
                                                 ).transform_bounds(left, bottom, right, top,
                                                                    densify_pts=21)
    side = float(np.sqrt((x1 - x0) * (y0 - y1) / max(h * w, 1)))
    side = max(side, (x1 - x0) / max_pixels, (y0 - y1) / max_pixels)
    width, height = max(1, int(np.ceil((x1 - x0) / side))), max(1, int(np.ceil((y0 - y1) / side)))
    transform = Affine(side, 0.0, x0, 0.0, -side, y0)
    out = np.full((height, width), np.nan, dtype=np.float32)
    # (GDAL widens the bilinear kernel to a pixel's footprint when a pixel holds several
    # cells, as for a national grid: a hot cell smaller than a pixel is not skipped)
    reproject(src, out, src_transform=surface.transform, src_crs=surface.crs,
              dst_transform=transform, dst_crs=target, resampling=Resampling.bilinear,
              src_nodata=np.nan, dst_nodata=np.nan)
    x1, y1 = x0 + side * width, y0 - side * height
    to_lonlat = pyproj.Transformer.from_crs(target, 4326, always_xy=True)
    (west, east), (north, south) = to_lonlat.transform([x0, x1], [y0, y1])
    return out, (float(west), float(south), float(east), float(north))


def kde_surface(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    bandwidth_m: float = 400.0,
    cell_size_m: float = 100.0,
    bounds: tuple[float, float, float, float] | None = None,
    crs: str | None = None,
    weights: np.ndarray | None = None,
    pad_bandwidths: float = 3.0,
) -> Surface:
    """Gaussian kernel density of points on a metric grid.

    Points are projected to ``crs`` (default: the UTM zone of their median longitude), binned
    into ``cell_size_m`` cells with ``np.bincount`` and smoothed with
    ``scipy.ndimage.gaussian_filter`` (sigma = ``bandwidth_m / cell_size_m`` cells, zero outside
    the grid). Binning moves points to cell centres, so use cells well below the bandwidth.

    Parameters
    ----------
    lon, lat
        Point coordinates in degrees; NaN points are ignored.
    bandwidth_m
        Gaussian kernel standard deviation in metres.
    cell_size_m
        Grid cell size in metres.
    bounds
        Grid extent as (min_lon, min_lat, max_lon, max_lat); default: the points' extent.
        Points outside are dropped.
    crs
        Metric CRS for the grid.
    weights
        Optional weight per point (e.g. a time decay); default 1.
    pad_bandwidths
        Margin around ``bounds`` in bandwidths, so little mass leaks past the edge.

    Returns
    -------
    Surface
        (array float32 incidents per km², Affine transform, crs). With no valid point and no
        ``bounds`` a 1x1 zero grid at (0, 0) is returned.

    Raises
    ------
    ValueError
        If bandwidth or cell size is not positive, or the grid would exceed 40 M cells.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    wts = np.ones(lon.shape) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(wts)
    crs = crs or utm_crs(lon[ok] if bounds is None else (bounds[0] + bounds[2]) / 2)
    if bounds is None and not ok.any():
        _check_sizes(bandwidth_m, cell_size_m)
        return Surface(np.zeros((1, 1), np.float32), grid_transform(0, 0, cell_size_m), crs)
    x, y = _project(lon[ok], lat[ok], crs)  # once: for the extent and for the bins
    grid = kde_grid(bounds, xy=(x, y), bandwidth_m=bandwidth_m, cell_size_m=cell_size_m,
                    crs=crs, pad_bandwidths=pad_bandwidths)
    counts = _bin_xy(grid, x, y, wts[ok])
    return smooth_counts(grid, counts.reshape(grid.nrow, grid.ncol), bandwidth_m)


class Grid(NamedTuple):
    """A KDE grid: upper-left corner ``(x0, y1)`` and ``cell`` size in ``crs`` metres."""

    x0: float
    y1: float
    cell: float
    nrow: int
    ncol: int
    crs: str


def _check_sizes(bandwidth_m: float, cell_size_m: float) -> None:
    if bandwidth_m <= 0 or cell_size_m <= 0:
        raise ValueError(
            f"bandwidth_m and cell_size_m must be > 0, got {bandwidth_m} and {cell_size_m}"
        )


def kde_grid(bounds: tuple[float, float, float, float] | None, *,
             xy: tuple[np.ndarray, np.ndarray] | None = None, bandwidth_m: float,
             cell_size_m: float, crs: str, pad_bandwidths: float = 3.0) -> Grid:
    """The grid :func:`kde_surface` uses: ``bounds`` (lon/lat), else the extent of the points
    ``xy`` (already in ``crs``), padded.

    A fixed grid (from ``bounds``) lets points be binned in parts, e.g. a month each on other
    machines, and the parts' counts summed before one :func:`smooth_counts`.

    Raises
    ------
    ValueError
        If bandwidth or cell size is not positive, or the grid would exceed 40 M cells.
    """
    _check_sizes(bandwidth_m, cell_size_m)
    if bounds is not None:
        bx, by = _project(
            np.array([bounds[0], bounds[2], bounds[0], bounds[2]]),
            np.array([bounds[1], bounds[1], bounds[3], bounds[3]]),
            crs,
        )
        x0, x1, y0, y1 = bx.min(), bx.max(), by.min(), by.max()
    else:
        assert xy is not None, "kde_grid needs bounds or points"
        x0, x1, y0, y1 = xy[0].min(), xy[0].max(), xy[1].min(), xy[1].max()
    pad = pad_bandwidths * bandwidth_m
    x0 = np.floor((x0 - pad) / cell_size_m) * cell_size_m
    y1 = np.ceil((y1 + pad) / cell_size_m) * cell_size_m
    ncol = int(np.ceil((x1 + pad - x0) / cell_size_m)) or 1
    nrow = int(np.ceil((y1 - (y0 - pad)) / cell_size_m)) or 1
    if ncol * nrow > MAX_CELLS:
        raise ValueError(
            f"grid of {nrow} x {ncol} cells exceeds {MAX_CELLS}; raise cell_size_m ({cell_size_m})"
        )
    return Grid(float(x0), float(y1), float(cell_size_m), nrow, ncol, crs)


def bin_points(grid: Grid, lon: np.ndarray, lat: np.ndarray,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted point counts per cell of ``grid`` (flat, row-major; points outside dropped)."""
    lon = np.asarray(lon, dtype=float)
    x, y = _project(lon, np.asarray(lat, dtype=float), grid.crs)
    return _bin_xy(grid, x, y, np.ones(lon.shape) if weights is None
                   else np.asarray(weights, dtype=float))


def _bin_xy(grid: Grid, x: np.ndarray, y: np.ndarray, wts: np.ndarray) -> np.ndarray:
    col = np.floor((x - grid.x0) / grid.cell).astype(np.int64)
    row = np.floor((grid.y1 - y) / grid.cell).astype(np.int64)
    inside = (col >= 0) & (col < grid.ncol) & (row >= 0) & (row < grid.nrow)
    return np.bincount(row[inside] * grid.ncol + col[inside], weights=wts[inside],
                       minlength=grid.nrow * grid.ncol)


def smooth_counts(grid: Grid, counts: np.ndarray, bandwidth_m: float) -> Surface:
    """The density surface (per km²) of binned ``counts`` (``nrow x ncol``): a Gaussian filter."""
    sigma = bandwidth_m / grid.cell
    # in float32, the surface's own type: a national grid of 30 M cells then needs 4 bytes a
    # cell more than its counts, not 20 (SciPy sums each pass in double precision)
    smooth = ndimage.gaussian_filter(np.asarray(counts, dtype=np.float32), sigma=sigma,
                                     output=np.float32, mode="constant", truncate=4.0)
    smooth /= np.float32((grid.cell / 1000.0) ** 2)
    return Surface(smooth, grid_transform(grid.x0, grid.y1, grid.cell), grid.crs)


def sample_surface(surface: Surface, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Surface value at each point (nearest cell); NaN outside the grid or for NaN input.

    Examples
    --------
    >>> s = Surface(np.ones((2, 2), np.float32), grid_transform(0, 0, 1), "EPSG:32642")
    >>> sample_surface(s, np.array([]), np.array([])).size
    0
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.full(lon.shape, np.nan)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return out
    x, y = _project(lon[ok], lat[ok], surface.crs)
    col_f, row_f = ~surface.transform @ (x, y)
    col = np.floor(col_f).astype(np.int64)
    row = np.floor(row_f).astype(np.int64)
    nrow, ncol = surface.array.shape
    inside = (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
    vals = np.full(x.shape, np.nan)
    vals[inside] = surface.array[row[inside], col[inside]]
    out[ok] = vals
    return out


def zonal_mean(surface: Surface, polygons: gpd.GeoSeries) -> np.ndarray:
    """Mean surface value inside each polygon (EPSG:4326 polygons, aligned output).

    Cells are assigned to the polygon containing their centre (``rasterio.features.rasterize``,
    in memory). A polygon that holds no cell centre gets the value at its representative
    point; empty/missing geometries and polygons off the grid give NaN.

    Returns
    -------
    numpy.ndarray
        float64 mean per polygon (incidents per km² for a KDE surface).
    """
    geoms = polygons.to_crs(surface.crs).to_numpy() if len(polygons) else np.array([])
    n = len(geoms)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(valid)
    if idx.size:
        codes = rasterize(
            zip(geoms[idx], (idx + 1).astype(np.int32), strict=True),
            out_shape=surface.array.shape,
            transform=surface.transform,
            fill=0,
            dtype="int32",
        ).ravel()
        vals = surface.array.ravel().astype(float)
        sums = np.bincount(codes, weights=vals, minlength=n + 1)[1:]
        cnt = np.bincount(codes, minlength=n + 1)[1:]
        has = cnt > 0
        out[has] = sums[has] / cnt[has]
        missing = valid & ~has
        if missing.any():
            pts = shapely.point_on_surface(geoms[missing])
            col_f, row_f = ~surface.transform @ xy(pts)
            col = np.floor(col_f).astype(np.int64)
            row = np.floor(row_f).astype(np.int64)
            nrow, ncol = surface.array.shape
            inside = (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
            v = np.full(col.shape, np.nan)
            v[inside] = surface.array[row[inside], col[inside]]
            out[missing] = v
    return out
