"""Point-in-polygon assignment and nearest-polygon snapping, vectorised with Shapely 2 STRtree."""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

import pyproj
import shapely

from riskmap.geo.aggregate import sorted_unique

__all__ = ["PolygonIndex", "metric_crs_for", "utm_epsg"]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone containing (lon, lat): 326zz north, 327zz south.

    The one place that picks a UTM zone: :func:`metric_crs_for`,
    :func:`geo.coverage.local_utm_crs`, :func:`geo.surface.utm_crs` and
    :func:`geo.network.metric_crs` all call it. Longitudes wrap (180 is zone 1, like -180).

    Examples
    --------
    >>> utm_epsg(67.8, 40.1)
    32642
    >>> utm_epsg(-70.0, -33.0)
    32719
    """
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def metric_crs_for(bounds: tuple[float, float, float, float]) -> pyproj.CRS:
    """A metric CRS for a lon/lat extent ``(minx, miny, maxx, maxy)``: the UTM zone of its centre.

    Examples
    --------
    >>> metric_crs_for((69.1, 41.2, 69.4, 41.4)).to_epsg()
    32642
    """
    minx, miny, maxx, maxy = bounds
    return pyproj.CRS.from_epsg(utm_epsg((minx + maxx) / 2, (miny + maxy) / 2))


class PolygonIndex:
    """A reusable index over polygons for assigning points to them.

    Parameters
    ----------
    polygons
        Array of (multi)polygons in lon/lat. Empty or missing geometries never match.
    chunk
        Points are processed in chunks of this many to bound memory.
    threads
        Chunks run on this many threads (GEOS releases the GIL); default: the cores, up to 4.

    Notes
    -----
    GEOS builds a prepared polygon's point locator (and an STRtree's nodes) lazily, on first
    use, without a lock: two threads using the same prepared polygon for the first time at
    once corrupt the heap (``tcache_thread_shutdown(): unaligned tcache chunk detected``).
    So no geometry or tree is ever shared between threads here: each thread borrows a
    private copy of the polygons and their tree from a pool, made on first need.
    """

    def __init__(self, polygons: np.ndarray, *, chunk: int = 100_000,
                 threads: int | None = None) -> None:
        self._args = (chunk, threads)
        self.polygons = np.asarray(polygons, dtype=object)
        self.threads = threads if threads is not None else min(4, os.cpu_count() or 1)
        shapely.prepare(self.polygons)
        self.tree = shapely.STRtree(self.polygons)
        self.chunk = chunk
        self._copies: queue.SimpleQueue[tuple[np.ndarray, shapely.STRtree]] = queue.SimpleQueue()
        self._made = 0
        valid = ~(shapely.is_empty(self.polygons) | shapely.is_missing(self.polygons))
        bounds = shapely.total_bounds(self.polygons[valid]) if valid.any() else (0, 0, 1, 1)
        self._crs = metric_crs_for(tuple(bounds))
        self._to_metric = pyproj.Transformer.from_crs(4326, self._crs, always_xy=True)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its polygons (e.g. to Dask workers); the trees are made again there."""
        return _polygon_index, (self.polygons, *self._args)

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the polygon containing each point, or -1 (NaN coordinates give -1).

        Where polygons overlap, the lowest polygon index wins.

        >>> idx = PolygonIndex(np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]))
        >>> idx.locate(np.array([0.5, 1.5, 5.0, np.nan]), np.array([0.5, 0.5, 5.0, 0.0])).tolist()
        [0, 1, -1, -1]
        """
        lon = np.asarray(lon, dtype="float64")
        lat = np.asarray(lat, dtype="float64")
        out = np.full(len(lon), -1, dtype="int64")
        spans = [(a, min(a + self.chunk, len(lon))) for a in range(0, len(lon), self.chunk)]
        if len(spans) <= 1 or self.threads <= 1:
            for a, b in spans:
                out[a:b] = self._locate_chunk(lon[a:b], lat[a:b], self.polygons, self.tree)
            return out

        def run(span: tuple[int, int]) -> None:
            a, b = span
            polygons, tree = self._borrow()
            try:
                out[a:b] = self._locate_chunk(lon[a:b], lat[a:b], polygons, tree)
            finally:
                self._copies.put((polygons, tree))

        with ThreadPoolExecutor(self.threads) as pool:  # GEOS releases the GIL: use the cores
            list(pool.map(run, spans))
        return out

    def _borrow(self) -> tuple[np.ndarray, shapely.STRtree]:
        """A copy of the polygons and their tree that no other thread is using."""
        try:
            return self._copies.get_nowait()
        except queue.Empty:
            pass
        copy = shapely.from_wkb(shapely.to_wkb(self.polygons))  # new GEOS objects
        shapely.prepare(copy)
        tree = shapely.STRtree(copy)
        tree.query(shapely.points(0.0, 0.0))  # build the tree before any thread shares it
        self._made += 1
        return copy, tree

    @staticmethod
    def _locate_chunk(lon: np.ndarray, lat: np.ndarray, polygons: np.ndarray,
                      tree: shapely.STRtree) -> np.ndarray:
        out = np.full(len(lon), -1, dtype="int64")
        finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if len(finite) == 0:
            return out
        pts = shapely.points(lon[finite], lat[finite])
        p_idx, g_idx = tree.query(pts)  # bbox candidates
        if len(p_idx) == 0:
            return out
        inside = shapely.contains_xy(polygons[g_idx], lon[finite][p_idx], lat[finite][p_idx])
        p_idx, g_idx = p_idx[inside], g_idx[inside]
        # lowest polygon index per point: sort by (point, polygon), keep the first
        order = np.lexsort((g_idx, p_idx))
        p_idx, g_idx = p_idx[order], g_idx[order]
        first = np.ones(len(p_idx), dtype=bool)
        first[1:] = p_idx[1:] != p_idx[:-1]
        out[finite[p_idx[first]]] = g_idx[first]
        return out

    def nearest_within(self, lon: np.ndarray, lat: np.ndarray,
                       max_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Nearest polygon within ``max_m`` metres of each point: (index or -1, distance m).

        Distances are measured in the UTM zone of the polygons' centre.
        """
        lon = np.asarray(lon, dtype="float64")
        lat = np.asarray(lat, dtype="float64")
        idx = np.full(len(lon), -1, dtype="int64")
        dist = np.full(len(lon), np.nan)
        finite = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        if len(finite) == 0 or max_m <= 0:
            return idx, dist
        # a generous search radius in degrees, then exact metric distances to the candidates
        deg = max_m / (111_320.0 * max(np.cos(np.radians(np.nanmax(np.abs(lat[finite])))), 0.05))
        pts = shapely.points(lon[finite], lat[finite])
        p_idx, g_idx = self.tree.query(pts, predicate="dwithin", distance=deg)
        if len(p_idx) == 0:
            return idx, dist
        x, y = self._to_metric.transform(lon[finite][p_idx], lat[finite][p_idx])
        cand = sorted_unique(g_idx)
        metric = shapely.transform(self.polygons[cand], self._metric_coords)
        lookup = np.full(len(self.polygons), -1)
        lookup[cand] = np.arange(len(cand))
        d = shapely.distance(metric[lookup[g_idx]], shapely.points(x, y))
        order = np.lexsort((g_idx, d, p_idx))
        p_idx, g_idx, d = p_idx[order], g_idx[order], d[order]
        first = np.ones(len(p_idx), dtype=bool)
        first[1:] = p_idx[1:] != p_idx[:-1]
        p_idx, g_idx, d = p_idx[first], g_idx[first], d[first]
        ok = d <= max_m
        idx[finite[p_idx[ok]]] = g_idx[ok]
        dist[finite[p_idx[ok]]] = d[ok]
        return idx, dist

    def _metric_coords(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])


def _polygon_index(polygons: np.ndarray, chunk: int, threads: int | None) -> PolygonIndex:
    return PolygonIndex(polygons, chunk=chunk, threads=threads)
