"""The base map under the risk layers: what lets a reader find their way (boundaries, water,
rivers, roads, named places), from the mahalla polygons and the user's infrastructure layer.

Pure functions on geometry arrays and frames, nothing read or drawn here: the app turns a
:class:`BaseMap` into plotly traces. Everything comes from data the installation already has
(district and region outlines are dissolved from the mahallas; water, rivers, roads and places
are infrastructure features of those kinds, e.g. Natural Earth lakes and populated places or an
OpenStreetMap extract loaded with ``riskmap ingest infrastructure``), so nothing is fetched
from the internet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

import shapely

from riskmap.geo.tiles import TileLayer

__all__ = [
    "MAJOR_PLACE",
    "PLACE_KINDS",
    "RIVER_KINDS",
    "ROAD_CLASSES",
    "WATER_KINDS",
    "BaseMap",
    "base_map",
    "group_outlines",
    "line_xy",
    "tile_layers",
]

#: infrastructure kinds drawn as water (filled)
WATER_KINDS = frozenset({"water", "lake", "reservoir"})
#: infrastructure kinds drawn as rivers and canals (lines)
RIVER_KINDS = frozenset({"river", "canal", "stream"})
#: infrastructure kinds drawn as named places
PLACE_KINDS = frozenset({"settlement", "city", "town", "village"})
#: a place of this many people (or of kind ``city``) is a major one: labelled before districts
MAJOR_PLACE = 100_000
#: road classes from the most to the least important (anything else comes last)
ROAD_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary", "residential",
                "unclassified", "track")

_EMPTY = np.empty(0, dtype=np.float32)


def line_xy(geoms: np.ndarray | pd.Series, *,
            exterior: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Lines, and the rings of polygons, as float32 x/y with a NaN between parts.

    None, empty and point geometries are skipped. ``exterior``: only the polygons' outer
    rings (to fill them: a hole would be filled too).

    Examples
    --------
    >>> g = np.array([shapely.LineString([(0, 0), (1, 1)]), None,
    ...               shapely.box(2, 0, 3, 1), shapely.Point(5, 5)], dtype=object)
    >>> x, y = line_xy(g)
    >>> len(x), int(np.isnan(x).sum())
    (8, 1)
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return _EMPTY, _EMPTY
    parts = shapely.get_parts(arr)
    kind = shapely.get_type_id(parts)
    polys = parts[kind == shapely.GeometryType.POLYGON]
    lines = np.concatenate([
        parts[(kind == shapely.GeometryType.LINESTRING)
              | (kind == shapely.GeometryType.LINEARRING)],
        (shapely.get_exterior_ring(polys) if exterior else
         shapely.get_parts(shapely.get_rings(polys))) if len(polys)
        else np.empty(0, dtype=object),
    ])
    if len(lines) == 0:
        return _EMPTY, _EMPTY
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    if len(coords) == 0:
        return _EMPTY, _EMPTY
    cuts = np.flatnonzero(np.diff(idx)) + 1
    coords = np.insert(coords, cuts, np.nan, axis=0).astype(np.float32)
    return np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])


def group_outlines(geoms: np.ndarray, groups: np.ndarray | pd.Series, *,
                   tolerance: float = 0.0, min_hole: float | None = None) -> pd.Series:
    """The outline (boundary line) of the union of ``geoms`` per group.

    Real boundary layers have slivers and cracks between neighbours (and floating-point
    ones): their union would draw them as boundaries inside a district. Gaps narrower than
    twice ``tolerance`` are closed (a morphological closing: grown and shrunk back by
    ``tolerance``, mitred so corners stay sharp), and holes smaller than ``min_hole`` are
    dropped; larger ones stay (a city that is its own district inside another).

    Parameters
    ----------
    geoms
        Polygons (None and empty ones are left out).
    groups
        A group key per geometry (missing keys are left out).
    tolerance
        Douglas-Peucker tolerance of the outlines, in the geometries' units (0: none).
    min_hole
        Area of the smallest hole kept (default: ``(10 * tolerance) ** 2``).

    Returns
    -------
    pandas.Series
        Outline geometry per group key, in key order.

    Examples
    --------
    >>> g = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)])
    >>> out = group_outlines(g, np.array(["a", "a", "b"]))
    >>> round(out["a"].length, 6), round(out["b"].length, 6)
    (6.0, 4.0)
    """
    arr = np.asarray(geoms, dtype=object)
    keys = pd.Series(np.asarray(groups, dtype=object))
    ok = keys.notna().to_numpy() & ~shapely.is_missing(arr)
    ok[ok] &= ~shapely.is_empty(arr[ok])
    smallest = (10 * tolerance) ** 2 if min_hole is None else min_hole
    out: dict[object, object] = {}
    for key, pos in pd.Series(np.flatnonzero(ok)).groupby(keys[ok].to_numpy(), sort=True):
        union = shapely.union_all(arr[pos.to_numpy()])
        if tolerance > 0:
            union = shapely.buffer(shapely.buffer(union, tolerance, join_style="mitre"),
                                   -tolerance, join_style="mitre")
        union = _without_small_holes(union, smallest)
        line = shapely.boundary(union)
        out[key] = shapely.simplify(line, tolerance) if tolerance > 0 else line
    return pd.Series(out, dtype=object)


def _without_small_holes(geom: object, smallest: float) -> object:
    """``geom``'s polygons without the holes smaller than ``smallest`` (other parts dropped)."""
    parts = shapely.get_parts(np.asarray([geom], dtype=object))
    polys = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    if smallest <= 0 or not len(polys):
        return shapely.multipolygons(polys) if len(polys) else geom
    kept = []
    for poly in polys:
        holes = [r for r in poly.interiors if shapely.area(shapely.Polygon(r)) >= smallest]
        kept.append(shapely.Polygon(poly.exterior, holes))
    return shapely.multipolygons(kept)


