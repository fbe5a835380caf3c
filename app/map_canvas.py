"""Where the app's map figures draw: plotly cartesian axes in lon/lat, or MapLibre over the
app's offline base map (:mod:`app.map_tiles`).

A figure builder that takes a MapLibre ``style`` draws the same layers both ways through a
:class:`Canvas`: polygons become ``choroplethmap`` traces (holes left open, one feature per
polygon), lines, markers and text ``scattermap`` traces. Without a style (a report saved as a
file, read anywhere) they stay cartesian ``scatter`` traces.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

import shapely
from shapely.geometry.base import BaseGeometry

from riskmap.app.figures import polygon_xy
from riskmap.geo.tiles import mercator

__all__ = ["FILLS_BELOW", "Canvas", "FrozenGeoJSON", "fit_zoom", "polygons_geojson", "rings_xy",
           "shown_bounds", "unit_geometries"]

#: the MapLibre style layer the fills go under: water, rivers, roads, boundaries and names of
#: the base map show over the risk and coverage colours, as on the cartesian maps
FILLS_BELOW = "water"
#: half the Web Mercator world's width, metres
_HALF = 20037508.342789244


class Canvas:
    """Where a map figure draws: plotly's cartesian axes in lon/lat (no tiles: a report read
    anywhere) or, given a ``style``, a MapLibre map over the app's offline base map.

    The figure builders add polygons with :meth:`area` and lines, markers and text with
    :meth:`trace`, and end with :meth:`finish`; the traces' ``meta`` is the same on both.
    """

    def __init__(self, style: dict[str, Any] | None) -> None:
        self.fig = go.Figure()
        self.style = style
        self.maplibre = style is not None

    def area(self, geoms: Any, name: str, fill: str, line: str, meta: dict[str, Any], *,
             width: float = 0.8, holes: bool = False, hoverinfo: str = "name",
             customdata: np.ndarray | None = None, **extra: Any) -> bool:
        """Filled polygons, one trace (``holes``: left open; MapLibre always leaves them
        open). ``customdata``: rows aligned with ``geoms``, carried by each polygon for its
        tooltip (MapLibre only: a cartesian map's tooltips are points). ``extra``: more trace
        attributes (``fillpattern``: cartesian only). False when there is nothing to draw."""
        arr = np.asarray(geoms, dtype=object)
        ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr)) if len(arr) else \
            np.zeros(0, dtype=bool)
        arr = arr[ok]
        if self.maplibre:
            parts, of = (shapely.get_parts(arr, return_index=True) if len(arr)
                         else (arr, np.zeros(0, dtype=np.int64)))
            keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
            parts, of = parts[keep], of[keep]
            if len(parts) == 0:
                return False
            # simplified to a 4,000th of the layer's extent (a quarter pixel of the first view;
            # MapLibre re-tiles every polygon it is sent)
            x0, y0, x1, y1 = shapely.total_bounds(parts)
            parts = shapely.simplify(parts, max(x1 - x0, y1 - y0) / 4000,
                                     preserve_topology=True)
            keep = ~shapely.is_empty(parts)
            parts, of = parts[keep], of[keep]
            if len(parts) == 0:
                return False
            if customdata is not None:
                extra["customdata"] = np.asarray(customdata, dtype=object)[ok][of]
            geojson = polygons_geojson(parts)
            extra.pop("fillpattern", None)
            extra.setdefault("showlegend", True)
            self.fig.add_trace(go.Choroplethmap(
                uid=self._uid("choroplethmap", meta), geojson=geojson, below=FILLS_BELOW,
                locations=[str(i) for i in range(len(parts))], z=np.ones(len(parts)),
                colorscale=[[0, fill], [1, fill]], showscale=False,
                marker={"line": {"color": line, "width": width}}, name=name,
                hoverinfo=hoverinfo, meta=meta, **extra))
            return True
        if holes:
            rings = [rings_xy(g) for g in arr]
            rings = [r for r in rings if len(r[0])]
            gap = np.array([np.nan])
            x = np.concatenate([c for r in rings for c in (r[0], gap)][:-1]) if rings \
                else np.empty(0)
            y = np.concatenate([c for r in rings for c in (r[1], gap)][:-1]) if rings \
                else np.empty(0)
        else:
            x, y = polygon_xy(arr)
        if len(x) == 0:
            return False
        self.fig.add_trace(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=fill,
                                      line={"color": line, "width": width}, name=name,
                                      hoverinfo=hoverinfo, meta=meta, **extra))
        return True

    def trace(self, x: Any, y: Any, **kw: Any) -> None:
        """Lines, markers or text at lon/lat ``x``/``y`` (MapLibre: no dashes, and marker
        shapes are circles)."""
        if not self.maplibre:
            self.fig.add_trace(go.Scatter(x=x, y=y, **kw))
            return
        if kw.get("mode") == "text":
            # plotly draws a text-only scattermap as a symbol layer whose icon needs a sprite
            # (the offline style has none: "Map error"); an unseen marker carries the text
            kw["mode"] = "markers+text"
            kw["marker"] = {"size": 1, "opacity": 0}
        line = {k: v for k, v in kw.pop("line", {}).items() if k != "dash"}
        marker = {k: v for k, v in kw.pop("marker", {}).items() if k not in ("symbol", "line")}
        if line:
            kw["line"] = line
        if marker:
            kw["marker"] = marker
        self.fig.add_trace(go.Scattermap(lon=x, lat=y, uid=self._uid("scattermap",
                                                                      kw.get("meta")), **kw))

    def _uid(self, kind: str, meta: Mapping[str, Any] | None) -> str:
        """A trace id that changes with the trace's type: plotly names its MapLibre layers
        by it, and a layer of the other type left under the same name is a "Map error" when
        the figure is redrawn (the bands' source switched, say)."""
        parts = repr([*(meta or {}).values(), len(self.fig.data)]).encode("utf-8")
        # plotly also puts it in CSS selectors: letters and digits only
        return f"{kind}-{hashlib.blake2b(parts, digest_size=6).hexdigest()}"

    def finish(self, bounds: tuple[float, float, float, float], size: tuple[int, int],
               **layout: Any) -> go.Figure:
        """Lay the figure out over lon/lat ``bounds`` (the first view of a MapLibre map: the
        whole of them in a ``size`` px map) with plotly ``layout`` settings; cartesian axes
        keep a true aspect at the bounds' latitude."""
        if self.style is not None:
            layout.pop("plot_bgcolor", None)
            layout.pop("dragmode", None)
            self.fig.update_layout(map={
                "style": self.style, "center": {"lon": (bounds[0] + bounds[2]) / 2,
                                           "lat": (bounds[1] + bounds[3]) / 2},
                "zoom": fit_zoom(bounds, size)}, **layout)
            return self.fig
        lat0 = (bounds[1] + bounds[3]) / 2 if np.isfinite(bounds[1]) else 0.0
        self.fig.update_layout(
            xaxis={"visible": False, "constrain": "domain"},
            yaxis={"visible": False, "scaleanchor": "x",
                   "scaleratio": 1 / max(math.cos(math.radians(max(min(lat0, 85.0), -85.0))),
                                         0.2)}, **layout)
        return self.fig


class FrozenGeoJSON(dict):
    """GeoJSON that is never changed once built: a deep copy of it is itself.

    plotly deep-copies a trace's properties when it is added and again for every response; a
    copy of the coordinates of 24,000 hexagons took 0.85 s, four times the figure's JSON.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenGeoJSON:
        return self


def polygons_geojson(parts: np.ndarray) -> FrozenGeoJSON:
    """A FeatureCollection of polygons, one Feature each (``id`` its position), exteriors
    counter-clockwise and holes clockwise (MapLibre tells them apart by winding),
    coordinates to 1e-5 degrees (about a metre); built from whole arrays, not per vertex.

    >>> g = polygons_geojson(np.array([shapely.box(0, 0, 3, 3).difference(
    ...     shapely.box(1, 1, 2, 2))]))
    >>> f = g["features"][0]
    >>> f["id"], f["geometry"]["type"], len(f["geometry"]["coordinates"])
    ('0', 'Polygon', 2)
    """
    parts = shapely.orient_polygons(np.asarray(parts, dtype=object))
    per_polygon = shapely.get_num_interior_rings(parts) + 1
    coords, ring = shapely.get_coordinates(shapely.get_rings(parts), return_index=True)
    # each ring an (n, 2) array: plotly hands arrays to orjson whole, where it walks lists
    # element by element in Python (2 s for 24,000 hexagons)
    rings = np.split(np.round(coords, 5), np.flatnonzero(np.diff(ring)) + 1)
    starts = np.concatenate([[0], np.cumsum(per_polygon)])
    return FrozenGeoJSON(type="FeatureCollection", features=[
        {"type": "Feature", "id": str(i),
         "geometry": {"type": "Polygon", "coordinates": rings[starts[i]:starts[i + 1]]}}
        for i in range(len(parts))])


def unit_geometries(geoms: Any, tolerance: float = 0.0) -> np.ndarray:
    """One GeoJSON geometry per polygon of ``geoms`` (an object array aligned with it: a
    ``Polygon``, a ``MultiPolygon`` for several parts, ``None`` for a missing or empty one),
    simplified by ``tolerance`` degrees, exteriors counter-clockwise, coordinates to 1e-5
    degrees; the rings are arrays (written whole by orjson). Built once per layer and
    gathered per class with ``[positions]``: a map's polygons are not converted per request.

    >>> g = unit_geometries(np.array([shapely.box(0, 0, 1, 1), None,
    ...                               shapely.MultiPolygon([shapely.box(2, 2, 3, 3),
    ...                                                     shapely.box(4, 4, 5, 5)])]))
    >>> g[0]["type"], g[1], g[2]["type"], len(g[2]["coordinates"])
    ('Polygon', None, 'MultiPolygon', 2)
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    out = np.full(len(arr), None, dtype=object)
    if len(arr) == 0:
        return out
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)
    parts, owner = shapely.get_parts(arr, return_index=True)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & ~shapely.is_empty(parts)
    parts, owner = shapely.orient_polygons(parts[keep]), owner[keep]
    if len(parts) == 0:
        return out
    per_polygon = shapely.get_num_interior_rings(parts) + 1
    coords, ring = shapely.get_coordinates(shapely.get_rings(parts), return_index=True)
    rings = np.split(np.round(coords, 5), np.flatnonzero(np.diff(ring)) + 1)
    starts = np.concatenate([[0], np.cumsum(per_polygon)])
    polys = [rings[starts[i]:starts[i + 1]] for i in range(len(parts))]
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    last = np.r_[first[1:], len(owner)]
    for a, b in zip(first.tolist(), last.tolist(), strict=True):
        out[owner[a]] = ({"type": "Polygon", "coordinates": polys[a]} if b - a == 1 else
                         {"type": "MultiPolygon", "coordinates": polys[a:b]})
    return out


def fit_zoom(bounds: tuple[float, float, float, float], size: tuple[int, int],
             pad: float = 0.1) -> float:
    """The Web Mercator zoom at which lon/lat ``bounds`` fill a ``size`` (px) map, with a
    ``pad`` share to spare.

    >>> round(fit_zoom((67.0, 40.0, 67.1, 40.05), (900, 560)), 2)
    12.41
    """
    x, y = mercator(np.array([bounds[0], bounds[2]]), np.array([bounds[1], bounds[3]]))
    world = 2 * _HALF
    dx, dy = max(float(x[1] - x[0]), 1.0), max(float(y[1] - y[0]), 1.0)
    # MapLibre's zoom 0 shows the world in 512 px
    zoom = min(math.log2(size[0] * world / (512 * dx)), math.log2(size[1] * world / (512 * dy)))
    return float(min(max(zoom + math.log2(1 - pad), 0.0), 18.0))


def shown_bounds(center: tuple[float, float], zoom: float,
                 size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The lon/lat bounds a ``size`` px MapLibre map shows at ``center`` (lon, lat) and
    ``zoom`` (the inverse of :func:`fit_zoom`).

    >>> [round(v, 3) for v in shown_bounds((67.5, 40.5), 8.0, (512, 512))]
    [66.797, 39.963, 68.203, 41.033]
    """
    world = 2 * _HALF
    metres = world / (512 * 2 ** zoom)  # per pixel
    cx, cy = mercator(np.array([center[0]]), np.array([center[1]]))
    half_w, half_h = size[0] / 2 * metres, size[1] / 2 * metres
    lat = np.degrees(2 * np.arctan(np.exp((cy[0] + np.array([-half_h, half_h])) * math.pi / _HALF))
                     - math.pi / 2)
    lon = (cx[0] + np.array([-half_w, half_w])) * 180.0 / _HALF
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def rings_xy(geom: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Every ring of a (multi)polygon, exteriors counter-clockwise and holes clockwise, with
    NaN between rings, so that a ``toself`` fill leaves the holes open (non-zero rule).

    >>> x, y = rings_xy(shapely.box(0, 0, 3, 3).difference(shapely.box(1, 1, 2, 2)))
    >>> len(x), int(np.isnan(x).sum())
    (11, 1)
    """
    parts = shapely.get_parts(np.array([geom], dtype=object))
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    if len(parts) == 0:
        return np.empty(0), np.empty(0)
    rings = []
    for poly in shapely.orient_polygons(parts):
        rings.append(np.asarray(poly.exterior.coords))
        rings.extend(np.asarray(r.coords) for r in poly.interiors)
    gap = np.full((1, 2), np.nan)
    coords = np.concatenate([c for r in rings for c in (r, gap)][:-1])
    return coords[:, 0], coords[:, 1]
