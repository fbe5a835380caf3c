"""Road-network travel times: build a graph from road lines, multi-source Dijkstra to its nodes.

Reach off the network (travel time to any point, isochrones) is in :mod:`geo.isochrones`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

import geopandas as gpd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from riskmap.geo.join import metric_crs_for
from riskmap.geo.points import xy

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "OFFROAD_KMH",
    "GraphArrays",
    "Points",
    "build_road_graph",
    "metres_per_minute",
    "metric_crs",
    "time_to_area",
    "to_metric_xy",
    "travel_times",
]

#: Travel speed (km/h) by ``road_class`` when a road has no usable ``speed_kmh``.
DEFAULT_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 90.0,
    "primary": 70.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "residential": 30.0,
    "track": 20.0,
}

#: Default speed (km/h) off the road network: a vehicle on dirt or a brisk walk-run.
OFFROAD_KMH = 15.0

_WGS84 = CRS.from_epsg(4326)
_LINE_TYPES = (1, 2)  # shapely type ids of LineString and LinearRing
_OFFSET = 1.0  # added to super-source edges so no edge weight is zero (see travel_times)

Points: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | Sequence[Any] | np.ndarray


# --------------------------------------------------------------------------- CRS helpers


def metric_crs(geometry: gpd.GeoSeries | gpd.GeoDataFrame) -> CRS:
    """Return the UTM CRS that suits the extent of ``geometry``.

    The UTM zone of the centre of the lon/lat bounds (:func:`geo.join.metric_crs_for`).

    Parameters
    ----------
    geometry
        Frame or series with a CRS and at least one non-empty geometry.

    Returns
    -------
    pyproj.CRS
        A projected (metre) CRS; the geometry's own CRS when that is already projected.

    Raises
    ------
    ValueError
        If the input has no CRS or no non-empty geometry.

    Examples
    --------
    >>> metric_crs(gpd.GeoSeries([None, shapely.Point(69.24, 41.31)], crs=4326)).to_epsg()
    32642
    """
    series = geometry.geometry if isinstance(geometry, gpd.GeoDataFrame) else geometry
    if series.crs is None:
        raise ValueError("metric_crs: the input has no CRS; expected e.g. EPSG:4326")
    if series.crs.is_projected:
        return CRS(series.crs)
    usable = series[~(series.isna() | series.is_empty)]
    if usable.empty:
        raise ValueError("metric_crs: no non-empty geometry to choose a UTM zone from")
    lonlat = usable if usable.crs.is_geographic else usable.to_crs(_WGS84)
    return metric_crs_for(tuple(lonlat.total_bounds))


def to_metric_xy(points: Points, crs: CRS | str) -> np.ndarray:
    """Return ``(n, 2)`` coordinates of ``points`` in the projected ``crs``.

    Parameters
    ----------
    points
        A GeoDataFrame or GeoSeries (its own CRS is used), a shapely geometry or a sequence
        of them (taken as EPSG:4326), or an ``(n, 2)`` array of lon/lat.  Lines and polygons
        are reduced to a point on their surface.
    crs
        Target CRS.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``(n, 2)``; rows are NaN for None or empty geometries.

    Examples
    --------
    >>> to_metric_xy([None, shapely.Point()], "EPSG:32642")
    array([[nan, nan],
           [nan, nan]])
    """
    src, xy = _lonlat_or_xy(points)
    out = np.full_like(xy, np.nan)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        tr = Transformer.from_crs(src, CRS(crs), always_xy=True)
        x, y = tr.transform(xy[ok, 0], xy[ok, 1])
        out[ok, 0], out[ok, 1] = x, y
    return out


def _lonlat_or_xy(points: Points) -> tuple[CRS, np.ndarray]:
    """Split ``points`` into (source CRS, (n, 2) coordinates); NaN rows for missing points."""
    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        series = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if series.crs is None:
            raise ValueError("points have no CRS; set one (e.g. EPSG:4326) before routing")
        src = CRS(series.crs)
        geoms = np.asarray(series.array, dtype=object)
    elif isinstance(points, BaseGeometry):
        src, geoms = _WGS84, np.array([points], dtype=object)
    else:
        arr = np.asarray(points, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 2:
            return _WGS84, np.asarray(points, dtype=float).reshape(-1, 2)
        if arr.ndim == 1 and arr.size == 2 and all(isinstance(a, int | float | np.number)
                                                   for a in arr):
            return _WGS84, np.asarray(points, dtype=float).reshape(1, 2)
        src, geoms = _WGS84, arr.reshape(-1)
    pts = np.array(geoms, dtype=object)
    other = shapely.get_type_id(pts) > 0  # lines, polygons, collections (None is -1)
    pts[other] = shapely.point_on_surface(pts[other])
    return src, np.column_stack(xy(pts)).reshape(-1, 2)


# --------------------------------------------------------------------------- graph building


def build_road_graph(
    roads: gpd.GeoDataFrame,
    *,
    speeds: Mapping[str, float] | None = None,
    snap_m: float = 5.0,
    crs: CRS | str | None = None,
    default_kmh: float = 30.0,
    max_segment_m: float | None = None,
) -> nx.Graph:
    """Build an undirected road graph weighted by travel time.

    Every vertex of every road line becomes a node; consecutive vertices are joined by an
    edge.  Vertices closer than ``snap_m`` metres merge into one node (clusters of the
    pairs within ``snap_m``, so a chain of close vertices merges even if its ends are
    farther apart), and a vertex that lies within ``snap_m`` of another segment's
    interior splits that segment (a T-junction).  Roads that cross without a vertex at
    the crossing stay unconnected (bridges, overpasses).  Parallel edges keep the fastest.

    Parameters
    ----------
    roads
        Road lines (LineString / MultiLineString) with a CRS, optional ``road_class`` and
        optional ``speed_kmh``.  Rows with None or empty geometry are skipped.
    speeds
        Speed by road class in km/h, merged over :data:`DEFAULT_SPEEDS_KMH`.
    snap_m
        Merge distance in metres (0 joins only identical vertices).
    crs
        Projected CRS in metres to measure in; by default the UTM zone of the roads.
    default_kmh
        Speed of a road with neither a positive ``speed_kmh`` nor a known ``road_class``.
    max_segment_m
        Densify lines so no edge is longer than this (``shapely.segmentize``).  Travel times
        are exact at nodes; a source or target in the middle of a long edge is routed via
        the edge's ends, so hand-drawn roads with few vertices benefit from ~100 m.

    Returns
    -------
    networkx.Graph
        Nodes ``0..n-1`` with attributes ``x``, ``y`` (metres in ``graph.graph["crs"]``)
        and ``lon``, ``lat``; edges with ``length_m``, ``minutes``, ``speed_kmh``,
        ``road_class`` and ``road`` (the index label of the source row); ``graph.graph``
        holds ``crs``, ``snap_m`` and ``top_speed_kmh`` (the fastest edge's speed).  An empty
        input gives an empty graph.

    Raises
    ------
    ValueError
        If the frame has no CRS, a row is not a line, or a parameter is out of range.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import LineString
    >>> g = build_road_graph(gpd.GeoDataFrame(
    ...     {"road_class": ["primary"]}, geometry=[LineString([(66.0, 40.0), (66.1, 40.0)])],
    ...     crs=4326))
    >>> g.number_of_nodes(), g.number_of_edges()
    (2, 1)
    """
    table = _speed_table(speeds, default_kmh, snap_m)
    if roads.crs is None:
        raise ValueError("build_road_graph: roads have no CRS; expected e.g. EPSG:4326")
    present = ~(roads.geometry.isna() | roads.geometry.is_empty).to_numpy()
    graph = nx.Graph(crs=None, snap_m=float(snap_m))
    if not present.any():
        graph.graph["crs"] = CRS(crs) if crs is not None else None
        return graph
    work = roads.loc[present]
    mcrs = CRS(crs) if crs is not None else metric_crs(work)
    graph.graph["crs"] = mcrs
    geoms = np.asarray(work.geometry.to_crs(mcrs).array, dtype=object)
    if max_segment_m is not None:
        if not (np.isfinite(max_segment_m) and max_segment_m > 0):
            raise ValueError(f"build_road_graph: max_segment_m must be > 0, got {max_segment_m}")
        geoms = shapely.segmentize(geoms, max_segment_m)
    row_speed = _row_speeds(work, table, default_kmh)
    classes = _row_classes(work)
    a, b, seg_row = _segments(geoms, work.index)
    a, b, seg_row = _split_at_junctions(a, b, seg_row, snap_m)
    node_xy, ua, ub = _cluster(np.concatenate([a, b]), snap_m, len(a))
    _assemble(graph, node_xy, ua, ub, seg_row, row_speed, classes, work.index, mcrs)
    return graph


def _speed_table(speeds: Mapping[str, float] | None, default_kmh: float,
                 snap_m: float) -> dict[str, float]:
    """Validate parameters and merge ``speeds`` over the defaults."""
    table = {**DEFAULT_SPEEDS_KMH, **({} if speeds is None else dict(speeds))}
    bad = {k: v for k, v in table.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"build_road_graph: speeds must be positive km/h, got {bad}")
    if not (np.isfinite(default_kmh) and default_kmh > 0):
        raise ValueError(f"build_road_graph: default_kmh must be positive, got {default_kmh}")
    if not (np.isfinite(snap_m) and snap_m >= 0):
        raise ValueError(f"build_road_graph: snap_m must be >= 0 metres, got {snap_m}")
    return {k.lower(): float(v) for k, v in table.items()}


def _row_classes(roads: gpd.GeoDataFrame) -> np.ndarray:
    """Lower-cased road class per row as an object array (None when missing)."""
    if "road_class" not in roads:
        return np.full(len(roads), None, dtype=object)
    cls = roads["road_class"].astype("string").str.strip().str.lower()
    return cls.astype(object).where(cls.notna(), None).to_numpy(dtype=object)


def _row_speeds(roads: gpd.GeoDataFrame, table: Mapping[str, float],
                default_kmh: float) -> np.ndarray:
    """Speed per row: positive ``speed_kmh``, else the class speed, else ``default_kmh``."""
    n = len(roads)
    own = (pd.to_numeric(roads["speed_kmh"], errors="coerce").to_numpy(dtype=float)
           if "speed_kmh" in roads else np.full(n, np.nan))
    by_class = pd.Series(_row_classes(roads), dtype=object).map(table).to_numpy(dtype=float)
    speed = np.where(np.isfinite(own) & (own > 0), own, by_class)
    return np.where(np.isfinite(speed) & (speed > 0), speed, default_kmh)


def _segments(geoms: np.ndarray, index: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight segments ``(a, b, row)`` of all line parts, vectorised."""
    parts, part_row = shapely.get_parts(geoms, return_index=True)
    types = shapely.get_type_id(parts)
    bad = ~np.isin(types, _LINE_TYPES)
    if bad.any():
        row = part_row[np.flatnonzero(bad)[0]]
        raise ValueError(f"build_road_graph: road {index[row]!r} is a {geoms[row].geom_type}; "
                         "expected LineString or MultiLineString")
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    same = part_of[:-1] == part_of[1:]
    i = np.flatnonzero(same)
    return coords[i], coords[i + 1], part_row[part_of[i]]


def _split_at_junctions(a: np.ndarray, b: np.ndarray, row: np.ndarray,
                        snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Insert a vertex where a segment end lies on another segment's interior (T-junction)."""
    if len(a) == 0:
        return a, b, row
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    ends = np.unique(np.concatenate([a, b]), axis=0)
    tree = shapely.STRtree(lines)
    tol = max(snap_m, 1e-6)
    pt_i, seg_i = tree.query(shapely.points(ends), predicate="dwithin", distance=tol)
    d = b[seg_i] - a[seg_i]
    length = np.hypot(d[:, 0], d[:, 1])
    along = np.einsum("ij,ij->i", ends[pt_i] - a[seg_i], d) / np.where(length > 0, length, 1.0)
    inner = (along > tol) & (along < length - tol)
    if not inner.any():
        return a, b, row
    seg_i, along, length = seg_i[inner], along[inner], length[inner]
    t = along / length
    ins = a[seg_i] + t[:, None] * (b[seg_i] - a[seg_i])
    m = len(a)
    seg = np.concatenate([np.arange(m), np.arange(m), seg_i])
    tt = np.concatenate([np.zeros(m), np.ones(m), t])
    xy = np.concatenate([a, b, ins])
    order = np.lexsort((tt, seg))
    seg, xy = seg[order], xy[order]
    keep = np.flatnonzero(seg[:-1] == seg[1:])
    return xy[keep], xy[keep + 1], row[seg[keep]]


def _cluster(xy: np.ndarray, snap_m: float, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge coordinates within ``snap_m``; return node coordinates and node ids of a, b."""
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    if snap_m > 0 and len(uniq) > 1:
        pairs = cKDTree(uniq).query_pairs(snap_m, output_type="ndarray")
        adj = sparse.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                               shape=(len(uniq), len(uniq)))
        _, label = connected_components(adj, directed=False)
    else:
        label = np.arange(len(uniq))
    count = np.bincount(label).astype(float)
    node_xy = np.column_stack([np.bincount(label, weights=uniq[:, 0]) / count,
                               np.bincount(label, weights=uniq[:, 1]) / count])
    node = label[inv]
    return node_xy, node[:m], node[m:]


def _assemble(graph: nx.Graph, node_xy: np.ndarray, ua: np.ndarray, ub: np.ndarray,
              seg_row: np.ndarray, row_speed: np.ndarray, classes: np.ndarray,
              index: pd.Index, mcrs: CRS) -> None:
    """Add nodes and fastest edges to ``graph`` in place."""
    tr = Transformer.from_crs(mcrs, _WGS84, always_xy=True)
    lon, lat = tr.transform(node_xy[:, 0], node_xy[:, 1])
    graph.add_nodes_from(
        (i, {"x": x, "y": y, "lon": lo, "lat": la})
        for i, (x, y, lo, la) in enumerate(zip(node_xy[:, 0].tolist(), node_xy[:, 1].tolist(),
                                               np.asarray(lon).tolist(),
                                               np.asarray(lat).tolist(), strict=True)))
    keep = ua != ub
    u, v, r = ua[keep], ub[keep], seg_row[keep]
    d = node_xy[v] - node_xy[u]
    length = np.hypot(d[:, 0], d[:, 1])
    speed = row_speed[r]
    minutes = length / 1000.0 / speed * 60.0
    # the fastest edge's speed (parallel edges share their length, so the fastest one kept has
    # the top speed): what travel reaches at most, without walking the edges
    graph.graph["top_speed_kmh"] = float(speed.max()) if len(speed) else 0.0
    # add slowest first so the fastest parallel edge is the one that stays
    order = np.argsort(-minutes, kind="stable")
    labels = index.to_numpy(dtype=object)
    graph.add_edges_from(
        (uu, vv, {"length_m": ll, "minutes": mm, "speed_kmh": ss, "road_class": classes[rr],
                  "road": labels[rr]})
        for uu, vv, ll, mm, ss, rr in zip(u[order].tolist(), v[order].tolist(),
                                          length[order].tolist(), minutes[order].tolist(),
                                          speed[order].tolist(), r[order].tolist(), strict=True))


# --------------------------------------------------------------------------- graph arrays


class GraphArrays:
    """Plain arrays of a road graph: node ids and coordinates, edge ends, lengths, minutes.

    Parameters
    ----------
    graph
        Road graph from :func:`build_road_graph` (nodes with ``x``, ``y`` in
        ``graph.graph["crs"]``; edges with ``minutes``).

    Attributes
    ----------
    crs : pyproj.CRS or None
        The graph's projected CRS (None only for a graph without nodes).
    nodes : pandas.Index
        Node ids; array positions below index into it.
    xy : numpy.ndarray
        ``(n, 2)`` node coordinates in metres.
    u, v : numpy.ndarray
        Node positions of each edge's ends (self-loops left out).
    length, minutes : numpy.ndarray
        Straight length in metres and travel time of each edge.

    Raises
    ------
    ValueError
        If a graph with nodes has no CRS, or an edge has no finite, non-negative ``minutes``.
    """

    def __init__(self, graph: nx.Graph) -> None:
        crs = graph.graph.get("crs")
        if crs is None and graph.number_of_nodes():
            raise ValueError("road graph has no graph.graph['crs']; build it with "
                             "build_road_graph or set a projected CRS")
        self.crs = CRS(crs) if crs is not None else None
        self.nodes = pd.Index(list(graph.nodes))
        self.xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)],
                           dtype=float).reshape(-1, 2)
        rows = [(u, v, d.get("minutes", np.nan)) for u, v, d in graph.edges(data=True) if u != v]
        uv = np.array([(u, v) for u, v, _ in rows], dtype=object).reshape(-1, 2)
        self.u = self.nodes.get_indexer(uv[:, 0]) if len(rows) else np.zeros(0, int)
        self.v = self.nodes.get_indexer(uv[:, 1]) if len(rows) else np.zeros(0, int)
        minutes = np.array([m for _, _, m in rows], dtype=float)
        if not np.all(np.isfinite(minutes) & (minutes >= 0)):
            raise ValueError("road graph: every edge needs a finite, non-negative 'minutes'")
        self.minutes = minutes
        d = self.xy[self.v] - self.xy[self.u]
        self.length = np.hypot(d[:, 0], d[:, 1])

    @classmethod
    def of(cls, graph: nx.Graph) -> GraphArrays:
        """The arrays of ``graph``; kept with a frozen graph (``nx.freeze``), which cannot
        change, so a zone's dozen travel-time questions convert it once.

        >>> g = nx.freeze(nx.Graph(crs="EPSG:32642"))
        >>> GraphArrays.of(g) is GraphArrays.of(g), GraphArrays.of(nx.Graph()) is None
        (True, False)
        """
        if not nx.is_frozen(graph):
            return cls(graph)
        got = graph.graph.get("_arrays")
        if not isinstance(got, cls):
            got = graph.graph["_arrays"] = cls(graph)
        return got

    @functools.cached_property
    def lines(self) -> np.ndarray:
        """Each edge as a straight line from ``u`` to ``v`` (positions as in ``u``)."""
        return shapely.linestrings(np.stack([self.xy[self.u], self.xy[self.v]], axis=1)) \
            if len(self.u) else np.empty(0, dtype=object)

    @functools.cached_property
    def edge_tree(self) -> tuple[np.ndarray, shapely.STRtree]:
        """The edges of positive length and an STRtree of their :attr:`lines`."""
        edge = np.flatnonzero(self.length > 0)
        return edge, shapely.STRtree(self.lines[edge])

    def directed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Both directions of every edge: ``u``, ``v``, ``length`` and ``minutes``."""
        return (np.concatenate([self.u, self.v]), np.concatenate([self.v, self.u]),
                np.tile(self.length, 2), np.tile(self.minutes, 2))

    def node_times(self, times: pd.Series | pd.DataFrame) -> np.ndarray:
        """Minutes per node position (inf when unreached) from a ``travel_times`` result."""
        minutes = times["minutes"] if isinstance(times, pd.DataFrame) else times
        out = np.full(len(self.nodes), np.inf)
        pos = self.nodes.get_indexer(minutes.index)
        val = minutes.to_numpy(dtype=float)
        ok = (pos >= 0) & np.isfinite(val)
        out[pos[ok]] = val[ok]
        return out


def metres_per_minute(kmh: float) -> float:
    """Metres per minute at ``kmh``; raises ValueError on a non-positive or non-finite speed.

    Examples
    --------
    >>> metres_per_minute(15.0)
    250.0
    """
    if not (np.isfinite(kmh) and kmh > 0):
        raise ValueError(f"offroad_kmh must be a positive speed, got {kmh}")
    return kmh * 1000.0 / 60.0


# --------------------------------------------------------------------------- travel times


def travel_times(
    graph: nx.Graph,
    sources: Points,
    *,
    max_minutes: float | None = None,
    offroad_kmh: float = OFFROAD_KMH,
    max_access_m: float | None = None,
) -> pd.DataFrame:
    """Return the fastest travel time from any source to every road node.

    Each source joins the network with an access leg at ``offroad_kmh``: straight to the
    nearest point of its nearest road edge (then along the edge to either end), or straight
    to its nearest node, whichever is faster.  One multi-source Dijkstra (a virtual
    super-source joined to those nodes by the entry times; scipy's csgraph) then gives,
    per node, the minutes from the fastest source and which source that was.  Times to
    places off the nodes are derived from the node times, so a place on the source's own
    edge is reached via one of the edge's ends (an over-estimate on long edges; build the
    graph with ``max_segment_m`` to bound it).

    Parameters
    ----------
    graph
        Road graph from :func:`build_road_graph`.
    sources
        Points (see :func:`to_metric_xy`); None/empty sources are ignored.
    max_minutes
        Stop the search at this many minutes; farther nodes are left out.
    offroad_kmh
        Speed of the access leg from a source to its node.
    max_access_m
        Ignore sources farther than this from the road network (e.g. a post with no road).

    Returns
    -------
    pandas.DataFrame
        Indexed by node id (name ``node``), only reached nodes, with ``minutes`` (float)
        and ``source`` (position of the fastest source in ``sources``).  Empty when no
        source is usable.

    Examples
    --------
    >>> import networkx as nx
    >>> travel_times(nx.Graph(crs="EPSG:32642"), [None]).empty
    True
    """
    arrays = GraphArrays.of(graph)
    vo = metres_per_minute(offroad_kmh)
    empty = pd.DataFrame({"minutes": pd.Series(dtype=float), "source": pd.Series(dtype=int)},
                         index=pd.Index(arrays.nodes[:0], name="node"))
    n = len(arrays.nodes)
    if n == 0:
        return empty
    assert arrays.crs is not None  # a graph with nodes has a CRS (checked in GraphArrays)
    sxy = to_metric_xy(sources, arrays.crs)
    src = np.flatnonzero(np.isfinite(sxy).all(axis=1))
    if src.size == 0:
        return empty
    cand_node, cand_src, cand_time = _entries(arrays, sxy, src, vo, max_access_m)
    if cand_node.size == 0:
        return empty
    # best entry per node: sort by (node, time) and take the first of each node
    order = np.lexsort((cand_time, cand_node))
    cand_node, cand_src, cand_time = cand_node[order], cand_src[order], cand_time[order]
    first = np.r_[True, cand_node[1:] != cand_node[:-1]]
    root_node, root_src, root_time = cand_node[first], cand_src[first], cand_time[first]
    w = np.maximum(arrays.minutes, 1e-12)
    rows = np.concatenate([arrays.u, np.full(root_node.size, n)])
    cols = np.concatenate([arrays.v, root_node])
    vals = np.concatenate([w, root_time + _OFFSET])
    csr = sparse.csr_array((vals, (rows, cols)), shape=(n + 1, n + 1))
    limit = np.inf if max_minutes is None else float(max_minutes) + _OFFSET
    dist_all, pred = dijkstra(csr, directed=False, indices=n, return_predecessors=True,
                              limit=limit)
    minutes = dist_all[:n] - _OFFSET
    reached = np.flatnonzero(np.isfinite(minutes))
    origin = _origin_of(pred[:n], n)
    source_at = np.full(n, -1)
    source_at[root_node] = root_src
    return pd.DataFrame({"minutes": minutes[reached], "source": source_at[origin[reached]]},
                        index=pd.Index(arrays.nodes[reached], name="node"))


def _entries(arrays: GraphArrays, sxy: np.ndarray, src: np.ndarray, vo: float,
             max_access_m: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate (node, source, minutes) entries: via the nearest node and the nearest edge."""
    dist, nearest = cKDTree(arrays.xy).query(sxy[src])
    nodes, srcs, mins, off = [nearest], [src], [dist / vo], [dist]
    edge, tree = arrays.edge_tree
    if edge.size:
        s_i, e_i = tree.query_nearest(shapely.points(sxy[src]), all_matches=False)
        e = edge[e_i]
        p, ea, eb = sxy[src][s_i], arrays.xy[arrays.u[e]], arrays.xy[arrays.v[e]]
        length = arrays.length[e]
        along = np.clip(np.einsum("ij,ij->i", p - ea, eb - ea) / length, 0.0, length)
        foot = ea + (eb - ea) * (along / length)[:, None]
        d = np.hypot(*(p - foot).T)
        per_m = arrays.minutes[e] / length
        nodes += [arrays.u[e], arrays.v[e]]
        srcs += [src[s_i], src[s_i]]
        mins += [d / vo + along * per_m, d / vo + (length - along) * per_m]
        off += [d, d]
    node, source, minutes, offroad = (np.concatenate(x) for x in (nodes, srcs, mins, off))
    if max_access_m is not None:
        keep = offroad <= max_access_m
        node, source, minutes = node[keep], source[keep], minutes[keep]
    return node, source, minutes


def _origin_of(pred: np.ndarray, root: int) -> np.ndarray:
    """The first node after the super-source on each node's shortest path (pointer jumping)."""
    n = pred.size
    own = np.arange(n)
    parent = np.where((pred == root) | (pred < 0), own, pred)
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def time_to_area(
    graph: nx.Graph,
    times: pd.DataFrame,
    area: BaseGeometry,
) -> tuple[float, int]:
    """Return the minutes until the road network first enters ``area``, and from which source.

    For every reached edge the first point inside ``area`` (buffered by the graph's
    ``snap_m``) is located along the edge from each end, so a road crossing the boundary
    between two vertices counts from the crossing, not from the next vertex.

    Parameters
    ----------
    graph
        Road graph from :func:`build_road_graph`.
    times
        Result of :func:`travel_times` (``minutes`` and ``source``).
    area
        Polygon in EPSG:4326.

    Returns
    -------
    tuple of (float, int)
        Minutes (NaN when no reached road enters the area) and the position of the fastest
        source in the ``sources`` given to :func:`travel_times` (-1 when none).

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> time_to_area(nx.Graph(crs="EPSG:32642"), pd.DataFrame({"minutes": [], "source": []}),
    ...              None)
    (nan, -1)
    """
    arrays = GraphArrays.of(graph)
    if area is None or area.is_empty or len(arrays.nodes) == 0 or times.empty:
        return float("nan"), -1
    t_node = arrays.node_times(times)
    src_node = np.full(len(arrays.nodes), -1)
    pos = arrays.nodes.get_indexer(times.index)
    src_node[pos[pos >= 0]] = times["source"].to_numpy()[pos >= 0]
    area_m = gpd.GeoSeries([area], crs=_WGS84).to_crs(arrays.crs).iloc[0]
    area_m = area_m.buffer(float(graph.graph.get("snap_m", 0.0)) + 1e-6)
    best, best_src = np.inf, -1
    inside = np.flatnonzero(np.isfinite(t_node)
                            & shapely.contains_xy(area_m, arrays.xy[:, 0], arrays.xy[:, 1]))
    if inside.size:
        j = inside[np.argmin(t_node[inside])]
        best, best_src = t_node[j], src_node[j]
    u, v, length, mins = arrays.directed()
    go = np.flatnonzero(np.isfinite(t_node[u]) & (length > 0))
    a, b = arrays.xy[u[go]], arrays.xy[v[go]]
    cut = shapely.intersection(shapely.linestrings(np.stack([a, b], axis=1)), area_m)
    coords, which = shapely.get_coordinates(cut, return_index=True)
    if coords.size:
        unit = (b - a) / length[go][:, None]
        along = np.einsum("ij,ij->i", coords - a[which], unit[which])
        first = np.full(go.size, np.inf)
        np.minimum.at(first, which, np.maximum(along, 0.0))
        t = t_node[u[go]] + first * mins[go] / length[go]
        j = int(np.argmin(t))
        if t[j] < best:
            best, best_src = t[j], src_node[u[go][j]]
    return (float(best), int(best_src)) if np.isfinite(best) else (float("nan"), -1)