@dataclass(frozen=True)
class BaseMap:
    """What the base map draws, each as NaN-separated float32 x/y (lon/lat).

    ``water`` holds the outer rings of water polygons (to be filled);

    ``roads`` maps a road class to its lines, most important first; ``places`` has one row per
    named place (``x``, ``y``, ``name``, ``major``: a city or :data:`MAJOR_PLACE` people),
    the major ones first, then those of the area, each group by population.
    """

    water: tuple[np.ndarray, np.ndarray] = (_EMPTY, _EMPTY)
    rivers: tuple[np.ndarray, np.ndarray] = (_EMPTY, _EMPTY)
    roads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    districts: tuple[np.ndarray, np.ndarray] = (_EMPTY, _EMPTY)
    regions: tuple[np.ndarray, np.ndarray] = (_EMPTY, _EMPTY)
    places: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"x": _EMPTY, "y": _EMPTY, "name": pd.Series([], dtype=object),
         "major": np.empty(0, dtype=bool)}))
    #: the area drawn (lon/lat ``x0, y0, x1, y1``; None: everything)
    box: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        """Whether there is nothing to draw."""
        return (not len(self.water[0]) and not len(self.rivers[0]) and not self.roads
                and not len(self.districts[0]) and not len(self.regions[0])
                and not len(self.places))


