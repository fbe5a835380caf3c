"""Reach off the road network: travel time to any point, isochrones and their share of a zone."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from riskmap.geo.network import (
    OFFROAD_KMH,
    GraphArrays,
    Points,
    metres_per_minute,
    metric_crs,
    to_metric_xy,
)

__all__ = ["isochrone_share", "isochrones", "sample_travel_time"]

_WGS84 = CRS.from_epsg(4326)


# --------------------------------------------------------------------------- travel time to points

def sample_travel_time(
    graph: nx.Graph,
    times: pd.Series | pd.DataFrame,
    points: Points,
    *,
    offroad_kmh: float = OFFROAD_KMH,
) -> np.ndarray:
    """Return the travel time in minutes to arbitrary points.

    A point is reached by driving to some place on a reached road edge and then going
    straight off-road at ``offroad_kmh``; the best leaving place on each edge has a
    closed form (refraction: leave where the cosine of the angle to the road equals
    off-road speed / road speed), so the answer is exact for this model and agrees with
    :func:`isochrones`.

    Parameters
    ----------
    graph
        Road graph from :func:`~geo.network.build_road_graph`.
    times
        Result of :func:`~geo.network.travel_times` (DataFrame with ``minutes``, or a Series).
    points
        Points (see :func:`~geo.network.to_metric_xy`).
    offroad_kmh
        Speed off the road network.

    Returns
    -------
    numpy.ndarray
        Minutes per point; NaN for None/empty points or when nothing was reached.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> sample_travel_time(nx.Graph(crs="EPSG:32642"), pd.Series(dtype=float), [None])
    array([nan])
    """
    arrays = GraphArrays.of(graph)
    vo = metres_per_minute(offroad_kmh)
    t_node = arrays.node_times(times) if len(arrays.nodes) else np.zeros(0)
    # a graph without a CRS has no nodes, so every point comes back NaN below
    pxy = to_metric_xy(points, arrays.crs if arrays.crs is not None else _WGS84)
    out = np.full(len(pxy), np.inf)
    ok = np.flatnonzero(np.isfinite(pxy).all(axis=1))
    reached = np.flatnonzero(np.isfinite(t_node))
    if ok.size == 0 or reached.size == 0:
        return np.full(len(pxy), np.nan)
    # upper bound: go straight from one of the k nearest reached nodes
    k = min(8, reached.size)
    d, j = cKDTree(arrays.xy[reached]).query(pxy[ok], k=k)
    d, j = d.reshape(len(ok), k), j.reshape(len(ok), k)
    upper = (t_node[reached][j] + d / vo).min(axis=1)
    edge = np.flatnonzero(np.isfinite(t_node[arrays.u]) | np.isfinite(t_node[arrays.v]))
    edge = edge[arrays.length[edge] > 0]
    if edge.size:
        _improve_by_edges(arrays, t_node, edge, pxy[ok], upper, vo)
    out[ok] = upper
    return np.where(np.isfinite(out), out, np.nan)


def _improve_by_edges(arrays: GraphArrays, t_node: np.ndarray, edge: np.ndarray, pxy: np.ndarray,
                      upper: np.ndarray, vo: float) -> None:
    """Lower ``upper`` (minutes per point) in place with the best exit from each edge.

    First the nearest edge of each point tightens the bound; then the edges, in bands of
    their earliest node time ``tau``, are searched within ``(upper - tau) * vo`` of each
    point: an edge farther away cannot beat the bound, so the result is exact while late
    edges are only searched nearby.
    """
    t_min = np.minimum(t_node[arrays.u[edge]], t_node[arrays.v[edge]])
    order = np.argsort(t_min, kind="stable")
    edge, t_min = edge[order], t_min[order]
    lines = arrays.lines[edge]
    points = shapely.points(pxy)
    p_i, e_i = shapely.STRtree(lines).query_nearest(points, all_matches=False)
    _apply_edges(arrays, t_node, edge[e_i], pxy, p_i, upper, vo)
    n_bands = int(min(16, edge.size // 256 + 1))
    for band in np.array_split(np.arange(edge.size), n_bands):
        if band.size == 0:
            continue
        radius = np.maximum(upper - t_min[band[0]], 0.0) * vo
        tree = shapely.STRtree(lines[band])
        p_i, e_i = tree.query(points, predicate="dwithin", distance=radius)
        _apply_edges(arrays, t_node, edge[band][e_i], pxy, p_i, upper, vo)


def _apply_edges(arrays: GraphArrays, t_node: np.ndarray, e: np.ndarray, pxy: np.ndarray,
                 p_i: np.ndarray, upper: np.ndarray, vo: float) -> None:
    """``upper[p_i] = min(upper[p_i], best time to the point via edge e)`` for each pair."""
    if e.size == 0:
        return
    u, v, length = arrays.u[e], arrays.v[e], arrays.length[e]
    vr = length / np.maximum(arrays.minutes[e], 1e-12)
    p = pxy[p_i]
    f_u = _edge_time(p, arrays.xy[u], arrays.xy[v], length, vr, t_node[u], vo)
    f_v = _edge_time(p, arrays.xy[v], arrays.xy[u], length, vr, t_node[v], vo)
    np.minimum.at(upper, p_i, np.minimum(f_u, f_v))


def _edge_time(p: np.ndarray, a: np.ndarray, b: np.ndarray, length: np.ndarray,
               vr: np.ndarray, ta: np.ndarray, vo: float) -> np.ndarray:
    """Minutes to ``p`` entering the edge at ``a`` (time ``ta``) and leaving it optimally."""
    unit = (b - a) / length[:, None]
    rel = p - a
    s0 = np.einsum("ij,ij->i", rel, unit)
    h = np.abs(unit[:, 0] * rel[:, 1] - unit[:, 1] * rel[:, 0])
    k = vo / vr
    with np.errstate(divide="ignore", invalid="ignore"):
        s_opt = np.where(k < 1, s0 - h * k / np.sqrt(np.maximum(1 - k * k, 1e-300)), 0.0)
    s = np.clip(s_opt, 0.0, length)
    return ta + s / vr + np.hypot(s0 - s, h) / vo


# --------------------------------------------------------------------------- isochrones


def isochrones(
    graph: nx.Graph,
    times: pd.Series | pd.DataFrame,
    minutes: Sequence[float] = (10, 20, 30),
    *,
    zone: BaseGeometry | None = None,
    offroad_kmh: float = OFFROAD_KMH,
    quad_segs: int = 8,
) -> gpd.GeoDataFrame:
    """Return the areas reachable within each time threshold.

    Same model as :func:`sample_travel_time`: drive on the roads, then leave them anywhere
    and go straight at ``offroad_kmh``.  For one edge entered at ``a`` with ``r`` minutes
    left, the places reached are a family of discs along the edge whose radius shrinks
    linearly; their union is exactly the convex hull of the first and the last disc.  The
    isochrone is the union of these hulls over all edges and both directions (discs are
    polygons with ``quad_segs`` segments per quarter circle).

    Parameters
    ----------
    graph
        Road graph from :func:`~geo.network.build_road_graph`.
    times
        Result of :func:`~geo.network.travel_times`.
    minutes
        Thresholds in minutes.
    zone
        Optional polygon in EPSG:4326; the isochrones are clipped to it.
    offroad_kmh
        Speed off the road network.
    quad_segs
        Polygon resolution of the discs.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per threshold (ascending) with ``minutes`` and a (Multi)Polygon geometry in
        EPSG:4326; an empty polygon where nothing is reachable.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> isochrones(nx.Graph(crs="EPSG:32642"), pd.Series(dtype=float), (10,)).is_empty.tolist()
    [True]
    """
    arrays = GraphArrays.of(graph)
    vo = metres_per_minute(offroad_kmh)
    thresholds = sorted(float(m) for m in minutes)
    t_node = arrays.node_times(times) if len(arrays.nodes) else np.zeros(0)
    crs = arrays.crs if arrays.crs is not None else _WGS84
    zone_m = None
    if zone is not None and arrays.crs is not None:
        zone_m = gpd.GeoSeries([zone], crs=_WGS84).to_crs(crs).iloc[0]
    polys = []
    for limit in thresholds:
        pieces = _reach_pieces(arrays, t_node, limit, vo, quad_segs)
        if zone_m is not None:
            pieces = pieces[shapely.intersects(pieces, zone_m)]
        area = shapely.union_all(pieces) if len(pieces) else shapely.Polygon()
        if zone_m is not None:
            area = shapely.intersection(area, zone_m)
        polys.append(area if not area.is_empty else shapely.Polygon())
    out = gpd.GeoDataFrame({"minutes": thresholds}, geometry=polys, crs=crs)
    return out.to_crs(_WGS84) if arrays.crs is not None else out


def _reach_pieces(arrays: GraphArrays, t_node: np.ndarray, limit: float, vo: float,
                  quad_segs: int) -> np.ndarray:
    """Convex hulls of reachable discs for every edge direction and node within ``limit``."""
    degree = np.bincount(np.concatenate([arrays.u, arrays.v]), minlength=t_node.size)
    node = np.flatnonzero((t_node < limit) & (degree == 0))  # others are in the edge hulls
    discs = shapely.buffer(shapely.points(arrays.xy[node]), (limit - t_node[node]) * vo,
                           quad_segs=quad_segs)
    u, v, length, mins = arrays.directed()
    # when u was reached through this very edge, its piece lies inside the piece from v
    with np.errstate(invalid="ignore"):  # inf - inf where neither end is reached
        via_edge = (mins > 0) & (t_node[u] - t_node[v] >= mins * (1 - 1e-9))
    go = np.flatnonzero((t_node[u] < limit) & (length > 0) & ~via_edge)
    if go.size == 0:
        return discs
    u, v, length, mins = u[go], v[go], length[go], mins[go]
    vr = length / np.maximum(mins, 1e-12)
    left = limit - t_node[u]
    a, b = arrays.xy[u], arrays.xy[v]
    drive = np.minimum(left * vr, length)
    end = a + (b - a) * (drive / length)[:, None]
    r_end = np.maximum(left - drive / vr, 0.0) * vo
    start_disc = shapely.buffer(shapely.points(a), left * vo, quad_segs=quad_segs)
    end_disc = shapely.buffer(shapely.points(end), r_end, quad_segs=quad_segs)
    m = go.size
    parts = np.stack([start_disc, end_disc, shapely.points(end)], axis=1).reshape(-1)
    hulls = shapely.convex_hull(
        shapely.geometrycollections(parts, indices=np.repeat(np.arange(m), 3)))
    return np.concatenate([discs, hulls])


def isochrone_share(zone: BaseGeometry, isochrones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the share of the zone's area reachable within, and beyond, each threshold.

    Parameters
    ----------
    zone
        Polygon in EPSG:4326.
    isochrones
        Result of :func:`isochrones` (``minutes`` and geometry, any CRS).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``minutes`` with ``within`` (0-1 share of the zone area reachable within
        the threshold), ``beyond`` (``1 - within``) and ``area_km2`` (reachable area inside
        the zone).  NaN shares for a None or empty zone.

    Examples
    --------
    >>> import geopandas as gpd
    >>> iso = gpd.GeoDataFrame({"minutes": [10.0]}, geometry=[None], crs=4326)
    >>> isochrone_share(None, iso)["within"].tolist()
    [nan]
    """
    index = pd.Index(isochrones["minutes"].to_numpy(dtype=float), name="minutes")
    if zone is None or zone.is_empty:
        nan = np.full(len(index), np.nan)
        return pd.DataFrame({"within": nan, "beyond": nan, "area_km2": nan}, index=index)
    zs = gpd.GeoSeries([zone], crs=_WGS84)
    crs = metric_crs(zs)
    zone_m = zs.to_crs(crs).iloc[0]
    iso = isochrones.geometry.to_crs(crs) if isochrones.crs is not None else \
        gpd.GeoSeries(isochrones.geometry.array, crs=_WGS84).to_crs(crs)
    inside = shapely.area(shapely.intersection(np.asarray(iso.array, dtype=object), zone_m))
    inside = np.nan_to_num(np.asarray(inside, dtype=float), nan=0.0)
    within = inside / zone_m.area
    return pd.DataFrame({"within": within, "beyond": 1.0 - within, "area_km2": inside / 1e6},
                        index=index)