def _in_box(geoms: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    ok = ~shapely.is_missing(geoms)
    ok[ok] &= ~shapely.is_empty(geoms[ok])
    if box is not None and ok.any():
        ok[ok] &= shapely.intersects(geoms[ok], shapely.box(*box))
    return ok


def _road_order(road_class: pd.Series) -> pd.Series:
    rank = {c: i for i, c in enumerate(ROAD_CLASSES)}
    return road_class.astype(object).map(lambda c: rank.get(str(c).lower(), len(rank))
                                         if c is not None and c == c else len(rank))


def _spread(x: np.ndarray, y: np.ndarray, gap: float, limit: int) -> np.ndarray:
    """Positions of the points kept in order, each at least ``gap`` from those kept before it
    (at most ``limit``)."""
    kept: list[int] = []
    if not len(x) or limit <= 0:
        return np.asarray(kept, dtype=np.int64)
    tree = cKDTree(np.column_stack([x, y]))
    dropped = np.zeros(len(x), dtype=bool)
    for i in range(len(x)):
        if dropped[i]:
            continue
        kept.append(i)
        if len(kept) >= limit:
            break
        dropped[tree.query_ball_point((x[i], y[i]), gap)] = True
    return np.asarray(kept, dtype=np.int64)


def base_map(features: pd.DataFrame | None, *, districts: pd.Series | None = None,
             regions: pd.Series | None = None,
             box: tuple[float, float, float, float] | None = None,
             focus: tuple[float, float, float, float] | None = None,
             tolerance: float = 0.0005, max_road_points: int = 60_000,
             max_places: int = 200, min_gap: float | None = None) -> BaseMap:
    """The base map of the area ``box`` (lon/lat ``(x0, y0, x1, y1)``; ``None``: everything).

    Parameters
    ----------
    features
        Infrastructure features: ``kind``, ``geometry`` and optionally ``name``,
        ``road_class`` and ``population`` (orders the places; missing: last). Kinds in
        :data:`WATER_KINDS`, :data:`RIVER_KINDS`, :data:`PLACE_KINDS` and ``road`` are drawn.
    districts, regions
        Outlines per district and region (:func:`group_outlines`); those that reach into
        ``box`` are drawn, so the neighbours of an area show too.
    box
        The area drawn: lines and water are cut to it.
    focus
        The area itself (``box`` is usually a little wider): its places come first.
    tolerance
        Lines are simplified to this tolerance (degrees; 0.0005 is about 50 m).
    max_road_points
        Road classes are added most important first while their vertices stay within this
        budget (the most important class is always drawn).
    max_places
        At most this many places: cities first, then those in ``focus``, then by population.
    min_gap
        A place this close (degrees) to one kept before it is left out: two sources (Natural
        Earth and GeoNames, say) name the same town twice, a few km apart. Default: a
        sixtieth of the area's larger side (``focus``, else ``box``; 0.05 without either),
        so a region map keeps one name per town and a district map keeps its villages.
    """
    def lines(geoms: np.ndarray, exterior: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if tolerance > 0 and len(geoms):
            geoms = shapely.simplify(geoms, tolerance)
        if box is not None and len(geoms):  # what reaches past the area would widen the map
            geoms = shapely.clip_by_rect(geoms, *box)
        return line_xy(geoms, exterior=exterior)

    def outlines(series: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
        if series is None or not len(series):
            return _EMPTY, _EMPTY
        g = series.to_numpy(dtype=object)
        return lines(g[_in_box(g, box)])

    water = rivers = (_EMPTY, _EMPTY)
    roads: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    places = BaseMap().places
    if features is not None and len(features):
        geoms = np.asarray(features.geometry.to_numpy(), dtype=object)
        kind = features["kind"].astype(object).fillna("").astype(str).str.lower().to_numpy()
        ok = _in_box(geoms, box)
        water = lines(geoms[ok & np.isin(kind, list(WATER_KINDS))], exterior=True)
        rivers = lines(geoms[ok & np.isin(kind, list(RIVER_KINDS))])
        road = ok & (kind == "road")
        if road.any():
            cls = (features["road_class"] if "road_class" in features
                   else pd.Series(None, index=features.index, dtype=object))
            sub = pd.DataFrame({"g": geoms[road], "cls": cls.to_numpy(dtype=object)[road]})
            sub["order"] = _road_order(sub["cls"]).to_numpy()
            budget = max_road_points
            for order, part in sub.groupby("order", sort=True):
                xy = lines(part["g"].to_numpy(dtype=object))
                if roads and len(xy[0]) > budget:
                    break
                name = ROAD_CLASSES[order] if order < len(ROAD_CLASSES) else "other"
                roads[name] = xy
                budget -= len(xy[0])
        place = ok & np.isin(kind, list(PLACE_KINDS))
        if "name" in features:
            named = features["name"].astype(object).to_numpy()
            place &= pd.notna(named) & (pd.Series(named).astype(str).str.strip() != "").to_numpy()
        else:
            place[:] = False
        if place.any():
            pts = shapely.point_on_surface(geoms[place])
            pop = (pd.to_numeric(features["population"], errors="coerce").to_numpy()[place]
                   if "population" in features else np.full(int(place.sum()), np.nan))
            frame = pd.DataFrame({"x": shapely.get_x(pts).astype(np.float32),
                                  "y": shapely.get_y(pts).astype(np.float32),
                                  "name": features["name"].astype(object).to_numpy()[place],
                                  "population": pop,
                                  "major": (kind[place] == "city") | (pop >= MAJOR_PLACE)})
            frame["inner"] = (np.ones(len(frame), dtype=bool) if focus is None else
                              ((frame["x"] >= focus[0]) & (frame["x"] <= focus[2])
                               & (frame["y"] >= focus[1]) & (frame["y"] <= focus[3])).to_numpy())
            frame = frame.sort_values(["major", "inner", "population"],
                                      ascending=[False, False, False], na_position="last",
                                      kind="stable")
            if min_gap is None:
                side = focus or box
                min_gap = (max(side[2] - side[0], side[3] - side[1]) / 60 if side is not None
                           else 0.05)
            keep = _spread(frame["x"].to_numpy(float), frame["y"].to_numpy(float),
                           min_gap, max_places)
            places = frame.iloc[keep][["x", "y", "name", "major"]].reset_index(drop=True)
    return BaseMap(water=water, rivers=rivers, roads=roads, districts=outlines(districts),
                   regions=outlines(regions), places=places, box=box)


#: the zoom each road class first shows at in the vector tiles (others: 11)
_ROAD_MINZOOM = {"motorway": 0, "trunk": 0, "primary": 6, "secondary": 8, "tertiary": 10,
                 "residential": 12, "unclassified": 12, "track": 13}


def tile_layers(features: pd.DataFrame | None, *, districts: pd.Series | None = None,
                regions: pd.Series | None = None,
                mahallas: pd.DataFrame | None = None) -> dict[str, TileLayer]:
    """The base map as vector-tile layers (:class:`geo.tiles.TileSource`), bottom to top.

    ``water`` (polygons, ``name``), ``river`` (``name``; streams from zoom 11), ``road``
    (``class``; minor classes join with zoom), ``boundary`` (``level`` 4 for regions, 6 for
    districts, ``name``), ``mahalla`` (outlines and ``name`` from zoom 10) and ``place``
    (points with ``name``, ``rank`` 0 for cities and places of :data:`MAJOR_PLACE` people or
    more, 1 from 10,000, else 2; shown from zoom 0, 3 and 4: MapLibre leaves out the names
    that would collide, the most important kept). The same inputs as
    :func:`base_map`; ``mahallas`` has ``name`` and ``geometry``.

    Examples
    --------
    >>> feats = pd.DataFrame({"kind": ["city", "town", "road"], "name": ["A", "B", None],
    ...     "road_class": [None, None, "track"], "population": [np.nan, 5000.0, np.nan],
    ...     "geometry": [shapely.Point(66, 40), shapely.Point(66.1, 40),
    ...                  shapely.LineString([(66, 40), (66.1, 40.1)])]})
    >>> layers = tile_layers(feats)
    >>> layers["place"].properties["rank"].tolist(), layers["place"].minzoom.tolist()
    ([0, 2], [0, 4])
    >>> layers["road"].minzoom.tolist()
    [13]
    """
    empty = np.empty(0, dtype=object)
    out: dict[str, TileLayer] = {}
    geoms = empty
    kind = np.empty(0, dtype=str)
    names = empty
    if features is not None and len(features):
        geoms = np.asarray(features.geometry.to_numpy(), dtype=object)
        kind = features["kind"].astype(object).fillna("").astype(str).str.lower().to_numpy()
        names = (features["name"].astype(object).to_numpy() if "name" in features
                 else np.full(len(features), None, dtype=object))
        names = np.array([n if isinstance(n, str) and n.strip() else None for n in names],
                         dtype=object)
    water = np.isin(kind, list(WATER_KINDS))
    out["water"] = TileLayer.of(geoms[water], {"name": names[water]})
    river = np.isin(kind, list(RIVER_KINDS))
    out["river"] = TileLayer.of(geoms[river], {"name": names[river], "kind": kind[river]},
                                np.where(kind[river] == "stream", 11, 0))
    road = kind == "road"
    cls = (features["road_class"].astype(object).to_numpy()[road]
           if features is not None and "road_class" in features else np.full(road.sum(), None))
    cls = np.array([str(c).lower() if isinstance(c, str) and c else None for c in cls],
                   dtype=object)
    out["road"] = TileLayer.of(geoms[road], {"class": cls},
                               [_ROAD_MINZOOM.get(c, 11) if c else 11 for c in cls])
    bounds, level, bnames = [], [], []
    for lv, series in ((6, districts), (4, regions)):
        if series is not None and len(series):
            bounds.append(series.to_numpy(dtype=object))
            level.append(np.full(len(series), lv))
            bnames.append(np.asarray(series.index.astype(str), dtype=object))
    out["boundary"] = (TileLayer.of(np.concatenate(bounds), {"level": np.concatenate(level),
                                                            "name": np.concatenate(bnames)})
                       if bounds else TileLayer.of(empty))
    if mahallas is not None and len(mahallas):
        props = ({"name": mahallas["name"].astype(object).to_numpy()} if "name" in mahallas
                 else {})
        out["mahalla"] = TileLayer.of(mahallas.geometry.to_numpy(), props,
                                      np.full(len(mahallas), 10))
    else:
        out["mahalla"] = TileLayer.of(empty)
    place = np.isin(kind, list(PLACE_KINDS)) & (names != None)  # noqa: E711 (elementwise)
    pop = (pd.to_numeric(features["population"], errors="coerce").to_numpy()[place]
           if features is not None and "population" in features
           else np.full(int(place.sum()), np.nan))
    rank = np.where((kind[place] == "city") | (pop >= MAJOR_PLACE), 0,
                    np.where(pop >= 10_000, 1, 2))
    population = pop.astype(object)
    population[np.isnan(pop)] = None
    out["place"] = TileLayer.of(
        shapely.point_on_surface(geoms[place]) if place.any() else empty,
        {"name": names[place], "rank": rank, "population": population},
        np.array([0, 3, 4])[rank] if len(rank) else None)
    return out
